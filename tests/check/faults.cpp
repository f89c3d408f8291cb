// Faults a paid job must survive, or report clearly, without a second
// submit: rate limits, server errors, stalls, error pages where the clip
// should be, oversized or hostile answers, a crashed pipeline.
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "assert-string.h"
#include "core/download.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;

static const char *kPrompt = "Waves against a lighthouse";

static GstElement *make_element(const char *factory, const emu::Emulator &emulator) {
  GstElement *element = gst_element_factory_make(factory, nullptr);
  gst_util_set_object_arg(G_OBJECT(element), "provider", "segmind");
  g_object_set(element, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 50u,
               "duration", 1, "retry-backoff", 20u, nullptr);
  return element;
}

// Decodes the job's clip; returns the video frames seen.
static int decoded_frames(GstElement *source) {
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  test::StreamStats video, audio;
  test::attach_counting_sinks(pipeline, source, &video, &audio);
  RunResult run = test::run_pipeline(pipeline, 90);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  return video.buffers;
}

GST_START_TEST(test_rate_limited_submit_waits_as_told) {
  emu::Emulator emulator(test::quick_options());
  emu::Fault limited{emu::Phase::Submit, 429, {}, 0, -1, 1};
  limited.retry_after = "1";
  emulator.add_fault(limited);
  fail_unless_equals_int(decoded_frames(make_element("grokimaginevideosrc", emulator)), 24);
  auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 2);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);
  // Retry-After: 1, not the 20 ms backoff.
  fail_unless(submits[1].received_us - submits[0].received_us >= G_USEC_PER_SEC,
              "retried after %" G_GINT64_FORMAT " us",
              submits[1].received_us - submits[0].received_us);
}
GST_END_TEST;

GST_START_TEST(test_rate_limited_poll_goes_on) {
  emu::Emulator emulator(test::quick_options());
  emu::Fault limited{emu::Phase::Status, 429, {}, 0, -1, 2};
  limited.retry_after = "1";
  emulator.add_fault(limited);
  fail_unless_equals_int(decoded_frames(make_element("grokimaginevideosrc", emulator)), 24);
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

GST_START_TEST(test_server_errors_retried_in_each_phase) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Submit, 503, {}, 0, -1, 1});
  emulator.add_fault({emu::Phase::Status, 500, {}, 0, -1, 1});
  emulator.add_fault({emu::Phase::Status, 502, {}, 0, -1, 1});
  emulator.add_fault({emu::Phase::Status, 504, {}, 0, -1, 1});
  emulator.add_fault({emu::Phase::Result, 503, {}, 0, -1, 1});
  emulator.add_fault({emu::Phase::Download, 503, {}, 0, -1, 1});
  fail_unless_equals_int(decoded_frames(make_element("grokimaginevideosrc", emulator)), 24);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);
  fail_unless(emulator.counters().downloads >= 2);
}
GST_END_TEST;

GST_START_TEST(test_connection_resets) {
  emu::Emulator emulator(test::quick_options());
  for (emu::Phase phase : {emu::Phase::Status, emu::Phase::Result, emu::Phase::Download}) {
    emu::Fault reset{phase};
    reset.reset = true;
    emulator.add_fault(reset);
  }
  fail_unless_equals_int(decoded_frames(make_element("grokimaginevideosrc", emulator)), 24);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);

  // On submit a reset may come after the provider took the job: no repeat.
  emu::Emulator second(test::quick_options());
  emu::Fault reset{emu::Phase::Submit};
  reset.reset = true;
  second.add_fault(reset);
  RunResult run = test::run_failing(make_element("grokimaginesrc", second));
  assert_str_eq(run.error_detail("reason"), "network");
  fail_unless_equals_int(second.counters().submits_total, 1);
}
GST_END_TEST;

// An API redirect to another host is not followed: the key stays home.
GST_START_TEST(test_api_redirect_not_followed) {
  emu::Emulator emulator(test::quick_options());
  test::FileServer elsewhere("/v2/grok-imagine-video", "application/json", "{}");
  emu::Fault moved{emu::Phase::Submit, 307};
  moved.location = elsewhere.url() + "/v2/grok-imagine-video";
  emulator.add_fault(moved);
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  fail_unless(test::contains(run.error_text(), "307"), "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless_equals_int(elsewhere.requests(), 0);
}
GST_END_TEST;

// A 500 on submit may hide an accepted job: repeating it could bill twice.
GST_START_TEST(test_ambiguous_submit_failure_not_repeated) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Submit, 500, {}, 0, -1, -1});
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  assert_str_eq(run.error_detail("http-status-code"), "500");
}
GST_END_TEST;

