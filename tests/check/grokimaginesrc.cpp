// SPDX-License-Identifier: LGPL-2.1-or-later
// grokimaginesrc and grokimaginevideosrc end to end against the emulator:
// real HTTP, real H.264/AAC MP4s, real decoders.
#include <gst/check/gstcheck.h>

#include "assert-string.h"

#include <glib/gstdio.h>

#include <mutex>
#include <thread>

#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;
using test::StreamStats;

static const char *kPrompt = "A dog running on a sunlit beach";

static GstElement *make_element(const char *factory, const emu::Emulator &emulator) {
  return test::make_element(factory, emulator, "segmind", kPrompt, "g");
}

struct Decoded {
  RunResult run;
  StreamStats video, audio;
};

// grokimaginevideosrc with every pad counted into a fakesink.
static Decoded decode_with(GstElement *source, int timeout_s = 90) {
  Decoded decoded;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  test::attach_counting_sinks(pipeline, source, &decoded.video, &decoded.audio);
  decoded.run = test::run_pipeline(pipeline, timeout_s);
  gst_object_unref(pipeline);
  return decoded;
}

static void assert_clip(const Decoded &d, int width, int height, int seconds) {
  fail_unless(d.run.eos, "no EOS: %s", d.run.error_text().c_str());
  fail_unless_equals_int(d.video.width, width);
  fail_unless_equals_int(d.video.height, height);
  const guint64 frame = GST_SECOND / 24;
  const guint64 expected = guint64(seconds) * GST_SECOND;
  fail_unless(d.video.end_time + frame >= expected && d.video.end_time <= expected + frame,
              "video ends at %" GST_TIME_FORMAT ", expected %" GST_TIME_FORMAT,
              GST_TIME_ARGS(d.video.end_time), GST_TIME_ARGS(expected));
  fail_unless(d.video.buffers >= seconds * 24 - 1 && d.video.buffers <= seconds * 24,
              "%d video frames", d.video.buffers);
  fail_unless(d.audio.rate > 0, "no audio");
  const double audio_seconds = double(d.audio.audio_samples) / d.audio.rate;
  fail_unless(audio_seconds > seconds - 1.0 / 24 && audio_seconds < seconds + 1.0 / 24,
              "audio lasts %f s", audio_seconds);
}

GST_START_TEST(test_text_to_video_decoded) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 3, nullptr);
  Decoded d = decode_with(source);
  assert_clip(d, 848, 480, 3);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);
  fail_unless_equals_int(emulator.counters().cdn_requests_with_key, 0);
  for (const auto &header : emulator.cdn_request_headers())
    fail_if(header.find(emulator.options().api_key) != std::string::npos, "%s", header.c_str());

  // The request id is posted first, then each status change.
  fail_unless(!d.run.job_statuses.empty());
  assert_str_eq(d.run.job_statuses.front(), "SUBMITTED");
  assert_str_eq(d.run.job_statuses.back(), "COMPLETED");
  const std::string id = emulator.submits().at(0).request_id;
  for (const auto &posted : d.run.job_request_ids) assert_str_eq(posted, id);
  assert_str_eq(d.run.progress_codes.front(), "start");
  assert_str_eq(d.run.progress_codes.back(), "complete");
}
GST_END_TEST;

GST_START_TEST(test_vertical_720p_size) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 1, "resolution", "720p", "aspect-ratio", "9:16", nullptr);
  assert_clip(decode_with(source), 720, 1280, 1);
}
GST_END_TEST;

GST_START_TEST(test_moov_at_end_plays) {
  emu::Options options = test::quick_options();
  options.moov_at_end = true;
  emu::Emulator emulator(options);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 2, nullptr);
  assert_clip(decode_with(source), 848, 480, 2);
  const std::string clip = test::read_file(emulator.clip_path(emulator.submits().at(0).request_id));
  fail_unless(clip.find("moov") > clip.find("mdat"), "the served clip is faststart");
}
GST_END_TEST;

