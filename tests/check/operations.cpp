// SPDX-License-Identifier: LGPL-2.1-or-later
// xAI's operations beyond text- and image-to-video, end to end through the
// elements against the emulator: extend (output full and continuation),
// edit, request:ID inputs, the Files API for large local inputs,
// keyframes, generate-audio=false, and every refusal before anything is
// sent.
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include <array>
#include <cstdint>

#include "assert-string.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;

static const char *kPrompt = "The ball keeps rolling";

static emu::Options xai_options() {
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  return options;
}

static GstElement *make_element(const char *factory, const emu::Emulator &emulator,
                                const char *provider = "xai") {
  return test::make_element(factory, emulator, provider, kPrompt);
}

// A red 320x240 H.264 MP4 of `seconds` at 24 fps, with `padding` bytes of a
// trailing `free` box (to pass the inline limit without encoding more).
static std::string make_red_mp4(const test::TempDir &dir, const char *name, int seconds,
                                std::size_t padding = 0) {
  const std::string path = dir.path(name);
  const std::string description =
      "videotestsrc pattern=solid-color foreground-color=0xffff0000 num-buffers=" +
      std::to_string(seconds * 24) +
      " ! video/x-raw,width=320,height=240,framerate=24/1 ! videoconvert ! x264enc "
      "speed-preset=ultrafast key-int-max=24 ! h264parse ! mp4mux ! filesink location=" +
      path;
  GstElement *pipeline = gst_parse_launch(description.c_str(), nullptr);
  fail_unless(pipeline != nullptr);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "encoding the input: %s", run.error_text().c_str());
  if (padding > 0) {
    std::string file = test::read_file(path);
    const std::uint32_t size = std::uint32_t(padding + 8);
    const char head[8] = {
        char(size >> 24), char(size >> 16), char(size >> 8), char(size), 'f', 'r', 'e', 'e'};
    file.append(head, 8);
    file.append(padding, '\0');
    fail_unless(g_file_set_contents(path.c_str(), file.data(), gssize(file.size()), nullptr));
  }
  return path;
}

// What left a grokimaginevideosrc: each video frame's top-left pixel (RGB)
// and how many audio pads appeared.
struct Played {
  RunResult run;
  std::vector<std::array<int, 3>> corners;
  int audio_pads = 0;
  int width = 0, height = 0;
  guint64 tag_duration = 0;  // the job's GST_TAG_DURATION on the video pad
  int red_frames() const {
    int red = 0;
    for (const auto &c : corners) red += c[0] > 150 && c[1] < 90 && c[2] < 90;
    return red;
  }
};

static GstPadProbeReturn read_corner(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *played = static_cast<Played *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstMapInfo map;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    if (map.size >= 3) played->corners.push_back({map.data[0], map.data[1], map.data[2]});
    gst_buffer_unmap(buffer, &map);
  }
  if (played->width == 0) {
    g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
    GstStructure *s = gst_caps_get_structure(caps, 0);
    gst_structure_get_int(s, "width", &played->width);
    gst_structure_get_int(s, "height", &played->height);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn read_tags(GstPad *, GstPadProbeInfo *info, gpointer data) {
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) == GST_EVENT_TAG) {
    GstTagList *tags = nullptr;
    gst_event_parse_tag(event, &tags);
    gst_tag_list_get_uint64(tags, GST_TAG_DURATION, &static_cast<Played *>(data)->tag_duration);
  }
  return GST_PAD_PROBE_OK;
}