GST_START_TEST(test_retries_run_out_with_a_clear_error) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Status, 503, {}, 0, -1, -1});
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "retries", 2u, nullptr);
  RunResult run = test::run_failing(source);
  const std::string id = emulator.submits().at(0).request_id;
  assert_str_eq(run.error_detail("reason"), "network");
  fail_unless(test::contains(run.error_text(), "gave up after 3 attempts"), "%s",
              run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
  fail_unless_equals_int(emulator.counters().status_polls, 3);
}
GST_END_TEST;

GST_START_TEST(test_stalled_poll_is_cut_and_retried) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Status, 0, {}, 20000, -1, 1});
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "request-timeout", 1u, nullptr);
  const gint64 start = g_get_monotonic_time();
  fail_unless_equals_int(decoded_frames(source), 24);
  // Well before the stalled answer would have come.
  fail_unless(g_get_monotonic_time() - start < 15 * G_USEC_PER_SEC);
  fail_unless(emulator.counters().status_polls >= 2);
}
GST_END_TEST;

GST_START_TEST(test_overall_timeout_holds_while_stalled) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Status, 0, {}, 20000, -1, -1});
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "request-timeout", 1u, "timeout", 2u, nullptr);
  RunResult run = test::run_failing(source);
  assert_str_eq(run.error_detail("reason"), "timeout");
  assert_str_eq(run.error_detail("request-id"), emulator.submits().at(0).request_id);
}
GST_END_TEST;

GST_START_TEST(test_error_page_instead_of_clip) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault({emu::Phase::Download, 200,
                      "<!DOCTYPE html><html><body>Access denied</body></html>", 0, -1, -1});
  RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
  assert_str_eq(run.error_detail("reason"), "protocol");
  fail_unless(test::contains(run.error_text(), "instead of an MP4"), "%s",
              run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), emulator.submits().at(0).request_id);
}
GST_END_TEST;

// A CDN that labels its error page as binary: the bytes give it away.
GST_START_TEST(test_error_page_with_a_binary_label) {
  test::FileServer cdn("/clip.mp4", "application/octet-stream",
                       "<!DOCTYPE html><html><body>Expired</body></html>");
  grokimagine::Error error;
  auto download = grokimagine::Download::start(cdn.url() + "/clip.mp4", "", 0, &error);
  fail_unless(download != nullptr, "%s", error.message.c_str());
  fail_unless(download->wait_for(1 << 20, nullptr) == grokimagine::Download::Wait::Failed);
  const std::string message = download->error().message;
  fail_unless(test::contains(message, "not an MP4"), "%s", message.c_str());
  fail_unless(test::contains(message, "<!DOCTYP"), "%s", message.c_str());
}
GST_END_TEST;

// The case uridecodebin3 fails today: the moov comes last, the clip is past
// what qtdemux buffers without seeking, and the CDN ignores Range.
GST_START_TEST(test_moov_at_end_from_a_cdn_ignoring_range) {
  emu::Options options = test::quick_options();
  options.moov_at_end = true;
  options.bulky = true;
  options.ignore_range = true;
  emu::Emulator emulator(options);
  GstElement *source = make_element("grokimaginevideosrc", emulator);
  g_object_set(source, "duration", 2, nullptr);
  fail_unless_equals_int(decoded_frames(source), 48);
  const std::string clip = test::read_file(emulator.clip_path(emulator.submits().at(0).request_id));
  fail_unless(clip.size() > 10 * 1024 * 1024, "the clip is only %zu bytes", clip.size());
  fail_unless(clip.find("moov", clip.size() - 64 * 1024) != std::string::npos,
              "the moov is not at the end");
  for (const auto &header : emulator.cdn_request_headers())
    fail_if(g_str_has_prefix(header.c_str(), "Range:"), "asked for a range: %s", header.c_str());
}
GST_END_TEST;