// `grokimaginesrc ! qtdemux` with the moov last: qtdemux must seek to it in
// push mode, which needs a seekable source of known size.
GST_START_TEST(test_qtdemux_directly_moov_at_end) {
  emu::Options options = test::quick_options();
  options.moov_at_end = true;
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_parse_launch(
      "grokimaginesrc provider=segmind name=g ! qtdemux name=d "
      "d.video_0 ! queue ! h264parse ! fakesink name=v d.audio_0 ! queue ! fakesink",
      nullptr);
  GstElement *source = gst_bin_get_by_name(GST_BIN(pipeline), "g");
  g_object_set(source, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               "duration", 2, nullptr);
  gst_object_unref(source);
  StreamStats video;
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "v");
  GstPad *pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *, gpointer data) {
        static_cast<StreamStats *>(data)->buffers++;
        return GST_PAD_PROBE_OK;
      },
      &video, nullptr);
  gst_object_unref(pad);
  gst_object_unref(sink);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(video.buffers, 48);
}
GST_END_TEST;

GST_START_TEST(test_image_to_video_local_file) {
  emu::Emulator emulator(test::quick_options());
  const std::string png = test::make_png(64, 48);
  const std::string bytes = test::read_file(png);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 1, "image", png.c_str(), "prompt", nullptr, nullptr);
  assert_clip(decode_with(source), 848, 480, 1);
  auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 1);
  fail_unless_equals_int(submits[0].image_bytes, gint64(bytes.size()));
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_image_to_video_url) {
  emu::Emulator emulator(test::quick_options());
  // A real HTTP server holds the image; the emulator fetches it as Segmind would.
  const std::string png = test::make_png(32, 32);
  const std::string bytes = test::read_file(png);
  test::FileServer server("/cat.png", "image/png", bytes);
  const std::string url = server.url() + "/cat.png";

  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 1, "image", url.c_str(), nullptr);
  assert_clip(decode_with(source), 848, 480, 1);
  auto submits = emulator.submits();
  fail_unless(submits.at(0).body.find(url) != std::string::npos, "%s", submits[0].body.c_str());
  fail_unless_equals_int(submits[0].image_bytes, gint64(bytes.size()));
  g_unlink(png.c_str());
}
GST_END_TEST;

// The bytes a pipeline wrote must be the provider's clip, and qtdemux must
// find its two streams.
static void assert_same_mp4(const std::string &path, const emu::Emulator &emulator) {
  const std::string written = test::read_file(path);
  const std::string served =
      test::read_file(emulator.clip_path(emulator.submits().at(0).request_id));
  fail_unless(!served.empty());
  fail_unless(written == served, "wrote %zu bytes, the clip has %zu", written.size(),
              served.size());
  g_autofree gchar *description = g_strdup_printf(
      "filesrc location=%s ! qtdemux name=d d.video_0 ! queue ! fakesink d.audio_0 ! queue ! "
      "fakesink",
      path.c_str());
  GstElement *pipeline = gst_parse_launch(description, nullptr);
  RunResult demuxed = test::run_pipeline(pipeline);
  fail_unless(demuxed.eos, "qtdemux: %s", demuxed.error_text().c_str());
  gst_object_unref(pipeline);
}

GST_START_TEST(test_filesink_writes_the_clip) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string path = dir.path("clip.mp4");
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *source = make_element("grokimaginesrc", emulator);
  GstElement *sink = gst_element_factory_make("filesink", nullptr);
  g_object_set(source, "duration", 2, nullptr);
  g_object_set(sink, "location", path.c_str(), nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  RunResult run = test::run_pipeline(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  gst_object_unref(pipeline);
  assert_same_mp4(path, emulator);
}
GST_END_TEST;

GST_START_TEST(test_many_sources_in_one_process) {
  // Every element shares one HTTP session: a finished download must hand
  // its connection back, or the third download from one CDN never starts.
  emu::Emulator emulator(test::quick_options());
  const int count = 6;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  for (int i = 0; i < count; i++) {
    GstElement *source = make_element("grokimaginesrc", emulator);
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    gst_object_set_name(GST_OBJECT(source), ("g" + std::to_string(i)).c_str());
    g_object_set(source, "duration", 1, nullptr);
    gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
    fail_unless(gst_element_link(source, sink));
  }
  RunResult run = test::run_pipeline(pipeline, 30);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  gst_object_unref(pipeline);
  fail_unless_equals_int(emulator.counters().submits_accepted, count);
  fail_unless_equals_int(emulator.counters().downloads, count);
}
GST_END_TEST;

GST_START_TEST(test_location_keeps_the_clip) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string path = dir.path("kept.mp4");
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 1, "location", path.c_str(), nullptr);
  Decoded d = decode_with(source);
  fail_unless(d.run.eos, "%s", d.run.error_text().c_str());
  assert_same_mp4(path, emulator);
}
GST_END_TEST;