static void on_pad_added(GstElement *source, GstPad *pad, Played *played) {
  GstElement *pipeline = GST_ELEMENT(gst_element_get_parent(source));
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, nullptr);
  gst_bin_add(GST_BIN(pipeline), sink);
  if (g_str_has_prefix(GST_PAD_NAME(pad), "video")) {
    GstElement *convert = gst_element_factory_make("videoconvert", nullptr);
    GstElement *filter = gst_element_factory_make("capsfilter", nullptr);
    g_autoptr(GstCaps) rgb = gst_caps_from_string("video/x-raw,format=RGBx");
    g_object_set(filter, "caps", rgb, nullptr);
    gst_bin_add_many(GST_BIN(pipeline), convert, filter, nullptr);
    gst_element_link_many(convert, filter, sink, nullptr);
    g_autoptr(GstPad) sink_pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(sink_pad, GST_PAD_PROBE_TYPE_BUFFER, read_corner, played, nullptr);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, read_tags, played, nullptr);
    g_autoptr(GstPad) in = gst_element_get_static_pad(convert, "sink");
    gst_pad_link(pad, in);
    gst_element_sync_state_with_parent(convert);
    gst_element_sync_state_with_parent(filter);
  } else {
    played->audio_pads++;
    g_autoptr(GstPad) in = gst_element_get_static_pad(sink, "sink");
    gst_pad_link(pad, in);
  }
  gst_element_sync_state_with_parent(sink);
  gst_object_unref(pipeline);
}

static Played play(GstElement *source) {
  Played played;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  g_signal_connect(source, "pad-added", G_CALLBACK(on_pad_added), &played);
  played.run = test::run_pipeline(pipeline, 90);
  gst_object_unref(pipeline);
  return played;
}

static void near_frames(int got, int want) {
  fail_unless(got >= want - 1 && got <= want + 1, "%d frames, expected %d", got, want);
}

GST_START_TEST(test_extend_a_local_clip) {
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  const std::string input = make_red_mp4(dir, "in.mp4", 2);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(source), "operation", "extend");
  g_object_set(source, "video", input.c_str(), "duration", 2, nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  // The result is the input (2 s, red) followed by 2 new seconds.
  near_frames(int(played.corners.size()), 96);
  fail_unless_equals_int(played.width, 320);
  fail_unless_equals_int(played.height, 240);
  near_frames(played.red_frames(), 48);
  for (int i = 0; i < 46; i++) fail_unless(played.corners[i][0] > 150, "frame %d not the input", i);
  for (size_t i = 50; i < played.corners.size(); i++)
    fail_unless(played.corners[i][0] < 90, "frame %zu is the input's", i);
  fail_unless(played.audio_pads == 1);
  // The job's duration tag is the whole result's: input then new seconds.
  fail_unless_equals_uint64(played.tag_duration, 4 * GST_SECOND);
  auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 1);
  assert_str_eq(submits[0].path, "/v1/videos/extensions");
  assert_str_eq(submits[0].video_source, "data");  // small: inline
  fail_unless(submits[0].video_seconds > 1.9 && submits[0].video_seconds < 2.1);
  fail_unless_equals_int(emulator.counters().uploads, 0);
}
GST_END_TEST;

