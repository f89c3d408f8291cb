// SPDX-License-Identifier: LGPL-2.1-or-later
// Using the plugin as any GStreamer source: grokimagine:// URIs in playbin
// and uridecodebin3, remuxing without re-encoding, tags, stream
// collections, buffering messages.
#include <gst/check/gstcheck.h>

#include "assert-string.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;

static const char *kPrompt = "A heron \"fishing\" at dawn & dusk";

static std::string job_uri(int duration) {
  g_autofree gchar *prompt = g_uri_escape_string(kPrompt, nullptr, FALSE);
  return std::string("grokimagine://video?provider=segmind&prompt=") + prompt +
         "&duration=" + std::to_string(duration);
}

// A URI cannot say where the key goes: the application points the source at
// the emulator from playbin's / uridecodebin3's source-setup, as it would
// restrict or configure a source it did not create itself.
static void point_at_emulator(GstElement *uri_element, const emu::Emulator &emulator) {
  g_signal_connect(uri_element, "source-setup",
                   G_CALLBACK(+[](GstElement *, GstElement *source, const emu::Emulator *emu) {
                     g_object_set(source, "api-url", emu->api_url().c_str(), "poll-interval", 100u,
                                  nullptr);
                   }),
                   const_cast<emu::Emulator *>(&emulator));
}

static GstElement *make_video_source(const emu::Emulator &emulator) {
  GstElement *source = gst_element_factory_make("grokimaginevideosrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", "segmind");
  g_object_set(source, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               nullptr);
  return source;
}

GST_START_TEST(test_uri_round_trip) {
  GstElement *first = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(first), "provider", "xai");
  gst_util_set_object_arg(G_OBJECT(first), "reference-images",
                          "<\"https://a.example/1.png\",\"https://b.example/two, three.png\">");
  g_object_set(first, "prompt", kPrompt, "duration", 9, "api-key", "sk-never-in-uris", "resolution",
               "720p", nullptr);
  g_autofree gchar *uri = gst_uri_handler_get_uri(GST_URI_HANDLER(first));
  fail_if(std::string(uri).find("sk-never-in-uris") != std::string::npos, "%s", uri);
  fail_unless(g_str_has_prefix(uri, "grokimagine://video?"), "%s", uri);

  GstElement *second = gst_element_make_from_uri(GST_URI_SRC, uri, nullptr, nullptr);
  fail_unless(second != nullptr, "no element for %s", uri);
  fail_unless(G_OBJECT_TYPE(second) == G_OBJECT_TYPE(first));
  for (const char *name :
       {"provider", "reference-images", "prompt", "duration", "resolution", "aspect-ratio"}) {
    GValue a = G_VALUE_INIT, b = G_VALUE_INIT;
    GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(first), name);
    g_value_init(&a, pspec->value_type);
    g_value_init(&b, pspec->value_type);
    g_object_get_property(G_OBJECT(first), name, &a);
    g_object_get_property(G_OBJECT(second), name, &b);
    fail_unless(gst_value_compare(&a, &b) == GST_VALUE_EQUAL, "%s differs after %s", name, uri);
    g_value_unset(&a);
    g_value_unset(&b);
  }
  gst_object_unref(first);
  gst_object_unref(second);
}
GST_END_TEST;

GST_START_TEST(test_uri_refusals) {
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  struct {
    const char *uri;
    const char *says;
  } cases[] = {
      {"grokimagine://video?prompt=x&api-key=secret", "environment variable"},
      {"grokimagine://video?prompt=x&colour=red", "unknown parameter 'colour'"},
      {"grokimagine://video?duration=long", "parameter 'duration' cannot be 'long'"},
      {"grokimagine://video?duration=99999999999", "parameter 'duration' cannot be"},
      {"grokimagine://image?prompt=x", "this element makes video"},
  };
  for (const auto &c : cases) {
    g_autoptr(GError) error = nullptr;
    fail_if(gst_uri_handler_set_uri(GST_URI_HANDLER(source), c.uri, &error), "%s", c.uri);
    fail_unless(error != nullptr);
    fail_unless(g_error_matches(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI));
    fail_unless(test::contains(error->message, c.says), "%s", error->message);
  }
  gst_object_unref(source);
}
GST_END_TEST;