GST_START_TEST(test_failed_download_leaves_no_file) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Download, 404, "gone", 0, -1, -1});
  test::TempDir dir;
  const std::string path = dir.path("never.mp4");
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "duration", 1, "location", path.c_str(), nullptr);
  RunResult run = test::run_failing(source);
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_NOT_FOUND);
  fail_unless(test::contains(run.error_text(), "HTTP 404"), "%s", run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
  g_autoptr(GDir) listing = g_dir_open(path.substr(0, path.rfind('/')).c_str(), 0, nullptr);
  const gchar *left = g_dir_read_name(listing);
  fail_unless(left == nullptr, "left behind: %s", left);
}
GST_END_TEST;

GST_START_TEST(test_resume_does_not_submit) {
  emu::Emulator emulator(test::quick_options());
  GstElement *first = make_element("grokimaginevideosrc", emulator);
  g_object_set(first, "duration", 1, nullptr);
  std::string notified;
  g_signal_connect(first, "notify::request-id",
                   G_CALLBACK(+[](GObject *object, GParamSpec *, std::string *id) {
                     g_autofree gchar *value = nullptr;
                     g_object_get(object, "request-id", &value, nullptr);
                     *id = value ? value : "";
                   }),
                   &notified);
  Decoded d1 = decode_with(first);
  fail_unless(d1.run.eos);
  const std::string id = emulator.submits().at(0).request_id;
  assert_str_eq(notified, id);

  GstElement *resumed = make_element("grokimaginevideosrc", emulator);
  // A resumed job needs only its id: the prompt may be long forgotten.
  g_object_set(resumed, "prompt", nullptr, "request-id", id.c_str(), nullptr);
  Decoded d2 = decode_with(resumed);
  assert_clip(d2, 848, 480, 1);
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  assert_str_eq(d2.run.job_request_ids.front(), id);
}
GST_END_TEST;

GST_START_TEST(test_bad_input_refused_before_sending) {
  emu::Emulator emulator(test::quick_options());
  struct Case {
    const char *property;
    const char *value;
    const char *says;
  } cases[] = {
      {"prompt", "", "'prompt'"},
      {"resolution", "4k", "480p, 720p, 1080p"},
      {"aspect-ratio", "21:9", "'aspect-ratio'"},
      {"image", "/nonexistent/picture.png", "'image'"},
  };
  for (const Case &c : cases) {
    GstElement *source = make_element("grokimaginesrc", emulator);
    gst_util_set_object_arg(G_OBJECT(source), c.property, c.value);
    RunResult run = test::run_failing(source);
    fail_unless(run.error_domain() == GST_RESOURCE_ERROR);
    fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_SETTINGS);
    fail_unless(test::contains(run.error_text(), c.says), "%s", run.error_text().c_str());
    assert_str_eq(run.error_detail("reason"), "invalid-settings");
  }
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "duration", 16, nullptr);
  RunResult run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(), "'duration' is 16"), "%s", run.error_text().c_str());
  fail_unless(test::contains(run.error_text(), "1 to 15"), "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

GST_START_TEST(test_wrong_key_names_variable) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "api-key", "not-the-key", nullptr);
  RunResult run = test::run_failing(source);
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  fail_unless(test::contains(run.error_text(), "SEGMIND_API_KEY"), "%s", run.error_text().c_str());
  assert_str_eq(run.error_detail("http-status-code"), "401");
  fail_unless_equals_int(emulator.counters().submits_accepted, 0);
}
GST_END_TEST;