GST_START_TEST(test_hostile_json_answers) {
  const std::string huge = "{\"status\":\"" + std::string(2 << 20, 'x') + "\"}";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string wrong_types = R"({"status":["QUEUED"],"request_id":7})";
  struct {
    std::string body;
    const char *says;
  } cases[] = {
      {huge, "larger than"},
      {"{\"status\": " + deep + "}", "nested too deeply"},
      {wrong_types, "unknown job status"},
  };
  for (const auto &c : cases) {
    emu::Emulator emulator(test::quick_options());
    emulator.add_fault({emu::Phase::Status, 200, c.body, 0, -1, -1});
    RunResult run = test::run_failing(make_element("grokimaginesrc", emulator));
    fail_unless(test::contains(run.error_text(), c.says), "%s", run.error_text().c_str());
    fail_unless_equals_int(emulator.counters().status_polls, 1);
  }
}
GST_END_TEST;

GST_START_TEST(test_max_size) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_element("grokimaginesrc", emulator);
  g_object_set(source, "max-size", guint64(1000), nullptr);
  RunResult run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(), "max-size"), "%s", run.error_text().c_str());
}
GST_END_TEST;

GST_START_TEST(test_key_not_sent_over_plain_http) {
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", "xai");
  g_object_set(source, "api-url", "http://api.example.invalid/v1", "api-key", "k", "prompt",
               kPrompt, nullptr);
  RunResult run = test::run_failing(source);
  assert_str_eq(run.error_detail("reason"), "invalid-settings");
  fail_unless(test::contains(run.error_text(), "allow-insecure-http"), "%s",
              run.error_text().c_str());
}
GST_END_TEST;