// Plays a 1 s job's URI in playbin (pointed at `emulator` from source-setup
// when given); counts the video frames.
static RunResult play_in_playbin(const emu::Emulator *emulator, int *frames) {
  GstElement *playbin = gst_element_factory_make("playbin", nullptr);
  GstElement *video_sink = gst_element_factory_make("fakesink", nullptr);
  GstElement *audio_sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(video_sink, "signal-handoffs", TRUE, "sync", FALSE, nullptr);
  g_object_set(audio_sink, "sync", FALSE, nullptr);
  g_signal_connect(video_sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, int *n) { (*n)++; }),
                   frames);
  g_object_set(playbin, "uri", job_uri(1).c_str(), "video-sink", video_sink, "audio-sink",
               audio_sink, nullptr);
  if (emulator) point_at_emulator(playbin, *emulator);
  RunResult run = test::run_pipeline(playbin);
  gst_object_unref(playbin);
  return run;
}

GST_START_TEST(test_playbin_plays_a_prompt) {
  emu::Emulator emulator(test::quick_options());
  g_setenv("SEGMIND_API_KEY", emulator.options().api_key.c_str(), TRUE);
  int frames = 0;
  RunResult run = play_in_playbin(&emulator, &frames);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(frames, 24);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);
  g_unsetenv("SEGMIND_API_KEY");
}
GST_END_TEST;

// What a machine's owner can do for every URI it plays, with no
// source-setup handler: GROKIMAGINE_<PROVIDER>_API_URL chooses where the
// provider's jobs go (a URI still cannot), as the key comes from the
// environment; plain http stays for loopback, and an error names the
// variable.
GST_START_TEST(test_api_url_from_the_environment) {
  emu::Emulator emulator(test::quick_options());
  g_setenv("SEGMIND_API_KEY", emulator.options().api_key.c_str(), TRUE);
  g_setenv("GROKIMAGINE_SEGMIND_API_URL", emulator.api_url().c_str(), TRUE);
  int frames = 0;
  RunResult run = play_in_playbin(nullptr, &frames);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(frames, 24);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);

  // The key over plain http to a remote host: refused before anything is
  // sent, naming the variable, whatever set it.
  g_setenv("GROKIMAGINE_SEGMIND_API_URL", "http://192.0.2.1:9", TRUE);
  GstElement *pipeline =
      gst_parse_launch(("uridecodebin3 uri=\"" + job_uri(1) + "\" ! fakesink").c_str(), nullptr);
  run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.error.message, "an http API URL to a remote host was used");
  assert_str_eq(run.error_detail("reason"), "invalid-settings");
  fail_unless(run.error_text().find("GROKIMAGINE_SEGMIND_API_URL is 'http://192.0.2.1:9'") !=
                  std::string::npos,
              "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);
  g_unsetenv("GROKIMAGINE_SEGMIND_API_URL");
  g_unsetenv("SEGMIND_API_KEY");
}
GST_END_TEST;

GST_START_TEST(test_uridecodebin3_plays_a_prompt) {
  emu::Emulator emulator(test::quick_options());
  g_setenv("SEGMIND_API_KEY", emulator.options().api_key.c_str(), TRUE);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *decoder = gst_element_factory_make("uridecodebin3", nullptr);
  g_object_set(decoder, "uri", job_uri(2).c_str(), nullptr);
  point_at_emulator(decoder, emulator);
  gst_bin_add(GST_BIN(pipeline), decoder);
  test::StreamStats video, audio;
  test::attach_counting_sinks(pipeline, decoder, &video, &audio);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(video.buffers, 48);
  fail_unless(audio.audio_samples > 0);
  g_unsetenv("SEGMIND_API_KEY");
}
GST_END_TEST;

// Every sample of a stream of an MP4, concatenated, as qtdemux gives them.
static std::string samples(const std::string &path, const char *pad) {
  g_autofree gchar *description = g_strdup_printf(
      "filesrc location=%s ! qtdemux name=d d.%s ! fakesink name=sink "
      "signal-handoffs=true",
      path.c_str(), pad);
  GstElement *pipeline = gst_parse_launch(description, nullptr);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  std::string bytes;
  g_signal_connect(sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *buffer, GstPad *, std::string *out) {
                     GstMapInfo map;
                     gst_buffer_map(buffer, &map, GST_MAP_READ);
                     out->append(reinterpret_cast<const char *>(map.data), map.size);
                     gst_buffer_unmap(buffer, &map);
                   }),
                   &bytes);
  gst_object_unref(sink);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  return bytes;
}