GST_START_TEST(test_insufficient_credits) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Submit, 406, R"({"error":"Insufficient credits"})"});
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  fail_unless(test::contains(run.error_text(), "insufficient credits"), "%s",
              run.error_text().c_str());
  assert_str_eq(run.error_detail("reason"), "insufficient-credits");
}
GST_END_TEST;

GST_START_TEST(test_expired_request_while_polling) {
  emu::Options options = test::quick_options();
  options.generation_ms = 3000;
  emu::Emulator emulator(options);
  // Expire the job as soon as it exists.
  std::thread expirer([&] {
    test::wait_until(
        [&] { return !emulator.submits().empty() && !emulator.submits()[0].request_id.empty(); },
        std::chrono::seconds(30), "the job's submit");
    emulator.expire(emulator.submits()[0].request_id);
  });
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  expirer.join();
  const std::string id = emulator.submits()[0].request_id;
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_NOT_FOUND);
  fail_unless(test::contains(run.error_text(), "expired"), "%s", run.error_text().c_str());
  fail_unless(test::contains(run.error_text(), id), "%s", run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
}
GST_END_TEST;

GST_START_TEST(test_failed_job_gives_detail) {
  emu::Options options = test::quick_options();
  options.fail_detail = "Content blocked: the prompt violates the usage policy";
  emu::Emulator emulator(options);
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_FAILED);
  fail_unless(test::contains(run.error_text(), options.fail_detail), "%s",
              run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
  assert_str_eq(run.error_detail("reason"), "job-failed");
}
GST_END_TEST;

GST_START_TEST(test_overall_timeout) {
  emu::Options options = test::quick_options();
  options.generation_ms = 60000;
  emu::Emulator emulator(options);
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "timeout", 1u, nullptr);
  RunResult run = test::run_failing(source);
  const std::string id = emulator.submits().at(0).request_id;
  assert_str_eq(run.error_detail("reason"), "timeout");
  fail_unless(test::contains(run.error_text(), "timeout of 1 s"), "%s", run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
}
GST_END_TEST;

// Stops a pipeline while the job sits in `phase`: NULL must come back at
// once, not when the stalled request would have finished (30 s later).
static void stop_during(emu::Phase phase, bool playing) {
  emu::Options options = test::quick_options();
  if (!playing) options.generation_ms = phase == emu::Phase::Status ? 60000 : 300;
  emu::Emulator emulator(options);
  if (!playing && phase != emu::Phase::Status) {
    emu::Fault stall;
    stall.phase = phase;
    stall.delay_ms = 30000;
    emulator.add_fault(stall);
  }
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  StreamStats video, audio;
  gst_bin_add(GST_BIN(pipeline), source);
  test::attach_counting_sinks(pipeline, source, &video, &audio);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  // Wait until the job is in the phase under test.
  auto reached = [&] {
    auto c = emulator.counters();
    switch (phase) {
      case emu::Phase::Submit:
        return c.submits_total > 0;
      case emu::Phase::Status:
        return c.status_polls > 0;
      case emu::Phase::Result:
        return c.result_fetches > 0;
      case emu::Phase::Download:
        return playing ? video.buffers > 0 : c.downloads > 0;
    }
    return false;
  };
  test::wait_until(reached, std::chrono::seconds(20), "the job reaching the phase");
  const gint64 before = g_get_monotonic_time();
  fail_unless_equals_int(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const gint64 took_ms = (g_get_monotonic_time() - before) / 1000;
  // Far below the 30 s stall: the stop cancelled the request rather than waiting it out.
  fail_unless(took_ms < 5000, "NULL took %" G_GINT64_FORMAT " ms", took_ms);
  gst_object_unref(pipeline);
}

GST_START_TEST(test_null_while_submitting) {
  stop_during(emu::Phase::Submit, false);
}
GST_END_TEST;
GST_START_TEST(test_null_while_polling) {
  stop_during(emu::Phase::Status, false);
}
GST_END_TEST;
GST_START_TEST(test_null_while_downloading) {
  stop_during(emu::Phase::Download, false);
}
GST_END_TEST;
GST_START_TEST(test_null_while_playing) {
  stop_during(emu::Phase::Download, true);
}
GST_END_TEST;

// gst-launch's delayed linking: `g. ! queue ! videoconvert` must get the
// video pad and `g. ! queue ! audioconvert` the audio one.
GST_START_TEST(test_gst_launch_delayed_linking) {
  emu::Emulator emulator(test::quick_options());
  g_autofree gchar *description = g_strdup_printf(
      "grokimaginevideosrc provider=segmind api-url=%s api-key=%s prompt=\"%s\" duration=1 "
      "poll-interval=100 "
      "name=g g. ! queue ! videoconvert ! fakesink name=v g. ! queue ! audioconvert ! "
      "fakesink name=a",
      emulator.api_url().c_str(), emulator.options().api_key.c_str(), kPrompt);
  GstElement *pipeline = gst_parse_launch(description, nullptr);
  fail_unless(pipeline != nullptr);
  int counts[2] = {0, 0};
  const char *sinks[] = {"v", "a"};
  for (int i = 0; i < 2; i++) {
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), sinks[i]);
    g_object_set(sink, "signal-handoffs", TRUE, nullptr);
    g_signal_connect(sink, "handoff",
                     G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, int *n) { (*n)++; }),
                     &counts[i]);
    gst_object_unref(sink);
  }
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(counts[0], 24);
  fail_unless(counts[1] > 0, "no audio reached the audio branch");
}
GST_END_TEST;