// A pipeline killed while polling loses nothing: a new one resumes the
// paid job by its id, with no second submit.
GST_START_TEST(test_resume_after_a_crash) {
  emu::Options options = test::quick_options();
  options.generation_ms = 4000;
  emu::Emulator emulator(options);
  // The killed pipeline runs in a child process: this same binary, which
  // prints each request id the bus carries (see main()).
  const std::string description = "grokimaginesrc provider=segmind api-url=" + emulator.api_url() +
                                  " api-key=" + emulator.options().api_key +
                                  " prompt=crash poll-interval=50 duration=1 ! "
                                  "fakesink";
  g_autofree gchar *self = g_file_read_link("/proc/self/exe", nullptr);
  const gchar *argv[] = {self, nullptr};
  g_auto(GStrv) env = g_get_environ();
  env = g_environ_setenv(env, "GROKIMAGINE_CHILD_PIPELINE", description.c_str(), TRUE);
  GPid child = 0;
  gint out = -1;
  g_autoptr(GError) error = nullptr;
  fail_unless(g_spawn_async_with_pipes(nullptr, const_cast<gchar **>(argv), env, G_SPAWN_DEFAULT,
                                       nullptr, nullptr, &child, nullptr, &out, nullptr, &error),
              "%s", error ? error->message : "");
  std::string printed, id;
  const gint64 give_up = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (id.empty() && g_get_monotonic_time() < give_up) {
    char chunk[4096];
    ssize_t n = read(out, chunk, sizeof chunk);
    if (n <= 0) break;
    printed.append(chunk, size_t(n));
    auto at = printed.find("request-id=");
    auto end = at == std::string::npos ? at : printed.find('\n', at);
    if (end != std::string::npos) id = printed.substr(at + 11, end - at - 11);
  }
  kill(child, SIGKILL);
  g_spawn_close_pid(child);
  close(out);
  fail_if(id.empty(), "no request id printed:\n%s", printed.c_str());
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);

  GstElement *resumed = make_element("grokimaginevideosrc", emulator);
  g_object_set(resumed, "request-id", id.c_str(), nullptr);
  fail_unless_equals_int(decoded_frames(resumed), 24);
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// A few hundred random state changes landing in every phase (submitting,
// polling, downloading, playing): no crash, no deadlock, no leak (the
// sanitizer build), and back to NULL promptly each time.
GST_START_TEST(test_random_state_changes) {
  emu::Options options = test::quick_options();
  options.queued_ms = 20;
  options.generation_ms = 120;
  emu::Emulator emulator(options);
  emu::Fault slow_download;
  slow_download.phase = emu::Phase::Download;
  slow_download.delay_ms = 30;
  slow_download.times = -1;
  emulator.add_fault(slow_download);
  g_autoptr(GRand) random = g_rand_new_with_seed(20261121);
  const GstState states[] = {GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING};
  gint64 slowest_us = 0;
  for (int cycle = 0; cycle < 200; cycle++) {
    GstElement *pipeline = gst_pipeline_new(nullptr);
    GstElement *source = make_element("grokimaginevideosrc", emulator);
    gst_bin_add(GST_BIN(pipeline), source);
    test::StreamStats video, audio;
    test::attach_counting_sinks(pipeline, source, &video, &audio);
    for (int step = g_rand_int_range(random, 1, 4); step > 0; step--) {
      gst_element_set_state(pipeline, states[g_rand_int_range(random, 0, 3)]);
      g_usleep(g_rand_int_range(random, 0, 250) * 1000);
    }
    const gint64 before = g_get_monotonic_time();
    fail_unless(gst_element_set_state(pipeline, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
    const gint64 took = g_get_monotonic_time() - before;
    slowest_us = MAX(slowest_us, took);
    // A hang detector, not a speed target: a stop that waited for the
    // network would take seconds.
    fail_unless(took < 5 * G_USEC_PER_SEC, "cycle %d: NULL took %" G_GINT64_FORMAT " us", cycle,
                took);
    gst_object_unref(pipeline);
  }
  g_print("200 random state-change cycles; slowest return to NULL: %.1f ms\n", slowest_us / 1000.0);
  fail_unless(emulator.counters().downloads > 0, "no cycle reached the download");
}
GST_END_TEST;

// Holds libsoup's I/O thread inside the construction of a response's body
// stream (SoupClientInputStream), between libsoup reading the headers and
// handing the stream to the send callback, while the test cancels from its
// own thread: the instant a pipeline stopping under load hits by chance.
class BodyStreamHold {
 public:
  BodyStreamHold() {
    const GType type = g_type_from_name("SoupClientInputStream");
    fail_unless(type != 0, "libsoup's body stream type is not registered yet");
    klass_ = G_OBJECT_CLASS(g_type_class_ref(type));
    chained_ = klass_->constructed;
    klass_->constructed = constructed;
  }
  ~BodyStreamHold() {
    klass_->constructed = chained_;
    g_type_class_unref(klass_);
  }
  BodyStreamHold(const BodyStreamHold &) = delete;
  BodyStreamHold &operator=(const BodyStreamHold &) = delete;

  // The next body stream made holds the I/O thread until release().
  void arm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = true;
    held_ = released_ = false;
  }
  bool wait_held() {
    std::unique_lock<std::mutex> lock(mutex_);
    return cond_.wait_for(lock, std::chrono::seconds(10), [] { return held_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    cond_.notify_all();
  }

 private:
  static void constructed(GObject *object) {
    chained_(object);
    std::unique_lock<std::mutex> lock(mutex_);
    if (!armed_) return;
    armed_ = false;
    held_ = true;
    cond_.notify_all();
    cond_.wait_for(lock, std::chrono::seconds(10), [] { return released_; });
  }

  GObjectClass *klass_ = nullptr;
  static inline void (*chained_)(GObject *) = nullptr;
  static inline std::mutex mutex_;
  static inline std::condition_variable cond_;
  static inline bool armed_ = false, held_ = false, released_ = false;
};

// Serves a clip-like body; answers once, which also registers libsoup's
// body stream type for BodyStreamHold.
static std::unique_ptr<test::FileServer> body_stream_server(grokimagine::HttpRequest *get) {
  auto server = std::make_unique<test::FileServer>("/clip.mp4", "video/mp4",
                                                   std::string("\0\0\0\x18"
                                                               "ftypmp42",
                                                               12) +
                                                       std::string(256 * 1024, '\0'));
  get->url = server->url() + "/clip.mp4";
  fail_unless_equals_int(grokimagine::HttpClient::instance().send(*get, nullptr).status, 200);
  return server;
}

// A request cancelled from another thread just as libsoup hands its body
// stream over: libsoup's send task then reports the cancellation, finishes
// the message's I/O and drops the stream itself, whose close crashed libsoup
// 3.2 on the I/O thread (see send_async in core/http.cpp). Here an API
// request (Job::send) whose caller stops.
GST_START_TEST(test_cancel_as_the_body_stream_is_handed_over) {
  grokimagine::HttpRequest get;
  auto server = body_stream_server(&get);
  grokimagine::HttpClient &client = grokimagine::HttpClient::instance();
  BodyStreamHold hold;
  for (int round = 0; round < 3; round++) {
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    hold.arm();
    grokimagine::HttpResponse response;
    std::thread caller([&] { response = client.send(get, cancellable); });
    fail_unless(hold.wait_held(), "no body stream was made");
    g_cancellable_cancel(cancellable);
    hold.release();
    caller.join();
    fail_unless(response.cancelled, "%u %s", response.status, response.transport_error.c_str());
    // Answered after the I/O thread has dropped the cancelled request.
    fail_unless_equals_int(client.send(get, nullptr).status, 200);
  }
}
GST_END_TEST;

// The same instant for a clip download whose element stops (~Download
// cancels).
GST_START_TEST(test_download_stopped_as_the_body_stream_is_handed_over) {
  grokimagine::HttpRequest get;
  auto server = body_stream_server(&get);
  BodyStreamHold hold;
  for (int round = 0; round < 3; round++) {
    hold.arm();
    grokimagine::Error error;
    auto download = grokimagine::Download::start(get.url, "", 0, &error);
    fail_unless(download != nullptr, "%s", error.message.c_str());
    fail_unless(hold.wait_held(), "no body stream was made");
    download.reset();
    hold.release();
    fail_unless_equals_int(grokimagine::HttpClient::instance().send(get, nullptr).status, 200);
  }
}
GST_END_TEST;

static Suite *faults_suite() {
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("faults");
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  tcase_add_test(tc, test_rate_limited_submit_waits_as_told);
  tcase_add_test(tc, test_rate_limited_poll_goes_on);
  tcase_add_test(tc, test_server_errors_retried_in_each_phase);
  tcase_add_test(tc, test_connection_resets);
  tcase_add_test(tc, test_api_redirect_not_followed);
  tcase_add_test(tc, test_ambiguous_submit_failure_not_repeated);
  tcase_add_test(tc, test_retries_run_out_with_a_clear_error);
  tcase_add_test(tc, test_stalled_poll_is_cut_and_retried);
  tcase_add_test(tc, test_overall_timeout_holds_while_stalled);
  tcase_add_test(tc, test_error_page_instead_of_clip);
  tcase_add_test(tc, test_error_page_with_a_binary_label);
  tcase_add_test(tc, test_moov_at_end_from_a_cdn_ignoring_range);
  tcase_add_test(tc, test_hostile_json_answers);
  tcase_add_test(tc, test_max_size);
  tcase_add_test(tc, test_key_not_sent_over_plain_http);
  tcase_add_test(tc, test_resume_after_a_crash);
  tcase_add_test(tc, test_cancel_as_the_body_stream_is_handed_over);
  tcase_add_test(tc, test_download_stopped_as_the_body_stream_is_handed_over);
  TCase *stress = tcase_create("stress");
  tcase_set_timeout(stress, 600);
  suite_add_tcase(s, stress);
  tcase_add_test(stress, test_random_state_changes);
  return s;
}

// The child of test_resume_after_a_crash: runs a pipeline and prints every
// request id as soon as it is on the bus, until it is killed.
static int run_child_pipeline(const char *description) {
  gst_init(nullptr, nullptr);
  GstElement *pipeline = gst_parse_launch(description, nullptr);
  if (!pipeline) return 2;
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  while (true) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);
    const GstStructure *s = gst_message_get_structure(message);
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
        gst_structure_has_name(s, "grokimagine-job")) {
      g_print("request-id=%s\n", gst_structure_get_string(s, "request-id"));
      fflush(stdout);
    }
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS ||
        GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR)
      return 1;
  }
}

int main(int argc, char **argv) {
  if (const char *description = g_getenv("GROKIMAGINE_CHILD_PIPELINE"))
    return run_child_pipeline(description);
  gst_check_init(&argc, &argv);
  return gst_check_run_suite(faults_suite(), "faults", __FILE__);
}