// decode=false remuxed to MP4: the same H.264 and AAC samples as the
// provider's file, and the job's tags in the file's metadata. (The queues
// matter: one demuxer thread feeding a muxer deadlocks without them.)
GST_START_TEST(test_remux_without_reencoding) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string path = dir.path("remuxed.mp4");
  GstElement *pipeline =
      gst_parse_launch(("queue name=vq ! h264parse ! mp4mux name=m ! filesink location=" + path +
                        " queue name=aq ! aacparse ! m.")
                           .c_str(),
                       nullptr);
  GstElement *source = make_video_source(emulator);
  g_object_set(source, "decode", FALSE, "duration", 2, nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  g_signal_connect(source, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *pad, GstBin *bin) {
                     g_autofree gchar *name = gst_pad_get_name(pad);
                     GstElement *parser =
                         gst_bin_get_by_name(bin, g_str_has_prefix(name, "video_") ? "vq" : "aq");
                     g_autoptr(GstPad) sink = gst_element_get_static_pad(parser, "sink");
                     gst_object_unref(parser);
                     fail_unless_equals_int(gst_pad_link(pad, sink), GST_PAD_LINK_OK);
                   }),
                   pipeline);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());

  const std::string id = emulator.submits().at(0).request_id;
  const std::string original = emulator.clip_path(id);
  const std::string video = samples(path, "video_0");
  fail_unless(video.size() > 1000);
  fail_unless(video == samples(original, "video_0"), "the H.264 samples differ");
  fail_unless(samples(path, "audio_0") == samples(original, "audio_0"), "the AAC samples differ");

  std::string title, comment;
  GstElement *reader =
      gst_parse_launch(("filesrc location=" + path + " ! qtdemux ! fakesink").c_str(), nullptr);
  test::run_pipeline(reader, 30, [&](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_TAG) return;
    g_autoptr(GstTagList) tags = nullptr;
    gst_message_parse_tag(message, &tags);
    g_autofree gchar *t = nullptr, *c = nullptr;
    if (gst_tag_list_get_string(tags, GST_TAG_TITLE, &t)) title = t;
    if (gst_tag_list_get_string(tags, GST_TAG_COMMENT, &c)) comment = c;
  });
  gst_object_unref(reader);
  assert_str_eq(title, kPrompt);
  fail_unless(test::contains(comment, "request-id " + id), "%s", comment.c_str());
  fail_unless(test::contains(comment, "segmind"), "%s", comment.c_str());
}
GST_END_TEST;

// As uridecodebin3 does: a stream collection on the bus, and a GstStream of
// the right type in each pad's stream-start.
GST_START_TEST(test_stream_collection_and_streams) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *source = make_video_source(emulator);
  g_object_set(source, "duration", 1, nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  test::StreamStats video, audio;
  test::attach_counting_sinks(pipeline, source, &video, &audio);
  guint collected = 0;
  GstStreamType collected_types = GstStreamType(0);
  std::vector<std::string> checked;
  RunResult run = test::run_pipeline(pipeline, 60, [&](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_STREAM_COLLECTION) {
      g_autoptr(GstStreamCollection) collection = nullptr;
      gst_message_parse_stream_collection(message, &collection);
      collected = gst_stream_collection_get_size(collection);
      for (guint i = 0; i < collected; i++)
        collected_types =
            GstStreamType(collected_types | gst_stream_get_stream_type(
                                                gst_stream_collection_get_stream(collection, i)));
    }
    if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_EOS) return;
    // The pads are still there at EOS.
    for (const char *name : {"video_0", "audio_0"}) {
      g_autoptr(GstPad) pad = gst_element_get_static_pad(source, name);
      fail_unless(pad != nullptr, "no %s pad", name);
      g_autoptr(GstEvent) start = gst_pad_get_sticky_event(pad, GST_EVENT_STREAM_START, 0);
      fail_unless(start != nullptr);
      g_autoptr(GstStream) stream = nullptr;
      gst_event_parse_stream(start, &stream);
      fail_unless(stream != nullptr, "%s has no GstStream", name);
      fail_unless(
          gst_stream_get_stream_type(stream) ==
          (g_str_has_prefix(name, "video") ? GST_STREAM_TYPE_VIDEO : GST_STREAM_TYPE_AUDIO));
      checked.push_back(name);
    }
  });
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(collected, 2);
  fail_unless(collected_types == (GST_STREAM_TYPE_VIDEO | GST_STREAM_TYPE_AUDIO));
  fail_unless_equals_int(checked.size(), 2);
  gst_object_unref(pipeline);
}
GST_END_TEST;

