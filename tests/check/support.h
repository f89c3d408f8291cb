// SPDX-License-Identifier: LGPL-2.1-or-later
// Helpers shared by the element suites: run a pipeline to EOS or error while
// keeping what a user would look at on the bus.
#pragma once

#include <gst/check/gstcheck.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "emulator.h"

namespace test {

struct OwnedMessage {
  GstMessage *message = nullptr;
  explicit OwnedMessage(GstMessage *m = nullptr) : message(m) {}
  OwnedMessage(OwnedMessage &&o) noexcept : message(o.message) { o.message = nullptr; }
  OwnedMessage &operator=(OwnedMessage &&o) noexcept {
    std::swap(message, o.message);
    return *this;
  }
  ~OwnedMessage() {
    if (message) gst_message_unref(message);
  }
};

struct RunResult {
  bool eos = false;
  OwnedMessage error;
  std::vector<std::string> job_statuses;  // `status` of each grokimagine-job message
  std::vector<std::string> job_request_ids;
  std::vector<int> job_progress;
  std::vector<std::string> progress_codes;  // "start", "continue", ... in order
  std::vector<std::string> progress_texts;  // what gst-launch prints for each

  // Error accessors (empty when no error).
  GQuark error_domain() const;
  int error_code() const;
  std::string error_text() const;
  std::string error_detail(const char *field) const;
};

// Sets `pipeline` to PLAYING and collects messages until EOS, an error or
// `timeout_s`; leaves it in NULL. Fails the test on timeout.
// `observe`, when given, sees every message first.
RunResult run_pipeline(GstElement *pipeline, int timeout_s = 60,
                       const std::function<void(GstMessage *)> &observe = {});

// A pipeline of `source` ! fakesink (sync=false).
GstElement *pipeline_with_sink(GstElement *source);

// Runs `source` ! fakesink for a job that must fail; fails the test if it
// does not.
RunResult run_failing(GstElement *source);

bool contains(const std::string &text, const std::string &part);

// An emulator whose generation is quick, for the element suites.
grokimagine::emulator::Options quick_options();

// An element of `factory` (named `name`, or by GStreamer) pointed at
// `emulator` as `provider` (xAI's base URL carries its /v1, as
// https://api.x.ai/v1 does), with the emulator's key, `prompt` and a
// 100 ms poll interval.
GstElement *make_element(const char *factory, const grokimagine::emulator::Emulator &emulator,
                         const char *provider, const char *prompt, const char *name = nullptr);

// Writes a real PNG (videotestsrc ! pngenc, of `pattern`) and returns its path.
std::string make_png(int width, int height, const char *pattern = "smpte");

std::string read_file(const std::string &path);

// Frames and samples that left a decoded pad, via a buffer probe.
struct StreamStats {
  int buffers = 0;
  guint64 end_time = 0;  // largest PTS + duration seen
  guint64 audio_samples = 0;
  int width = 0, height = 0;
  int rate = 0;
};

// Decodes an encoded image (PNG, JPEG) with decodebin; its width and height.
std::pair<int, int> decoded_image_size(const std::string &bytes);

// Links each pad of `source` (a grokimaginevideosrc) to a fakesink as it
// appears, counting into `video` / `audio`.
void attach_counting_sinks(GstElement *pipeline, GstElement *source, StreamStats *video,
                           StreamStats *audio);

// Other processes, for tests that need one (a kill, two at once, another
// environment): this same binary, started with GROKIMAGINE_CHILD_PIPELINE
// set, runs that pipeline (gst-launch syntax) instead of its suite. Not
// gst-launch itself, which cannot load a sanitizer build of the plugin.
// The child prints "status=S request-id=ID" for each grokimagine-job
// message and "ERROR: text" for an error, and exits 0 at EOS, 1 on error.
struct Child {
  GPid pid = 0;
  int out_fd = -1;  // its standard output
};
Child spawn_child_pipeline(const std::string &description,
                           const std::vector<std::pair<std::string, std::string>> &env = {});
// Reads the child's output to its end and reaps it: its wait status and
// what it printed.
std::pair<int, std::string> finish_child(Child child);
// In main(): runs the pipeline when this process is such a child (and
// returns its exit code); -1 otherwise.
int run_child_pipeline_if_asked();

// GST_CHECK_MAIN, for suites whose tests start child pipelines.
#define GROKIMAGINE_CHECK_MAIN(name)                             \
  int main(int argc, char **argv) {                              \
    int child = test::run_child_pipeline_if_asked();             \
    if (child >= 0) return child;                                \
    gst_check_init(&argc, &argv);                                \
    return gst_check_run_suite(name##_suite(), #name, __FILE__); \
  }

// A suite's quick and slow cases. tests/meson.build runs a suite with slow
// cases twice: GROKIMAGINE_CASES=quick in the default run, =slow in the
// `slow` suite (meson test --suite slow, or --setup all as CI does). Unset
// (the binary run by hand): every case.
enum class Speed { Quick, Slow };
// A TCase for `speed`'s cases added to `suite` (with a timeout of
// `timeout_s`), or null when this run leaves them out.
TCase *cases(Suite *suite, Speed speed, const char *name, int timeout_s);

// Waits until `done` (checked every 10 ms: what the tests wait for, the
// emulator's counters, has no event of its own), for at most `timeout`;
// the test fails naming `what` when it never is.
void wait_until(const std::function<bool()> &done, std::chrono::milliseconds timeout,
                const char *what);

// Runs grokimagine-jobs (GROKIMAGINE_JOBS) with `args`, in a UTF-8 locale:
// what it printed (out and err), and whether it succeeded.
std::string run_jobs_tool(std::vector<std::string> args, bool *ok);

// A temporary directory, removed with what it holds.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  std::string path(const char *name) const;

 private:
  std::string dir_;
};

// Serves one body at one path on loopback from its own thread.
class FileServer {
 public:
  FileServer(std::string path, std::string content_type, std::string body);
  ~FileServer();
  std::string url() const { return url_; }  // "http://127.0.0.1:PORT"
  int requests() const;                     // how many it answered

 private:
  struct Impl;
  Impl *impl_;
  std::string url_;
};

}  // namespace test