// The key must not appear in any log line at the highest debug level, in
// any bus message, or in any request to the CDN.
static std::string *captured_log;
static std::mutex captured_log_lock;

static void capture_log(GstDebugCategory *category, GstDebugLevel, const gchar *, const gchar *,
                        gint, GObject *, GstDebugMessage *message, gpointer) {
  const gchar *text = gst_debug_message_get(message);
  std::lock_guard<std::mutex> lock(captured_log_lock);
  if (text && captured_log)
    captured_log->append(gst_debug_category_get_name(category))
        .append(" ")
        .append(text)
        .append("\n");
}

GST_START_TEST(test_key_never_leaks) {
  emu::Options options = test::quick_options();
  options.api_key = "sk-secret-4f9a1c";
  emu::Emulator emulator(options);
  std::string log;
  captured_log = &log;
  gst_debug_remove_log_function(gst_debug_log_default);
  gst_debug_add_log_function(capture_log, nullptr, nullptr);
  gst_debug_set_default_threshold(GST_LEVEL_MEMDUMP);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 1, nullptr);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  StreamStats video, audio;
  gst_bin_add(GST_BIN(pipeline), source);
  test::attach_counting_sinks(pipeline, source, &video, &audio);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  std::string messages;
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  for (bool done = false; !done;) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, 60 * GST_SECOND);
    fail_unless(message != nullptr);
    done = GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS ||
           GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR;
    fail_if(GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR);
    if (const GstStructure *s = gst_message_get_structure(message)) {
      g_autofree gchar *text = gst_structure_to_string(s);
      messages += text;
    }
  }
  g_autofree gchar *dot = gst_debug_bin_to_dot_data(GST_BIN(pipeline), GST_DEBUG_GRAPH_SHOW_ALL);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_debug_set_default_threshold(GST_LEVEL_NONE);
  gst_debug_remove_log_function(capture_log);
  gst_object_unref(pipeline);
  {
    std::lock_guard<std::mutex> lock(captured_log_lock);
    captured_log = nullptr;
  }
  fail_unless(video.buffers == 24);
  fail_unless(log.size() > 10000, "the debug log was not captured");
  fail_unless(log.find("\ngrokimaginesrc ") != std::string::npos, "our category was not captured");
  fail_if(log.find(options.api_key) != std::string::npos, "the key is in the debug log");
  fail_if(messages.find(options.api_key) != std::string::npos, "the key is in a bus message");
  fail_unless(std::string(dot).find("prompt") != std::string::npos);
  fail_if(std::string(dot).find(options.api_key) != std::string::npos,
          "the key is in the DOT dump");
  fail_unless_equals_int(emulator.counters().cdn_requests_with_key, 0);
  for (const auto &header : emulator.cdn_request_headers())
    fail_if(header.find(options.api_key) != std::string::npos, "%s", header.c_str());
}
GST_END_TEST;