GST_START_TEST(test_buffering_while_downloading) {
  emu::Emulator emulator(test::quick_options());
  emu::Fault slow;
  slow.phase = emu::Phase::Download;
  slow.delay_ms = 400;
  emulator.add_fault(slow);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *source = make_video_source(emulator);
  g_object_set(source, "duration", 1, nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  test::StreamStats video, audio;
  test::attach_counting_sinks(pipeline, source, &video, &audio);
  std::vector<int> percents;
  RunResult run = test::run_pipeline(pipeline, 60, [&](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_BUFFERING) return;
    int percent = 0;
    gst_message_parse_buffering(message, &percent);
    percents.push_back(percent);
  });
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless(percents.size() >= 2, "%zu buffering messages", percents.size());
  fail_unless(percents.front() < 100, "first buffering message says %d%%", percents.front());
  fail_unless_equals_int(percents.back(), 100);
}
GST_END_TEST;

// gst-launch holds a prerolled pipeline in PAUSED until every progress
// message sequence completes. In PAUSED the sink holds the source's
// create() back after the first buffer, so the download's "complete" must
// come from the download itself, or `grokimaginesrc ! filesink` waits for
// ever on a clip that takes longer to download than to preroll.
GST_START_TEST(test_download_completes_while_paused) {
  emu::Options options = test::quick_options();
  options.cdn_rate_bytes_per_s = 200 * 1024;  // a few seconds for the clip
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", "segmind");
  g_object_set(source, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               "duration", 2, nullptr);
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  GstBus *bus = gst_element_get_bus(pipeline);
  std::vector<std::string> progress;
  bool complete = false;
  const gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (!complete && g_get_monotonic_time() < deadline) {
    GstMessage *message = gst_bus_timed_pop_filtered(
        bus, GST_SECOND, GstMessageType(GST_MESSAGE_PROGRESS | GST_MESSAGE_ERROR));
    if (!message) continue;
    fail_if(GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR, "error while paused");
    GstProgressType type;
    gchar *code = nullptr, *text = nullptr;
    gst_message_parse_progress(message, &type, &code, &text);
    progress.push_back(text);
    complete = type == GST_PROGRESS_TYPE_COMPLETE;
    g_free(code);
    g_free(text);
    gst_message_unref(message);
  }
  GstState state = GST_STATE_NULL;
  gst_element_get_state(pipeline, &state, nullptr, 0);
  fail_unless(complete, "no complete progress in PAUSED; last: %s",
              progress.empty() ? "none" : progress.back().c_str());
  assert_str_eq(progress.back(), "Clip downloaded");
  fail_unless_equals_int(state, GST_STATE_PAUSED);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}
GST_END_TEST;

// gst-launch pauses the pipeline for each buffering cycle: none once the
// download is complete (the end of the clip is not waited for).
GST_START_TEST(test_no_buffering_once_downloaded) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", "segmind");
  g_object_set(source, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               "duration", 2, nullptr);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *sink = gst_element_factory_make("filesink", nullptr);
  g_object_set(sink, "location", dir.path("clip.mp4").c_str(), nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  bool complete = false;
  int cycles_after = 0;
  RunResult run = test::run_pipeline(pipeline, 60, [&](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_PROGRESS) {
      GstProgressType type;
      gst_message_parse_progress(message, &type, nullptr, nullptr);
      complete = complete || type == GST_PROGRESS_TYPE_COMPLETE;
    } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_BUFFERING && complete) {
      int percent = 100;
      gst_message_parse_buffering(message, &percent);
      if (percent < 100) cycles_after++;
    }
  });
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless(complete);
  fail_unless_equals_int(cycles_after, 0);
}
GST_END_TEST;

static Suite *native_suite() {
  Suite *s = suite_create("native");
  TCase *tc = tcase_create("native");
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  tcase_add_test(tc, test_uri_round_trip);
  tcase_add_test(tc, test_uri_refusals);
  tcase_add_test(tc, test_playbin_plays_a_prompt);
  tcase_add_test(tc, test_uridecodebin3_plays_a_prompt);
  tcase_add_test(tc, test_api_url_from_the_environment);
  tcase_add_test(tc, test_remux_without_reencoding);
  tcase_add_test(tc, test_stream_collection_and_streams);
  tcase_add_test(tc, test_buffering_while_downloading);
  tcase_add_test(tc, test_download_completes_while_paused);
  tcase_add_test(tc, test_no_buffering_once_downloaded);
  return s;
}

GST_CHECK_MAIN(native);