GST_START_TEST(test_extend_output_continuation) {
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  const std::string input = make_red_mp4(dir, "in.mp4", 2);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(source), "operation", "extend");
  gst_util_set_object_arg(G_OBJECT(source), "output", "continuation");
  g_object_set(source, "video", input.c_str(), "duration", 3, nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  // Only the 3 new seconds, none of the input's red frames.
  near_frames(int(played.corners.size()), 72);
  fail_unless(played.red_frames() <= 1, "%d of the input's frames played", played.red_frames());
  fail_unless_equals_uint64(played.tag_duration, 3 * GST_SECOND);

  // Where bytes or samples pass untouched, it cannot be honoured: refused.
  GstElement *bytes = make_element("grokimaginesrc", emulator);
  gst_util_set_object_arg(G_OBJECT(bytes), "operation", "extend");
  gst_util_set_object_arg(G_OBJECT(bytes), "output", "continuation");
  g_object_set(bytes, "video", input.c_str(), nullptr);
  RunResult refused = test::run_failing(bytes);
  fail_unless(test::contains(refused.error_text(), "Property 'output' is 'continuation'"), "%s",
              refused.error_text().c_str());
  GstElement *samples = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(samples), "operation", "extend");
  gst_util_set_object_arg(G_OBJECT(samples), "output", "continuation");
  g_object_set(samples, "video", input.c_str(), "decode", FALSE, nullptr);
  Played not_played = play(samples);
  fail_unless(test::contains(not_played.run.error_text(), "decode=false"), "%s",
              not_played.run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

GST_START_TEST(test_continuation_of_a_remote_clip) {
  // A URL's length is not known before the job: the continuation starts at
  // the result's length less the seconds asked for.
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  test::FileServer server("/in.mp4", "video/mp4", test::read_file(make_red_mp4(dir, "in.mp4", 2)));
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(source), "operation", "extend");
  gst_util_set_object_arg(G_OBJECT(source), "output", "continuation");
  g_object_set(source, "video", (server.url() + "/in.mp4").c_str(), "duration", 2, nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  near_frames(int(played.corners.size()), 48);
  fail_unless(played.red_frames() <= 1, "%d of the input's frames played", played.red_frames());
  assert_str_eq(emulator.submits().at(0).video_source, "url");
}
GST_END_TEST;

GST_START_TEST(test_edit_restyles_a_clip) {
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  const std::string input = make_red_mp4(dir, "in.mp4", 2);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(source), "operation", "edit");
  const std::string uri = "file://" + input;
  g_object_set(source, "video", uri.c_str(), nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  // As long as the input, the same size, and restyled (the emulator's
  // style: no colour left).
  near_frames(int(played.corners.size()), 48);
  fail_unless_equals_int(played.width, 320);
  fail_unless_equals_int(played.red_frames(), 0);
  fail_unless_equals_uint64(played.tag_duration, 2 * GST_SECOND);
  const auto &c = played.corners.front();
  fail_unless(std::abs(c[0] - c[1]) < 25 && c[0] > 30, "not restyled: %d,%d,%d", c[0], c[1], c[2]);
  assert_str_eq(emulator.submits().at(0).path, "/v1/videos/edits");
}
GST_END_TEST;

GST_START_TEST(test_refused_before_sending) {
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  const std::string short_clip = make_red_mp4(dir, "one.mp4", 1);
  const std::string long_clip = make_red_mp4(dir, "nine.mp4", 9);
  struct Case {
    const char *provider, *operation, *video;
    const char *expected;
  };
  const Case cases[] = {
      {"segmind", "extend", long_clip.c_str(),
       "Property 'operation' is 'extend': segmind only generates"},
      {"aimlapi", "edit", short_clip.c_str(),
       "Property 'operation' is 'edit': aimlapi only generates"},
      {"xai", "edit", long_clip.c_str(), "xai edits videos of at most 8.7 s"},
      {"xai", "extend", short_clip.c_str(), "xai extends videos of 2 to 15 s"},
      {"xai", "extend", "", "Property 'video' is empty: operation=extend"},
      {"xai", "generate", short_clip.c_str(), "Property 'video' is set but 'operation'"},
      {"xai", "extend", "/nonexistent/clip.mp4", "Property 'video': cannot read"},
      {"xai", "extend", "data:video/mp4;base64,AAAA", "Property 'video' is 'data:video"},
  };
  for (const Case &c : cases) {
    GstElement *source = make_element("grokimaginesrc", emulator, c.provider);
    gst_util_set_object_arg(G_OBJECT(source), "operation", c.operation);
    g_object_set(source, "video", c.video, nullptr);
    RunResult run = test::run_failing(source);
    assert_str_eq(run.error_detail("reason"), "invalid-settings");
    fail_unless(test::contains(run.error_text(), c.expected), "%s: %s", c.expected,
                run.error_text().c_str());
  }
  // Per model: extension is grok-imagine-video's; 1080p and reference
  // audios are 1.5's; at most 4 keyframes; extensions add 2 to 10 s.
  GstElement *model = make_element("grokimaginesrc", emulator);
  gst_util_set_object_arg(G_OBJECT(model), "operation", "extend");
  g_object_set(model, "video", long_clip.c_str(), "model", "grok-imagine-video-1.5", nullptr);
  fail_unless(test::contains(test::run_failing(model).error_text(),
                             "xai extends videos with grok-imagine-video only"));
  GstElement *longer = make_element("grokimaginesrc", emulator);
  gst_util_set_object_arg(G_OBJECT(longer), "operation", "extend");
  g_object_set(longer, "video", long_clip.c_str(), "duration", 12, nullptr);
  fail_unless(test::contains(test::run_failing(longer).error_text(),
                             "Property 'duration' is 12: xai allows 2 to 10"));
  GstElement *keyframes = make_element("grokimaginesrc", emulator);
  const std::string png = test::make_png(16, 16);
  const std::string five =
      "<0:" + png + ",1:" + png + ",2:" + png + ",3:" + png + ",4:" + png + ">";
  gst_util_set_object_arg(G_OBJECT(keyframes), "keyframes", five.c_str());
  fail_unless(test::contains(test::run_failing(keyframes).error_text(),
                             "Property 'keyframes' has 5 entries: xai allows at most 4"));
  GstElement *audios = make_element("grokimaginesrc", emulator);
  gst_util_set_object_arg(G_OBJECT(audios), "reference-audios", "<https://example.com/a.mp3>");
  fail_unless(test::contains(test::run_failing(audios).error_text(),
                             "grok-imagine-video takes no reference audios"));
  GstElement *silent = make_element("grokimaginesrc", emulator, "segmind");
  g_object_set(silent, "generate-audio", FALSE, nullptr);
  fail_unless(test::contains(test::run_failing(silent).error_text(),
                             "Property 'generate-audio' is false: segmind"));
  fail_unless_equals_int(emulator.counters().submits_total, 0);
  fail_unless_equals_int(emulator.counters().uploads, 0);
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_extend_an_earlier_job) {
  emu::Emulator emulator(xai_options());
  GstElement *first = make_element("grokimaginevideosrc", emulator);
  g_object_set(first, "duration", 2, nullptr);
  Played generated = play(first);
  fail_unless(generated.run.eos, "%s", generated.run.error_text().c_str());
  const std::string id = emulator.submits().at(0).request_id;
  const int polls = emulator.counters().status_polls;

  GstElement *source = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(source), "operation", "extend");
  const std::string video = "request:" + id;
  g_object_set(source, "video", video.c_str(), "duration", 2, nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  near_frames(int(played.corners.size()), 96);
  auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 2);
  // The URL was asked for with a status request of the same key, and sent.
  assert_str_eq(submits[1].video_source, "url");
  fail_unless(test::contains(submits[1].body, emulator.cdn_url() + "/videos/" + id), "%s",
              submits[1].body.c_str());
  fail_unless(emulator.counters().status_polls > polls + 1);
  fail_unless_equals_int(emulator.counters().cdn_requests_with_key, 0);

  // An id the provider does not know: refused, nothing submitted.
  GstElement *unknown = make_element("grokimaginesrc", emulator);
  gst_util_set_object_arg(G_OBJECT(unknown), "operation", "extend");
  g_object_set(unknown, "video", "request:no-such-job", nullptr);
  RunResult run = test::run_failing(unknown);
  fail_unless(test::contains(run.error_text(), "Property 'video' is 'request:no-such-job'"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 2);
}
GST_END_TEST;

// A POST of `body` to the emulator's `path`, with the key: the status.
static guint post_json(const emu::Emulator &emulator, const std::string &path,
                       const std::string &body, std::string *answer) {
  g_autoptr(SoupSession) session = soup_session_new();
  g_autoptr(SoupMessage) message = soup_message_new("POST", (emulator.api_url() + path).c_str());
  soup_message_headers_replace(soup_message_get_request_headers(message), "Authorization",
                               ("Bearer " + emulator.options().api_key).c_str());
  g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
  soup_message_set_request_body_from_bytes(message, "application/json", bytes);
  g_autoptr(GBytes) reply = soup_session_send_and_read(session, message, nullptr, nullptr);
  if (reply)
    answer->assign(static_cast<const char *>(g_bytes_get_data(reply, nullptr)),
                   g_bytes_get_size(reply));
  return soup_message_get_status(message);
}

GST_START_TEST(test_large_input_goes_through_the_files_api) {
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  // Over the 5 MiB inline limit.
  const std::string input = make_red_mp4(dir, "big.mp4", 2, 6 * 1024 * 1024);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  gst_util_set_object_arg(G_OBJECT(source), "operation", "extend");
  g_object_set(source, "video", input.c_str(), "duration", 2, nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  near_frames(played.red_frames(), 48);
  auto files = emulator.files();
  fail_unless_equals_int(files.size(), 1);
  fail_unless_equals_int(files[0].bytes, gint64(test::read_file(input).size()));
  assert_str_eq(files[0].content_type, "video/mp4");
  auto submit = emulator.submits().at(0);
  assert_str_eq(submit.video_source, "file_id");
  fail_unless(test::contains(submit.body, files[0].id), "%s", submit.body.c_str());
  fail_unless(submit.body.size() < 4096, "the video went inline");
  // Deleted once the job is done; a submit naming it now is refused.
  fail_unless(files[0].deleted, "the uploaded file was not deleted");
  fail_unless_equals_int(emulator.counters().file_deletes, 1);
  std::string answer;
  const guint status = post_json(
      emulator, "/v1/videos/extensions",
      R"({"model":"grok-imagine-video","prompt":"x","video":{"file_id":")" + files[0].id + "\"}}",
      &answer);
  fail_unless_equals_int(status, 400);
  fail_unless(test::contains(answer, "deleted"), "%s", answer.c_str());
}
GST_END_TEST;

GST_START_TEST(test_uploaded_input_resumes_by_content) {
  // The journal's fingerprint names an uploaded input by its content, not
  // by the file id an upload gives: a rerun follows the job.
  emu::Options options = xai_options();
  // Long enough that the first run's deadline (3 s, after its upload and
  // submit even on a loaded machine) passes while the job is generating.
  options.generation_ms = 10000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  const std::string input = make_red_mp4(dir, "big.mp4", 2, 6 * 1024 * 1024);
  const std::string journal = dir.path("journal");
  auto make = [&](guint timeout) {
    GstElement *source = make_element("grokimaginesrc", emulator);
    gst_util_set_object_arg(G_OBJECT(source), "operation", "extend");
    g_object_set(source, "video", input.c_str(), "duration", 2, "journal", journal.c_str(),
                 "timeout", timeout, nullptr);
    return source;
  };
  RunResult first = test::run_failing(make(3));
  assert_str_eq(first.error_detail("reason"), "timeout");
  // The job may still need its input: kept.
  fail_unless_equals_int(emulator.counters().file_deletes, 0);
  RunResult second = test::run_pipeline(test::pipeline_with_sink(make(60)));
  fail_unless(second.eos, "%s", second.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless_equals_int(emulator.counters().uploads, 1);
  fail_unless(!second.job_statuses.empty());
  assert_str_eq(second.job_statuses.front(), "RESUMED");
  // The resuming run knew the upload from the journal and deleted it.
  fail_unless_equals_int(emulator.counters().file_deletes, 1);
  fail_unless(emulator.files().at(0).deleted);
}
GST_END_TEST;

GST_START_TEST(test_keyframes_and_no_audio) {
  emu::Emulator emulator(xai_options());
  const std::string png = test::make_png(32, 32);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  const std::string keyframes = "<0:" + png + ",1.5:file://" + png + ">";
  // gst-launch's syntax, as a user writes it.
  gst_util_set_object_arg(G_OBJECT(source), "keyframes", keyframes.c_str());
  g_object_set(source, "duration", 2, "generate-audio", FALSE, nullptr);
  Played played = play(source);
  fail_unless(played.run.eos, "%s", played.run.error_text().c_str());
  near_frames(int(played.corners.size()), 48);
  // No audio track: no audio pad, and nothing waited for one.
  fail_unless_equals_int(played.audio_pads, 0);
  auto submit = emulator.submits().at(0);
  fail_unless_equals_int(submit.keyframes, 2);
  fail_unless(!submit.generate_audio);
  fail_unless(test::contains(submit.body, "\"timestamp_s\":1.5"), "%s", submit.body.c_str());

  // Reference audios, where the model takes them (1.5).
  GstElement *voiced = make_element("grokimaginesrc", emulator);
  gst_util_set_object_arg(G_OBJECT(voiced), "reference-audios",
                          "<https://example.com/voice.mp3,https://example.com/music.mp3>");
  g_object_set(voiced, "duration", 1, "model", "grok-imagine-video-1.5", nullptr);
  RunResult run = test::run_pipeline(test::pipeline_with_sink(voiced));
  fail_unless(run.eos, "%s", run.error_text().c_str());
  const std::string body = emulator.submits().at(1).body;
  fail_unless(
      test::contains(body, "\"reference_audios\":[{\"url\":\"https://example.com/voice.mp3\"}"),
      "%s", body.c_str());
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_uri_may_not_name_a_local_video) {
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  GError *error = nullptr;
  fail_if(gst_uri_handler_set_uri(
      GST_URI_HANDLER(source), "grokimagine://video?operation=extend&video=/etc/passwd", &error));
  fail_unless(error && test::contains(error->message, "not local files"), "%s",
              error ? error->message : "");
  g_clear_error(&error);
  fail_if(gst_uri_handler_set_uri(GST_URI_HANDLER(source),
                                  "grokimagine://video?operation=edit&video=file:///tmp/a.mp4",
                                  &error));
  g_clear_error(&error);
  fail_unless(gst_uri_handler_set_uri(
                  GST_URI_HANDLER(source),
                  "grokimagine://video?prompt=x&operation=extend&output=full&video=request:abc"
                  "&generate-audio=false",
                  &error),
              "%s", error ? error->message : "");
  gchar *video = nullptr;
  g_object_get(source, "video", &video, nullptr);
  assert_str_eq(video, "request:abc");
  g_free(video);
  fail_unless(gst_uri_handler_set_uri(GST_URI_HANDLER(source),
                                      "grokimagine://video?prompt=x&operation=edit&video="
                                      "https%3A%2F%2Fexample.com%2Fa.mp4",
                                      &error));
  gst_object_unref(source);
}
GST_END_TEST;

static Suite *operations_suite() {
  Suite *s = suite_create("operations");
  TCase *tc = tcase_create("xai");
  tcase_set_timeout(tc, 180);
  suite_add_tcase(s, tc);
  tcase_add_test(tc, test_extend_a_local_clip);
  tcase_add_test(tc, test_extend_output_continuation);
  tcase_add_test(tc, test_continuation_of_a_remote_clip);
  tcase_add_test(tc, test_edit_restyles_a_clip);
  tcase_add_test(tc, test_refused_before_sending);
  tcase_add_test(tc, test_extend_an_earlier_job);
  tcase_add_test(tc, test_large_input_goes_through_the_files_api);
  tcase_add_test(tc, test_uploaded_input_resumes_by_content);
  tcase_add_test(tc, test_keyframes_and_no_audio);
  tcase_add_test(tc, test_uri_may_not_name_a_local_video);
  return s;
}

GST_CHECK_MAIN(operations);