GST_START_TEST(test_transient_poll_errors_are_retried) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Status, 503, {}, 0, -1, 2});
  emulator.add_fault({emu::Phase::Result, 502, {}, 0, -1, 1});
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 1, nullptr);
  assert_clip(decode_with(source), 848, 480, 1);
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless(emulator.counters().result_fetches >= 2);
}
GST_END_TEST;

GST_START_TEST(test_malformed_status_is_a_clear_error) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Status, 200, "{\"status\": \"QUEU", 0, -1, -1});
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  const std::string id = emulator.submits().at(0).request_id;
  assert_str_eq(run.error_detail("reason"), "protocol");
  fail_unless(test::contains(run.error_text(), "malformed JSON"), "%s", run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
}
GST_END_TEST;

GST_START_TEST(test_truncated_download_resumes) {
  emu::Emulator emulator(test::quick_options());
  emu::Fault cut;
  cut.phase = emu::Phase::Download;
  cut.truncate_at = 20000;
  emulator.add_fault(cut);
  test::TempDir dir;
  const std::string path = dir.path("resumed.mp4");
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 2, "location", path.c_str(), nullptr);
  Decoded d = decode_with(source);
  assert_clip(d, 848, 480, 2);
  assert_same_mp4(path, emulator);
  fail_unless_equals_int(emulator.counters().downloads, 2);
  bool ranged = false;
  for (const auto &header : emulator.cdn_request_headers())
    ranged |= g_str_has_prefix(header.c_str(), "Range: bytes=20000-");
  fail_unless(ranged, "the second request did not ask for the rest");
}
GST_END_TEST;

static Suite *grokimaginesrc_suite() {
  Suite *s = suite_create("grokimaginesrc");
  TCase *tc = tcase_create("segmind");
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  tcase_add_test(tc, test_text_to_video_decoded);
  tcase_add_test(tc, test_vertical_720p_size);
  tcase_add_test(tc, test_moov_at_end_plays);
  tcase_add_test(tc, test_qtdemux_directly_moov_at_end);
  tcase_add_test(tc, test_image_to_video_local_file);
  tcase_add_test(tc, test_image_to_video_url);
  tcase_add_test(tc, test_filesink_writes_the_clip);
  tcase_add_test(tc, test_many_sources_in_one_process);
  tcase_add_test(tc, test_location_keeps_the_clip);
  tcase_add_test(tc, test_failed_download_leaves_no_file);
  tcase_add_test(tc, test_resume_does_not_submit);
  tcase_add_test(tc, test_bad_input_refused_before_sending);
  tcase_add_test(tc, test_wrong_key_names_variable);
  tcase_add_test(tc, test_insufficient_credits);
  tcase_add_test(tc, test_expired_request_while_polling);
  tcase_add_test(tc, test_failed_job_gives_detail);
  tcase_add_test(tc, test_overall_timeout);
  tcase_add_test(tc, test_gst_launch_delayed_linking);
  tcase_add_test(tc, test_key_never_leaks);
  tcase_add_test(tc, test_transient_poll_errors_are_retried);
  tcase_add_test(tc, test_malformed_status_is_a_clear_error);
  tcase_add_test(tc, test_truncated_download_resumes);
  tcase_add_test(tc, test_null_while_submitting);
  tcase_add_test(tc, test_null_while_polling);
  tcase_add_test(tc, test_null_while_downloading);
  tcase_add_test(tc, test_null_while_playing);
  return s;
}

GST_CHECK_MAIN(grokimaginesrc);
