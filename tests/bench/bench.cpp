// SPDX-License-Identifier: LGPL-2.1-or-later
// grokimagine-bench: the figures of docs/benchmarks.md, each measured side by
// side with what a pipeline would use without the plugin, in the same run,
// against emulator processes (so their threads and CPU are not ours).
// Prints a markdown table; see scripts/bench.sh.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/job-record.h"
#include "core/store.h"
#include "postgres-server.h"

namespace {

constexpr const char *kKey = "bench-key";

struct Config {
  int runs = 5;
  bool quick = false;        // small sizes and few jobs: checks the bench itself runs
  double soak_minutes = 60;  // channel-soak: how long each side runs
};

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(what);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// The nearest-rank percentile `p` (0 to 100) of `values`.
double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = std::size_t(std::ceil(p / 100 * double(values.size())));
  return values[std::max<std::size_t>(rank, 1) - 1];
}

double now_ms() {
  return double(g_get_monotonic_time()) / 1000.0;
}

std::string format(const char *pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// --- the emulator, as a child process -------------------------------------

struct EmulatorSpec {
  std::string provider = "segmind";
  unsigned generation_ms = 0;
  std::int64_t clip_bytes = 0;
  unsigned rate_limit = 0;
  bool moov_at_end = false;
  // Link shaping of the CDN (a real one, tens of ms away, capping each
  // connection, or behind one access link all connections share), and a
  // CDN without Range.
  unsigned cdn_delay_ms = 0;
  std::uint64_t cdn_rate = 0;
  std::uint64_t cdn_link_rate = 0;
  bool ignore_range = false;
};

class EmulatorProcess {
 public:
  explicit EmulatorProcess(const EmulatorSpec &spec) {
    std::vector<std::string> args = {EMULATOR_PROGRAM,
                                     "--provider",
                                     spec.provider,
                                     "--api-key",
                                     kKey,
                                     "--queued-ms",
                                     "0",
                                     "--generation-ms",
                                     std::to_string(spec.generation_ms)};
    if (spec.clip_bytes > 0)
      args.insert(args.end(), {"--clip-bytes", std::to_string(spec.clip_bytes)});
    if (spec.rate_limit > 0)
      args.insert(args.end(), {"--rate-limit", std::to_string(spec.rate_limit)});
    if (spec.moov_at_end) args.emplace_back("--moov-at-end");
    if (spec.cdn_delay_ms > 0)
      args.insert(args.end(), {"--cdn-delay-ms", std::to_string(spec.cdn_delay_ms)});
    if (spec.cdn_rate > 0) args.insert(args.end(), {"--cdn-rate", std::to_string(spec.cdn_rate)});
    if (spec.cdn_link_rate > 0)
      args.insert(args.end(), {"--cdn-link-rate", std::to_string(spec.cdn_link_rate)});
    if (spec.ignore_range) args.emplace_back("--ignore-range");
    std::vector<char *> argv;
    for (auto &arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    gint out_fd = -1;
    g_autoptr(GError) error = nullptr;
    // The emulator ends with the bench, however the bench ends.
    auto die_with_parent = [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGTERM); };
    if (!g_spawn_async_with_pipes(nullptr, argv.data(), nullptr, G_SPAWN_DO_NOT_REAP_CHILD,
                                  die_with_parent, nullptr, &pid_, nullptr, &out_fd, nullptr,
                                  &error))
      fail(std::string("cannot start the emulator: ") + error->message);
    FILE *out = fdopen(out_fd, "r");
    char line[512];
    while (std::fgets(line, sizeof line, out) != nullptr) {
      std::string text(line);
      if (text.rfind("api-url=", 0) == 0) {
        api_url_ = text.substr(8, text.find_last_not_of("\r\n") - 7);
        break;
      }
    }
    std::fclose(out);
    if (api_url_.empty()) fail("the emulator did not start");
  }
  ~EmulatorProcess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    g_spawn_close_pid(pid_);
  }
  EmulatorProcess(const EmulatorProcess &) = delete;
  EmulatorProcess &operator=(const EmulatorProcess &) = delete;

  const std::string &api_url() const { return api_url_; }

 private:
  GPid pid_ = 0;
  std::string api_url_;
};

// --- plain HTTP, for what the bench asks the emulator itself ---------------

JsonNode *get_json(const std::string &url, const char *key_header = nullptr) {
  static SoupSession *session = soup_session_new();
  g_autoptr(SoupMessage) message = soup_message_new("GET", url.c_str());
  if (key_header != nullptr)
    soup_message_headers_replace(soup_message_get_request_headers(message), key_header, kKey);
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) body = soup_session_send_and_read(session, message, nullptr, &error);
  if (body == nullptr) fail("GET " + url + ": " + error->message);
  gsize size = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(body, &size));
  JsonNode *node = json_from_string(std::string(data, size).c_str(), &error);
  if (node == nullptr) fail("GET " + url + ": not JSON");
  return node;
}

struct EmulatorStats {
  gint64 status_polls = 0;
  gint64 submits_accepted = 0;
  gint64 rate_limited = 0;
  std::map<std::string, gint64> completed_us;  // by request id
};

EmulatorStats stats(const EmulatorProcess &emulator) {
  g_autoptr(JsonNode) node = get_json(emulator.api_url() + "/emulator/stats");
  JsonObject *object = json_node_get_object(node);
  EmulatorStats result;
  result.status_polls = json_object_get_int_member(object, "status_polls");
  result.submits_accepted = json_object_get_int_member(object, "submits_accepted");
  result.rate_limited = json_object_get_int_member(object, "rate_limited");
  JsonArray *jobs = json_object_get_array_member(object, "jobs");
  for (guint i = 0; i < json_array_get_length(jobs); i++) {
    JsonObject *job = json_array_get_object_element(jobs, i);
    result.completed_us[json_object_get_string_member(job, "request_id")] =
        json_object_get_int_member(job, "completed_us");
  }
  return result;
}

// The CDN URL of a finished Segmind job, as uridecodebin3 would be given it.
std::string clip_url(const EmulatorProcess &emulator, const std::string &request_id) {
  g_autoptr(JsonNode) node =
      get_json(emulator.api_url() + "/v2/requests/" + request_id, "x-api-key");
  return json_object_get_string_member(json_node_get_object(node), "output");
}

// --- pipelines ---------------------------------------------------------------

struct PipelineDeleter {
  void operator()(GstElement *pipeline) const {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
  }
};
using Pipeline = std::unique_ptr<GstElement, PipelineDeleter>;

Pipeline parse(const std::string &description) {
  g_autoptr(GError) error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (pipeline == nullptr || error) fail("cannot build " + description + ": " + error->message);
  // One element alone comes back bare, without a pipeline (nor a bus).
  if (!GST_IS_PIPELINE(pipeline)) {
    GstElement *bin = gst_pipeline_new(nullptr);
    gst_bin_add(GST_BIN(bin), pipeline);
    pipeline = bin;
  }
  return Pipeline(pipeline);
}

// xAI's base URL carries its /v1, as https://api.x.ai/v1 does.
// --connections N: every figure's grokimaginesrc uses N (0: its default).
unsigned connections_override = 0;

std::string source_properties(const EmulatorProcess &emulator, const std::string &provider) {
  return "provider=" + provider + " api-url=" + emulator.api_url() +
         (provider == "xai" ? "/v1" : "") + " api-key=" + kKey +
         (connections_override ? " connections=" + std::to_string(connections_override) : "");
}

// Runs a pipeline until EOS; fails on an error message.
void run_to_eos(GstElement *pipeline) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
      bus, 600 * GST_SECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr || GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) error = nullptr;
    if (message != nullptr) gst_message_parse_error(message, &error, nullptr);
    fail(std::string("pipeline failed: ") + (error ? error->message : "no EOS in 10 minutes"));
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

// A finished job of the given clip, made through the element itself; later
// runs resume it by request id (the result is ready: no generation time).
std::string make_job(const EmulatorProcess &emulator, const std::string &resolution, int duration,
                     const std::string &sink = "fakesink") {
  Pipeline pipeline = parse("grokimaginesrc name=src " + source_properties(emulator, "segmind") +
                            " prompt=bench resolution=" + resolution +
                            " duration=" + std::to_string(duration) + " ! " + sink);
  run_to_eos(pipeline.get());
  GstElement *source = gst_bin_get_by_name(GST_BIN(pipeline.get()), "src");
  g_autofree gchar *request_id = nullptr;
  g_object_get(source, "request-id", &request_id, nullptr);
  gst_object_unref(source);
  return request_id;
}

// Every decoded pad to a fakesink; the first video buffer is timed.
struct DecodeRun {
  std::atomic<gint64> first_video_us{0};
  // When our source said it has the clip's URL and started downloading.
  std::atomic<gint64> url_us{0};
};

// Our sources' "Downloading the clip" progress, timed as it is posted.
void on_sync_progress(GstBus *, GstMessage *message, gpointer data) {
  GstProgressType type;
  gchar *text = nullptr;
  gst_message_parse_progress(message, &type, nullptr, &text);
  if (type == GST_PROGRESS_TYPE_CONTINUE && g_str_has_prefix(text, "Downloading")) {
    gint64 expected = 0;
    static_cast<DecodeRun *>(data)->url_us.compare_exchange_strong(expected,
                                                                   g_get_monotonic_time());
  }
  g_free(text);
}

GstPadProbeReturn on_video_buffer(GstPad *, GstPadProbeInfo *, gpointer data) {
  auto *run = static_cast<DecodeRun *>(data);
  gint64 expected = 0;
  run->first_video_us.compare_exchange_strong(expected, g_get_monotonic_time());
  return GST_PAD_PROBE_REMOVE;
}

void on_pad_added(GstElement *element, GstPad *pad, gpointer data) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  GstElement *pipeline = GST_ELEMENT(gst_element_get_parent(element));
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  g_autoptr(GstPad) sink_pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_link(pad, sink_pad);
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  const bool video =
      caps ? g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "video/")
           : g_str_has_prefix(GST_PAD_NAME(pad), "video");
  if (video) gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_video_buffer, data, nullptr);
  gst_object_unref(pipeline);
}

enum class Until { FirstFrame, Eos };

// Milliseconds from PLAYING to the first decoded video frame or to EOS, for
// a pipeline whose element `dynamic` adds decoded pads. With `from_url`,
// also the first frame from the moment our source had the clip's URL (the
// API's answers before it are not the download's; from PLAYING for an
// element given the URL).
double time_decode(const std::string &description, Until until, double *from_url = nullptr) {
  Pipeline pipeline = parse(description);
  GstElement *dynamic = gst_bin_get_by_name(GST_BIN(pipeline.get()), "dec");
  DecodeRun run;
  g_signal_connect(dynamic, "pad-added", G_CALLBACK(on_pad_added), &run);
  gst_object_unref(dynamic);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline.get());
  gst_bus_enable_sync_message_emission(bus);
  g_signal_connect(bus, "sync-message::progress", G_CALLBACK(on_sync_progress), &run);
  const gint64 start = g_get_monotonic_time();
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  for (;;) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
        bus, 2 * GST_MSECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (message && GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
      g_autoptr(GError) error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      fail(description + ": " + error->message);
    }
    if (until == Until::FirstFrame && run.first_video_us != 0) {
      if (from_url)
        *from_url =
            double(run.first_video_us - (run.url_us != 0 ? run.url_us.load() : start)) / 1000.0;
      return double(run.first_video_us - start) / 1000.0;
    }
    if (message) return double(g_get_monotonic_time() - start) / 1000.0;
  }
}

double time_download(const std::string &url, const std::string &path) {
  Pipeline pipeline = parse("souphttpsrc location=" + url + " ! filesink location=" + path);
  const double start = now_ms();
  run_to_eos(pipeline.get());
  return now_ms() - start;
}

// --- the table ---------------------------------------------------------------

struct Row {
  std::string figure, ours, compared, ratio, target;
};

std::vector<Row> table;

void add_row(const std::string &figure, const std::string &ours, const std::string &compared,
             const std::string &ratio, const std::string &target) {
  table.push_back({figure, ours, compared, ratio, target});
  std::fprintf(stderr, "bench: %s: %s | %s | %s\n", figure.c_str(), ours.c_str(), compared.c_str(),
               ratio.c_str());
}

std::string ratio_text(double ours, double theirs) {
  return format("%.2fx", ours / theirs);
}

// `path` and, for a directory, everything in it.
void remove_tree(const std::string &path) {
  if (!g_file_test(path.c_str(), G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr(GDir) dir = g_dir_open(path.c_str(), 0, nullptr);
    while (const char *name = dir ? g_dir_read_name(dir) : nullptr) remove_tree(path + "/" + name);
  }
  g_remove(path.c_str());
}

// Downloaded clips and journals, removed at exit.
class Scratch {
 public:
  Scratch() {
    g_autofree gchar *made = g_dir_make_tmp("grokimagine-bench-XXXXXX", nullptr);
    dir_ = made;
  }
  ~Scratch() { remove_tree(dir_); }
  std::string path(const char *name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

std::string temp_path(const char *name) {
  static Scratch scratch;
  return scratch.path(name);
}

// Ours: grokimaginevideosrc resuming the finished job `id`, until `until`.
double time_resumed_decode(const EmulatorProcess &emulator, const std::string &id, Until until,
                           double *from_url = nullptr) {
  return time_decode("grokimaginevideosrc name=dec " + source_properties(emulator, "segmind") +
                         " request-id=" + id,
                     until, from_url);
}

// The first decoded video frame, ours (resuming the finished job `id`)
// against uridecodebin3 on its URL, alternated run by run after one
// unmeasured run of each (plugin loading, the decoder's first open).
// `ours_from_url`: ours from the moment it had the URL.
void race_first_frame(const EmulatorProcess &emulator, const std::string &id, int runs,
                      std::vector<double> *ours, std::vector<double> *theirs,
                      std::vector<double> *ours_from_url = nullptr) {
  const std::string url = clip_url(emulator, id);
  for (int i = -1; i < runs; i++) {
    if (i == 0) {
      ours->clear(), theirs->clear();
      if (ours_from_url) ours_from_url->clear();
    }
    double from_url = 0;
    ours->push_back(time_resumed_decode(emulator, id, Until::FirstFrame, &from_url));
    if (ours_from_url) ours_from_url->push_back(from_url);
    theirs->push_back(time_decode("uridecodebin3 name=dec uri=" + url, Until::FirstFrame));
  }
}

// Result ready -> first decoded video frame of a 6 s 480p clip.
void first_frame(const Config &config) {
  EmulatorProcess emulator({});
  const std::string id = make_job(emulator, "480p", 6);
  std::vector<double> ours, theirs;
  race_first_frame(emulator, id, config.runs, &ours, &theirs);
  add_row("result ready -> first video frame (6 s 480p clip)", format("%.1f ms", median(ours)),
          "uridecodebin3: " + format("%.1f ms", median(theirs)),
          ratio_text(median(ours), median(theirs)), "<= 1.1x");
}

// The same for a big clip, against downloading it whole and then decoding
// from the file.
void first_frame_big(const Config &config) {
  EmulatorSpec spec;
  spec.clip_bytes = config.quick ? 5000000 : 50000000;
  EmulatorProcess emulator(spec);
  const std::string id = make_job(emulator, "480p", 15);
  const std::string url = clip_url(emulator, id);
  const std::string path = temp_path("big.mp4");
  std::vector<double> ours, theirs;
  for (int i = 0; i < config.runs; i++) {
    ours.push_back(time_resumed_decode(emulator, id, Until::FirstFrame));
    const double download = time_download(url, path);
    theirs.push_back(download + time_decode("filesrc location=" + path + " ! decodebin3 name=dec",
                                            Until::FirstFrame));
  }
  GStatBuf info;
  g_stat(path.c_str(), &info);
  add_row("same, " + format("%.0f MB", double(info.st_size) / 1e6) + " clip",
          format("%.1f ms", median(ours)),
          "download, then filesrc ! decodebin3: " + format("%.1f ms", median(theirs)),
          format("%.1fx faster", median(theirs) / median(ours)), ">= 3x faster");
}

// A full decode as fast as the decoder goes (sync=false).
void full_decode(const Config &config) {
  EmulatorProcess emulator({});
  const std::string id = make_job(emulator, config.quick ? "480p" : "1080p", config.quick ? 3 : 15);
  const std::string path = temp_path("full.mp4");
  time_download(clip_url(emulator, id), path);
  std::vector<double> ours, theirs;
  for (int i = 0; i < config.runs; i++) {
    ours.push_back(time_resumed_decode(emulator, id, Until::Eos));
    theirs.push_back(
        time_decode("filesrc location=" + path + " ! decodebin3 name=dec", Until::Eos));
  }
  add_row(config.quick ? "full decode, 3 s 480p clip" : "full decode, 15 s 1080p clip (sync=false)",
          format("%.0f ms", median(ours)),
          "filesrc ! decodebin3: " + format("%.0f ms", median(theirs)),
          ratio_text(median(ours), median(theirs)), "<= 1.05x");
}

// --- a real network: the shaped CDN (issue 14) ------------------------------

// Two link models: a CDN capping each connection (more connections, more
// rate), and one access link every connection shares (most users' case:
// more connections only split it).
struct LinkProfile {
  std::uint64_t rate;  // bytes/s, per connection or of the shared link
  unsigned delay_ms;   // before each answer
  bool shared;
  std::string name() const {
    return shared ? "one shared " + format("%.1f MB/s", double(rate) / 1e6) + " link, " +
                        std::to_string(delay_ms) + " ms"
                  : format("%.1f MB/s", double(rate) / 1e6) + " per connection, " +
                        std::to_string(delay_ms) + " ms";
  }
  void shape(EmulatorSpec *spec) const {
    (shared ? spec->cdn_link_rate : spec->cdn_rate) = rate;
    spec->cdn_delay_ms = delay_ms;
  }
};

std::vector<LinkProfile> link_profiles(const Config &config) {
  if (config.quick) return {{2500000, 40, false}, {2500000, 40, true}};
  return {{2500000, 40, false}, {10000000, 100, false}, {2500000, 40, true}, {10000000, 100, true}};
}

// PLAYING -> first decoded video frame of a finished job's 10 s 1080p clip
// (about 7.5 MB) from the shaped CDN: ours resuming the job against
// uridecodebin3 on the URL, faststart and with the moov at the end.
void shaped_first_frame(const Config &config) {
  for (const LinkProfile &link : link_profiles(config)) {
    for (bool moov_at_end : {false, true}) {
      EmulatorSpec spec;
      spec.clip_bytes = 7500000;
      spec.moov_at_end = moov_at_end;
      link.shape(&spec);
      EmulatorProcess emulator(spec);
      const std::string id = make_job(emulator, "1080p", 10);
      std::vector<double> ours, theirs, from_url;
      race_first_frame(emulator, id, config.runs, &ours, &theirs, &from_url);
      add_row("the clip's URL -> first video frame, finished job, 10 s 1080p (7.5 MB), " +
                  std::string(moov_at_end ? "moov at the end" : "faststart") + "; CDN " +
                  link.name(),
              format("%.0f ms", median(from_url)) +
                  " (from PLAYING: " + format("%.0f ms", median(ours)) + ")",
              "uridecodebin3 given the URL: " + format("%.0f ms", median(theirs)),
              ratio_text(median(from_url), median(theirs)), "<= 1.05x");
    }
  }
}

double time_to_eos(const std::string &description) {
  Pipeline pipeline = parse(description);
  const double start = now_ms();
  run_to_eos(pipeline.get());
  return now_ms() - start;
}

// PLAYING -> EOS of grokimaginesrc ! filesink, a finished job's 60 MB clip
// from the shaped CDN, against souphttpsrc ! filesink; with and without
// Range on the CDN.
void shaped_download(const Config &config) {
  const std::string path = temp_path("shaped.mp4");
  for (const LinkProfile &link : link_profiles(config)) {
    for (bool ranges : {true, false}) {
      // Without Range there is one connection: the link model changes nothing.
      if (!ranges && link.shared) continue;
      EmulatorSpec spec;
      spec.clip_bytes = config.quick ? 10000000 : 60000000;
      link.shape(&spec);
      spec.ignore_range = !ranges;
      EmulatorProcess emulator(spec);
      const std::string id = make_job(emulator, "1080p", 15);
      const std::string url = clip_url(emulator, id);
      std::vector<double> ours, theirs;
      for (int i = 0; i < std::min(config.runs, 3); i++) {
        ours.push_back(time_to_eos("grokimaginesrc " + source_properties(emulator, "segmind") +
                                   " request-id=" + id + " ! filesink location=" + path));
        theirs.push_back(
            time_to_eos("souphttpsrc location=" + url + " ! filesink location=" + path));
      }
      GStatBuf info;
      g_stat(path.c_str(), &info);
      add_row("PLAYING -> EOS, grokimaginesrc ! filesink, " +
                  format("%.0f MB", double(info.st_size) / 1e6) + " clip; CDN " + link.name() +
                  (ranges ? "" : ", without Range"),
              format("%.2f s", median(ours) / 1000),
              "souphttpsrc ! filesink: " + format("%.2f s", median(theirs) / 1000),
              ratio_text(median(ours), median(theirs)),
              connections_override == 1 ? "<= 1.02x"
              : ranges && !link.shared  ? "<= 0.3x"
                                        : "<= 1.05x");
    }
  }
  g_remove(path.c_str());
}

// The number of connections: PLAYING -> EOS of the 60 MB download for
// each, on the 2.5 MB/s, 40 ms CDN (one run each).
void connections_sweep(const Config &config) {
  const std::string path = temp_path("shaped.mp4");
  EmulatorSpec spec;
  spec.clip_bytes = config.quick ? 10000000 : 60000000;
  spec.cdn_rate = 2500000;
  spec.cdn_delay_ms = 40;
  EmulatorProcess emulator(spec);
  const std::string id = make_job(emulator, "1080p", 15);
  double one = 0;
  for (unsigned connections : {1u, 2u, 3u, 4u, 6u, 8u}) {
    const double took = time_to_eos(
        "grokimaginesrc " + source_properties(emulator, "segmind") + " request-id=" + id +
        " connections=" + std::to_string(connections) + " ! filesink location=" + path);
    if (connections == 1) one = took;
    add_row("PLAYING -> EOS, 60 MB clip, connections=" + std::to_string(connections) +
                "; CDN 2.5 MB/s per connection, 40 ms",
            format("%.2f s", took / 1000), "connections=1: " + format("%.2f s", one / 1000),
            ratio_text(took, one), "");
  }
  g_remove(path.c_str());
}

// VmHWM (peak resident memory) of a live process, in kB; -1 once it is gone.
long peak_resident_kb(pid_t pid) {
  g_autofree gchar *status = nullptr;
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  if (!g_file_get_contents(path.c_str(), &status, nullptr, nullptr)) return -1;
  // Before its exec the child is still a copy of the bench: not counted.
  if (!g_str_has_prefix(status, "Name:\tgst-launch")) return -1;
  const char *line = std::strstr(status, "VmHWM:");
  return line ? std::strtol(line + 6, nullptr, 10) : -1;
}

// Peak RSS of a gst-launch-1.0 child process, in MB. Read from /proc while
// it runs: the rusage of a forked child counts the pages of the parent it
// was forked from (the bench's own, hundreds of MB after the decode runs).
double peak_rss_mb(const std::vector<std::string> &pipeline) {
  std::vector<std::string> args = {"gst-launch-1.0", "-q"};
  args.insert(args.end(), pipeline.begin(), pipeline.end());
  std::vector<char *> argv;
  for (auto &arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  long peak_kb = 0;
  int status = 0;
  // Until it exits, the last reading before the zombie's memory goes.
  while (waitpid(pid, &status, WNOHANG) == 0) {
    peak_kb = std::max(peak_kb, peak_resident_kb(pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("gst-launch-1.0 failed");
  return double(peak_kb) / 1024.0;
}

void peak_rss(const Config &config) {
  const std::vector<std::int64_t> sizes =
      config.quick ? std::vector<std::int64_t>{5000000}
                   : std::vector<std::int64_t>{10000000, 100000000, 500000000};
  // What gst-launch-1.0 itself takes (registry, plugins): the floor.
  const double floor = peak_rss_mb({"fakesrc", "num-buffers=1", "!", "fakesink"});
  for (std::int64_t size : sizes) {
    EmulatorSpec spec;
    spec.clip_bytes = size;
    EmulatorProcess emulator(spec);
    const std::string id = make_job(emulator, "1080p", 15);
    const std::string url = clip_url(emulator, id);
    const std::string out = "location=" + temp_path("rss.mp4");
    std::vector<double> ours, theirs;
    for (int i = 0; i < std::min(config.runs, 3); i++) {
      ours.push_back(
          peak_rss_mb({"grokimaginesrc", "provider=segmind", "api-url=" + emulator.api_url(),
                       std::string("api-key=") + kKey, "request-id=" + id, "!", "filesink", out}));
      theirs.push_back(peak_rss_mb({"souphttpsrc", "location=" + url, "!", "filesink", out}));
    }
    add_row(
        "peak RSS, grokimaginesrc ! filesink, " + format("%.0f MB", double(size) / 1e6) + " clip",
        format("%.1f MB", median(ours)),
        "souphttpsrc ! filesink: " + format("%.1f MB", median(theirs)) +
            " (gst-launch-1.0 moving nothing: " + format("%.1f MB", floor) + ")",
        ratio_text(median(ours), median(theirs)), "<= 1.2x, flat in clip size");
  }
}

// --- many jobs in one process ---------------------------------------------------

// The names of this process's threads, each as often as it occurs.
std::map<std::string, int> thread_names() {
  std::map<std::string, int> names;
  g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, nullptr);
  while (const char *task = dir ? g_dir_read_name(dir) : nullptr) {
    g_autofree gchar *name = nullptr;
    const std::string comm = std::string("/proc/self/task/") + task + "/comm";
    if (g_file_get_contents(comm.c_str(), &name, nullptr, nullptr)) names[g_strchomp(name)]++;
  }
  return names;
}

int thread_count(const std::map<std::string, int> &names) {
  int count = 0;
  for (const auto &[name, n] : names) count += n;
  return count;
}

// "name x n, ..." of the threads in `now` that `before` did not have.
std::string added_threads(const std::map<std::string, int> &before,
                          const std::map<std::string, int> &now, const std::string &skip_prefix) {
  std::string text;
  for (const auto &[name, n] : now) {
    auto had = before.find(name);
    const int added = n - (had == before.end() ? 0 : had->second);
    if (added <= 0 || g_str_has_prefix(name.c_str(), skip_prefix.c_str())) continue;
    text += (text.empty() ? "" : ", ") + name + (added > 1 ? " x" + std::to_string(added) : "");
  }
  return text;
}

double cpu_seconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct JobWatch {
  std::mutex mutex;
  std::string request_id;
  gint64 done_us = 0;  // when the element saw the provider say done
  bool eos = false;
  std::string error;
};

GstBusSyncReply watch_job(GstBus *, GstMessage *message, gpointer data) {
  auto *watch = static_cast<JobWatch *>(data);
  std::lock_guard<std::mutex> lock(watch->mutex);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(message);
      if (!gst_structure_has_name(s, "grokimagine-job")) break;
      const char *status = gst_structure_get_string(s, "status");
      watch->request_id = gst_structure_get_string(s, "request-id");
      if (watch->done_us == 0 &&
          (g_strcmp0(status, "done") == 0 || g_strcmp0(status, "COMPLETED") == 0))
        watch->done_us = g_get_monotonic_time();
      break;
    }
    case GST_MESSAGE_EOS:
      watch->eos = true;
      break;
    case GST_MESSAGE_ERROR: {
      g_autoptr(GError) error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      // The element's own error comes first; basesrc's "Internal data
      // stream error" follows it.
      if (watch->error.empty()) watch->error = error->message;
      break;
    }
    default:
      break;
  }
  return GST_BUS_DROP;
}

struct ManyJobs {
  int completed = 0;
  int failed = 0;
  std::string first_error;
  int added_threads = 0;    // peak threads beyond the baseline and one per source
  std::string added_names;  // which they were, at the peak
  double polling_cpu_percent = 0;
  std::vector<double> lags_ms;  // element saw done - emulator completed
};

// `count` pipelines `grokimaginesrc ! fakesink` submitting at once.
ManyJobs run_many(const EmulatorProcess &emulator, const std::string &provider, int count,
                  const std::string &extra, std::chrono::seconds polling_window_start,
                  std::chrono::seconds polling_window) {
  const auto baseline = thread_names();
  std::vector<Pipeline> pipelines;
  std::vector<std::unique_ptr<JobWatch>> watches;
  for (int i = 0; i < count; i++) {
    pipelines.push_back(parse("grokimaginesrc " + source_properties(emulator, provider) +
                              " prompt=job" + std::to_string(i) + " duration=1 " + extra +
                              " ! fakesink sync=false"));
    watches.push_back(std::make_unique<JobWatch>());
    g_autoptr(GstBus) bus = gst_element_get_bus(pipelines.back().get());
    gst_bus_set_sync_handler(bus, watch_job, watches.back().get(), nullptr);
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto &pipeline : pipelines) gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  ManyJobs result;
  double cpu_at_window = -1;
  bool window_done = false;
  for (;;) {
    int finished = 0;
    for (auto &watch : watches) {
      std::lock_guard<std::mutex> lock(watch->mutex);
      if (watch->eos || !watch->error.empty()) finished++;
    }
    const auto names = thread_names();
    const int added = thread_count(names) - thread_count(baseline) - count;
    if (added > result.added_threads) {
      result.added_threads = added;
      // Streaming threads are named after their element.
      result.added_names = added_threads(baseline, names, "grokimaginesrc");
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (cpu_at_window < 0 && elapsed >= polling_window_start) cpu_at_window = cpu_seconds();
    if (!window_done && elapsed >= polling_window_start + polling_window) {
      result.polling_cpu_percent =
          (cpu_seconds() - cpu_at_window) * 100.0 / double(polling_window.count());
      window_done = true;
    }
    if (finished == count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const EmulatorStats seen = stats(emulator);
  for (auto &watch : watches) {
    if (watch->eos) {
      result.completed++;
      auto completed = seen.completed_us.find(watch->request_id);
      if (completed != seen.completed_us.end() && watch->done_us > 0)
        result.lags_ms.push_back(double(watch->done_us - completed->second) / 1000.0);
    } else {
      result.failed++;
      if (result.first_error.empty()) result.first_error = watch->error;
    }
  }
  pipelines.clear();
  return result;
}

void many_jobs(const Config &config) {
  const int count = config.quick ? 10 : 100;
  EmulatorSpec spec;
  spec.generation_ms = config.quick ? 5000 : 30000;
  EmulatorProcess emulator(spec);
  const ManyJobs run =
      run_many(emulator, "segmind", count, "", std::chrono::seconds(config.quick ? 2 : 10),
               std::chrono::seconds(config.quick ? 2 : 10));
  add_row(std::to_string(count) + " concurrent jobs in one process (segmind, " +
              format("%.0f s", spec.generation_ms / 1000.0) + " generation)",
          std::to_string(run.completed) + " of " + std::to_string(count) + " complete" +
              (run.failed ? " (" + run.first_error + ")" : ""),
          std::to_string(run.added_threads) + " threads beyond the " + std::to_string(count) +
              " streaming threads (" + run.added_names + "); CPU while polling " +
              format("%.1f %% of a core", run.polling_cpu_percent),
          "", "all complete; <= 4 threads");
}

void rate_limited_jobs(const Config &config) {
  const int count = config.quick ? 5 : 100;
  EmulatorSpec spec;
  spec.provider = "xai";
  spec.rate_limit = 1;
  spec.generation_ms = config.quick ? 5000 : 120000;
  EmulatorProcess emulator(spec);
  const ManyJobs run =
      run_many(emulator, "xai", count, "", std::chrono::seconds(1), std::chrono::seconds(1));
  const EmulatorStats seen = stats(emulator);
  const double lag = median(run.lags_ms);
  const double worst =
      run.lags_ms.empty() ? 0 : *std::max_element(run.lags_ms.begin(), run.lags_ms.end());
  add_row(std::to_string(count) + " concurrent xai jobs, emulator limited to 1 request/s per key",
          std::to_string(run.completed) + " of " + std::to_string(count) + " complete" +
              (run.failed ? " (" + run.first_error + ")" : "") + ", " +
              std::to_string(seen.rate_limited) + " responses 429",
          "completion seen " + format("%.1f s", lag / 1000) + " (median), " +
              format("%.1f s", worst / 1000) + " (worst) after the emulator finished; " +
              format("%.1f", double(seen.status_polls) / count) + " polls per job",
          "", "0 x 429; within one poll period");
}

// One long job polled by our schedule and by a fixed 1 s poll, each against
// its own emulator, side by side.
void requests_per_job(const Config &config) {
  const unsigned generation_ms = config.quick ? 6000 : 120000;
  const int pairs = config.quick ? 1 : 3;
  EmulatorSpec spec;
  spec.provider = "xai";
  spec.rate_limit = 1;
  spec.generation_ms = generation_ms;
  std::vector<std::unique_ptr<EmulatorProcess>> ours_emulators, fixed_emulators;
  std::vector<std::thread> threads;
  std::vector<ManyJobs> ours(pairs), fixed(pairs);
  for (int i = 0; i < pairs; i++) {
    ours_emulators.push_back(std::make_unique<EmulatorProcess>(spec));
    fixed_emulators.push_back(std::make_unique<EmulatorProcess>(spec));
  }
  for (int i = 0; i < pairs; i++) {
    threads.emplace_back([&, i] {
      ours[i] = run_many(*ours_emulators[i], "xai", 1, "", std::chrono::seconds(0),
                         std::chrono::seconds(0));
    });
    threads.emplace_back([&, i] {
      fixed[i] = run_many(*fixed_emulators[i], "xai", 1, "poll-interval=1000",
                          std::chrono::seconds(0), std::chrono::seconds(0));
    });
  }
  for (auto &thread : threads) thread.join();
  std::vector<double> ours_polls, fixed_polls, ours_lag, fixed_lag;
  for (int i = 0; i < pairs; i++) {
    ours_polls.push_back(double(stats(*ours_emulators[i]).status_polls));
    fixed_polls.push_back(double(stats(*fixed_emulators[i]).status_polls));
    ours_lag.insert(ours_lag.end(), ours[i].lags_ms.begin(), ours[i].lags_ms.end());
    fixed_lag.insert(fixed_lag.end(), fixed[i].lags_ms.begin(), fixed[i].lags_ms.end());
  }
  add_row("status requests per " + format("%.0f s", generation_ms / 1000.0) + " xai job",
          format("%.0f requests", median(ours_polls)) + ", completion seen after " +
              format("%.2f s", median(ours_lag) / 1000),
          "fixed 1 s poll: " + format("%.0f requests", median(fixed_polls)) + ", seen after " +
              format("%.2f s", median(fixed_lag) / 1000),
          format("%.2fx the requests", median(ours_polls) / median(fixed_polls)),
          "fewer requests, equal or better lag");
}

// --- the journal's entries in PostgreSQL (store, issue 22) ----------------

struct JournalTimes {
  std::vector<double> claim_ms, job_ms;
};

// Job `index` through `journal` as the element takes a new job: claimed
// before its submit (the entry written as submitting, held), named by the
// provider, finished with its clip's URL: three writes. Times the claim
// and the whole.
void journal_job(const grokimagine::Journal &journal, int index, JournalTimes *times) {
  grokimagine::JournalEntry entry;
  entry.prompt = "store bench job " + std::to_string(index);
  entry.fingerprint = grokimagine::sha256_hex(entry.prompt);
  entry.provider = "segmind";
  entry.kind = "video";
  entry.duration = 6;
  entry.resolution = "480p";
  grokimagine::JobRecord record;
  record.prepare(journal, grokimagine::Reuse::Unfinished, entry, std::chrono::hours(24));
  const double start = now_ms();
  const auto claimed = record.claim(10000, nullptr);
  const double claimed_at = now_ms();
  if (const auto *error = std::get_if<grokimagine::Error>(&claimed))
    fail("claim: " + error->message);
  if (!std::get<std::string>(claimed).empty()) fail("claim: job " + entry.prompt + " is not new");
  const std::string id = "id-" + std::to_string(index);
  record.submitted(id);
  record.finished(std::vector<grokimagine::Output>{{"https://cdn.example/" + id + ".mp4"}}, false);
  times->job_ms.push_back(now_ms() - start);
  times->claim_ms.push_back(claimed_at - start);
}

// The journal in a PostgreSQL server of our own (on this machine, a unix
// socket, fsync on as the journal's files are fsynced) against the
// journal's files, job by job, after one unmeasured job of each (the
// store's first connection makes its schema); then whole grokimaginesrc
// jobs with each.
void store_journal(const Config &config) {
  const int jobs = config.quick ? 30 : 300;
  const test::PostgresServer server(true);
  auto opened = grokimagine::open_store(server.conninfo(), std::chrono::seconds(10));
  if (!opened.ok()) fail("store: " + opened.error().message);
  auto entries = *opened;
  const std::string files_dir = temp_path("journal-files"), store_dir = temp_path("journal-store");
  const grokimagine::Journal files(files_dir), stored(store_dir, entries);
  JournalTimes on_files, on_store;
  for (int i = -1; i < jobs; i++) {
    if (i == 0) on_files = on_store = {};
    journal_job(files, i, &on_files);
    journal_job(stored, i, &on_store);
  }
  const auto per_second = [](const std::vector<double> &ms) {
    return double(ms.size()) * 1000 / std::accumulate(ms.begin(), ms.end(), 0.0);
  };
  add_row("store: claims per second, " + std::to_string(jobs) +
              " new jobs one after another (claim() alone)",
          format("%.0f claims/s", per_second(on_store.claim_ms)),
          "the journal's files: " + format("%.0f claims/s", per_second(on_files.claim_ms)),
          ratio_text(per_second(on_store.claim_ms), per_second(on_files.claim_ms)), "-");
  const auto median_p95 = [](const std::vector<double> &ms) {
    return format("%.1f", median(ms)) + " / " + format("%.1f ms", percentile(ms, 95));
  };
  add_row("store: one job's claim, submitted and finished, median / p95",
          median_p95(on_store.job_ms), "the journal's files: " + median_p95(on_files.job_ms),
          format("%+.1f", median(on_store.job_ms) - median(on_files.job_ms)) + " / " +
              format("%+.1f ms", percentile(on_store.job_ms, 95) - percentile(on_files.job_ms, 95)),
          "-");
  // What that is beside a whole job's requests and download: 1 s 480p, no
  // generation time, polled every 100 ms.
  EmulatorProcess emulator({});
  const auto element_job = [&](int index, const std::string &journal_properties) {
    return time_to_eos("grokimaginesrc " + source_properties(emulator, "segmind") +
                       " prompt=store-" + std::to_string(index) + " duration=1 poll-interval=100 " +
                       journal_properties + " ! fakesink");
  };
  std::vector<double> element_files, element_store;
  for (int i = -1; i < config.runs; i++) {
    if (i == 0) element_files.clear(), element_store.clear();
    element_job(i, "");  // the emulator encodes a prompt's clip on its first job
    element_files.push_back(element_job(i, "journal=" + files_dir));
    element_store.push_back(
        element_job(i, "journal=" + store_dir + " store=\"" + server.conninfo() + "\""));
  }
  add_row("store: PLAYING -> EOS, grokimaginesrc ! fakesink, a new 1 s 480p job",
          format("%.0f ms", median(element_store)),
          "the journal's files: " + format("%.0f ms", median(element_files)),
          format("%+.0f ms", median(element_store) - median(element_files)), "-");
}

// --- the channel -----------------------------------------------------------

// What left a channel's pads: the largest distance between where a buffer
// started and where the previous one ended (a gap or an overlap), per
// stream, and the buffers a synced sink found late.
struct SeamWatch {
  std::mutex mutex;
  GstClockTime next[2] = {GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE};
  GstClockTimeDiff worst[2] = {0, 0};
  int clips = 0;
  int late = 0;  // QoS messages: buffers a synced sink got too late
  GstClockTime filler = 0;
  std::vector<double> resident_mb;  // this process's, as each clip started
};

// This process's resident memory now, in MB.
double resident_mb() {
  g_autofree gchar *statm = nullptr;
  if (!g_file_get_contents("/proc/self/statm", &statm, nullptr, nullptr)) return -1;
  long pages = 0;
  std::sscanf(statm, "%*s %ld", &pages);
  return double(pages) * double(sysconf(_SC_PAGESIZE)) / 1e6;
}

GstPadProbeReturn on_channel_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *watch = static_cast<SeamWatch *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  const int stream = g_str_equal(GST_PAD_NAME(pad), "video") ? 0 : 1;
  std::lock_guard<std::mutex> lock(watch->mutex);
  if (GST_CLOCK_TIME_IS_VALID(watch->next[stream])) {
    const GstClockTimeDiff off = GST_CLOCK_DIFF(watch->next[stream], GST_BUFFER_PTS(buffer));
    watch->worst[stream] = std::max(watch->worst[stream], off < 0 ? -off : off);
  }
  watch->next[stream] = GST_BUFFER_PTS(buffer) + GST_BUFFER_DURATION(buffer);
  return GST_PAD_PROBE_OK;
}

GstBusSyncReply watch_channel(GstBus *, GstMessage *message, gpointer data) {
  auto *watch = static_cast<SeamWatch *>(data);
  const GstStructure *s = gst_message_get_structure(message);
  std::lock_guard<std::mutex> lock(watch->mutex);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_QOS) watch->late++;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT && s) {
    if (gst_structure_has_name(s, "grokimagine-clip")) {
      watch->clips++;
      watch->resident_mb.push_back(resident_mb());
    }
    guint64 duration = 0;
    if (gst_structure_has_name(s, "grokimagine-filler") &&
        gst_structure_get_uint64(s, "duration", &duration) && watch->clips > 0)
      watch->filler += duration;  // the wait for the first clip is not counted
  }
  return GST_BUS_PASS;
}

// What a channel run is: `clips` prompts of `clip_seconds` each.
struct ChannelRun {
  int clips;
  bool live;
  unsigned lookahead = 1;
  std::string provider = "segmind";
  int clip_seconds = 1;
  std::string continuity = "none";
};

// Runs a channel until its clips have started (live) or EOS; returns what
// was seen.
void run_channel(const EmulatorProcess &emulator, const ChannelRun &run, SeamWatch *watch) {
  std::string prompts;
  for (int i = 0; i < run.clips; i++)
    prompts += (i ? "," : "") + std::string("clip") + std::to_string(i);
  const std::string sync = run.live ? "sync=true qos=true" : "sync=false";
  Pipeline pipeline =
      parse("grokimaginechannel name=c " + source_properties(emulator, run.provider) +
            " duration=" + std::to_string(run.clip_seconds) + " continuity=" + run.continuity +
            " poll-interval=100 lookahead=" + std::to_string(run.lookahead) +
            (run.live ? " is-live=true" : "") + " prompts=\"<" + prompts +
            ">\" c.video ! queue ! fakesink " + sync + " c.audio ! queue ! fakesink " + sync);
  GstElement *channel = gst_bin_get_by_name(GST_BIN(pipeline.get()), "c");
  for (const char *name : {"video", "audio"}) {
    g_autoptr(GstPad) pad = gst_element_get_static_pad(channel, name);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_channel_buffer, watch, nullptr);
  }
  gst_object_unref(channel);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline.get());
  gst_bus_set_sync_handler(bus, watch_channel, watch, nullptr);
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  const gint64 deadline = g_get_monotonic_time() + gint64(run.clips) * 30 * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
        bus, 50 * GST_MSECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (message && GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
      g_autoptr(GError) error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      fail(std::string("channel: ") + error->message);
    }
    if (message) break;
    {
      std::lock_guard<std::mutex> lock(watch->mutex);
      // Live: the last clip's length more lets it play out.
      if (run.live && watch->clips >= run.clips && watch->next[0] != GST_CLOCK_TIME_NONE) {
        g_usleep(gulong(run.clip_seconds) * G_USEC_PER_SEC + 100000);
        break;
      }
    }
    if (g_get_monotonic_time() > deadline) fail("the channel did not play its clips");
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}

void channel_seams(const Config &config) {
  const int clips = config.quick ? 4 : 20;
  EmulatorProcess emulator(EmulatorSpec{});
  SeamWatch watch;
  run_channel(emulator, {clips, false}, &watch);
  add_row(
      "channel: largest gap or overlap between buffers over " + std::to_string(clips) +
          " clips (video / audio)",
      format("%.0f ns", double(watch.worst[0])) + " / " + format("%.0f ns", double(watch.worst[1])),
      "clips glued by a player or ffmpeg: a 1-3 s seam", "-", "0 / 0");
  SeamWatch live;
  run_channel(emulator, {config.quick ? 3 : 10, true}, &live);
  add_row("channel, live, generation keeping up: late buffers at a synced sink",
          std::to_string(live.late), "-", "-", "0");
}

void channel_lookahead(const Config &config) {
  // Generation three times slower than playback: 3 s for each 1 s clip.
  EmulatorSpec spec;
  spec.generation_ms = 3000;
  EmulatorProcess emulator(spec);
  const int clips = config.quick ? 3 : 6;
  std::string filler;
  for (unsigned lookahead : {1u, 2u, 3u, 4u}) {
    SeamWatch watch;
    run_channel(emulator, {clips, true, lookahead}, &watch);
    filler += (filler.empty() ? "" : ", ") + std::to_string(lookahead) + ": " +
              format("%.1f s", double(watch.filler) / GST_SECOND);
  }
  add_row("channel, live, 3 s to generate a 1 s clip: filler after the first clip, by lookahead",
          filler, "-", "-", "the lookahead that reaches 0 s");
}

void channel_cpu(const Config &config) {
  const int clips = config.quick ? 3 : 10;
  EmulatorProcess emulator(EmulatorSpec{});
  // What decoding and scaling the same clips cost by themselves: each
  // downloaded once, then filesrc ! decodebin3 ! scale/convert to the
  // channel's format.
  std::vector<std::string> files;
  for (int i = 0; i < clips; i++) {
    const std::string id = make_job(emulator, "480p", 1);
    const std::string path = temp_path("full.mp4") + std::to_string(i);
    time_download(clip_url(emulator, id), path);
    files.push_back(path);
  }
  const double before_baseline = cpu_seconds();
  for (const auto &file : files) {
    Pipeline pipeline =
        parse("filesrc location=" + file +
              " ! decodebin3 name=d d. ! queue ! videoconvert ! "
              "videoscale ! videorate ! video/x-raw,format=I420,width=848,height=480,"
              "framerate=24/1 ! fakesink sync=false d. ! queue ! audioconvert ! audioresample ! "
              "audio/x-raw,format=S16LE,rate=48000,channels=2 ! fakesink sync=false");
    run_to_eos(pipeline.get());
    g_remove(file.c_str());
  }
  const double baseline = cpu_seconds() - before_baseline;
  const double before = cpu_seconds();
  SeamWatch watch;
  run_channel(emulator, {clips, false}, &watch);
  const double ours = cpu_seconds() - before;
  add_row("channel CPU for " + std::to_string(clips) + " clips (non-live)", format("%.2f s", ours),
          format("%.2f s decoding and scaling alone", baseline), ratio_text(ours, baseline),
          "little beyond decoding and scaling");
}

void channel_continuity(const Config &config) {
  // xai, 3 s clips (an extension adds 2 to 10 s) taking 1 s to generate,
  // plus the emulator's encoding (an extension's input is decoded and
  // encoded again with the new part): generation keeps up with playback.
  EmulatorSpec spec;
  spec.provider = "xai";
  spec.generation_ms = 1000;
  EmulatorProcess emulator(spec);
  const int clips = config.quick ? 3 : 8;
  SeamWatch extend, last_frame;
  run_channel(emulator, {clips, true, 1, "xai", 3, "extend"}, &extend);
  run_channel(emulator, {clips, true, 1, "xai", 3, "last-frame"}, &last_frame);
  const auto seconds = [](GstClockTime t) { return format("%.1f s", double(t) / GST_SECOND); };
  add_row("channel, live, continuity=extend, " + std::to_string(clips) +
              " 3 s clips taking 1 s to generate: filler after the first clip / late buffers / "
              "largest seam (video, audio)",
          seconds(extend.filler) + " / " + std::to_string(extend.late) + " / " +
              format("%.0f ns", double(extend.worst[0])) + ", " +
              format("%.0f ns", double(extend.worst[1])),
          "continuity=last-frame (a clip waits for the previous one to play): " +
              seconds(last_frame.filler) + " / " + std::to_string(last_frame.late),
          "-", "0 s / 0 / 0 ns");
}

void channel_memory(const Config &config) {
  // A live channel fed new prompts for minutes: each clip a new job, its
  // pipeline and file made ahead, played, dropped.
  EmulatorProcess emulator(EmulatorSpec{});
  const int clips = config.quick ? 6 : 90;
  SeamWatch watch;
  run_channel(emulator, {clips, true, 1, "segmind", 2}, &watch);
  const std::vector<double> &rss = watch.resident_mb;
  if (int(rss.size()) < clips) fail("the channel did not play its clips");
  // Past the first clips' one-time costs, the median of each third: the
  // clips' own buffers come and go within a third.
  const auto median_of = [&](int from, int to) {
    std::vector<double> part(rss.begin() + from, rss.begin() + to);
    return median(part);
  };
  const int third = clips / 3;
  const double first = median_of(third / 2, third), second = median_of(third, 2 * third),
               last = median_of(2 * third, clips);
  std::string samples;
  for (double mb : rss) samples += format(" %.0f", mb);
  std::fprintf(stderr, "channel-memory: MB as each clip started:%s\n", samples.c_str());
  add_row(
      "channel, live, " + std::to_string(clips) + " new 2 s clips (" +
          format("%.0f", clips * 2 / 60.0) +
          " min): resident memory, median over each third of the clips",
      format("%.1f MB", first) + ", " + format("%.1f MB", second) + ", " + format("%.1f MB", last),
      "-", "-", "flat: no growth with the clips played");
}

// --- channel-soak: a live channel for a long run, beside a playlist -------

// One side of the soak, measured in a process of its own (re-running this
// program with --soak-child): memory and threads a second, CPU over all.
struct Soak {
  std::vector<double> rss_mb;
  std::vector<int> threads;
  double cpu_s = 0;
  double seconds = 0;
};

constexpr int kSoakClips = 20;       // distinct clips, played in turn
constexpr int kSoakClipSeconds = 2;  // a new clip every 2 s

int thread_count() {
  g_autofree gchar *status = nullptr;
  if (!g_file_get_contents("/proc/self/status", &status, nullptr, nullptr)) return -1;
  const char *line = strstr(status, "\nThreads:");
  return line ? std::atoi(line + 9) : -1;
}

// Plays `pipeline` for `minutes`, sampling every second; fails on an error.
Soak soak(GstElement *pipeline, double minutes) {
  Soak result;
  const double cpu_before = cpu_seconds();
  const gint64 start = g_get_monotonic_time();
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  while (g_get_monotonic_time() - start < gint64(minutes * 60 * G_USEC_PER_SEC)) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
        bus, GST_SECOND, GstMessageType(GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    if (message) {
      g_autoptr(GError) error = nullptr;
      if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR)
        gst_message_parse_error(message, &error, nullptr);
      fail(std::string("soak: ") + (error ? error->message : "EOS"));
    }
    result.rss_mb.push_back(resident_mb());
    result.threads.push_back(thread_count());
  }
  result.seconds = double(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
  result.cpu_s = cpu_seconds() - cpu_before;
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return result;
}

// The child's side: the channel making a new clip every 2 s, or playbin3
// playing the same clips as a gapless playlist. Prints the samples.
int soak_child(const std::string &side, double minutes, const std::string &api_url,
               const std::string &clips_dir) {
  Soak result;
  if (side == "channel") {
    std::string prompts;
    const int count = int(minutes * 60 / kSoakClipSeconds) + 10;
    for (int i = 0; i < count; i++)
      prompts += (i ? "," : "") + std::string("clip") + std::to_string(i % kSoakClips);
    Pipeline pipeline =
        parse("grokimaginechannel name=c is-live=true provider=segmind api-url=" + api_url +
              " api-key=" + kKey + " duration=" + std::to_string(kSoakClipSeconds) +
              " poll-interval=100 max-queued=0 prompts=\"<" + prompts +
              ">\" c.video ! queue ! fakesink sync=true c.audio ! queue ! fakesink sync=true");
    result = soak(pipeline.get(), minutes);
  } else {
    Pipeline pipeline = parse(
        "playbin3 video-sink=\"fakesink sync=true\" "
        "audio-sink=\"fakesink sync=true\"");
    struct Playlist {
      std::string dir;
      int next = 1;
    } playlist{clips_dir};
    auto uri = [&](int index) {
      g_autofree gchar *path =
          g_build_filename(clips_dir.c_str(),
                           ("clip" + std::to_string(index % kSoakClips) + ".mp4").c_str(), nullptr);
      g_autofree gchar *text = g_filename_to_uri(path, nullptr, nullptr);
      return std::string(text);
    };
    g_object_set(pipeline.get(), "uri", uri(0).c_str(), nullptr);
    // Gapless: the next clip is given while this one plays.
    g_signal_connect(
        pipeline.get(), "about-to-finish", G_CALLBACK(+[](GstElement *playbin, Playlist *list) {
          g_autofree gchar *path = g_build_filename(
              list->dir.c_str(),
              ("clip" + std::to_string(list->next++ % kSoakClips) + ".mp4").c_str(), nullptr);
          g_autofree gchar *text = g_filename_to_uri(path, nullptr, nullptr);
          g_object_set(playbin, "uri", text, nullptr);
        }),
        &playlist);
    result = soak(pipeline.get(), minutes);
  }
  std::string line = format("soak %.3f", result.seconds) + format(" %.3f", result.cpu_s);
  for (std::size_t i = 0; i < result.rss_mb.size(); i++)
    line += format(" %.2f", result.rss_mb[i]) + ":" + std::to_string(result.threads[i]);
  std::printf("%s\n", line.c_str());
  return 0;
}

// One side in a child process of its own (its figures alone), started now;
// finish() waits for it and reads its samples. Both sides run at once, so
// that they share the machine's conditions (and the run takes half as long).
class SoakSide {
 public:
  SoakSide(const char *side, double minutes, const std::string &api_url,
           const std::string &clips_dir)
      : side_(side) {
    g_autofree gchar *self = g_file_read_link("/proc/self/exe", nullptr);
    const std::string minutes_text = format("%.3f", minutes);
    const gchar *argv[] = {self,
                           "--soak-child",
                           side,
                           "--minutes",
                           minutes_text.c_str(),
                           "--soak-api-url",
                           api_url.c_str(),
                           "--soak-clips",
                           clips_dir.c_str(),
                           nullptr};
    g_autoptr(GError) error = nullptr;
    process_ = g_subprocess_newv(argv, GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_PIPE), &error);
    if (!process_) fail(std::string("soak ") + side + ": " + error->message);
  }
  ~SoakSide() { g_clear_object(&process_); }

  Soak finish() {
    g_autofree gchar *out = nullptr;
    g_autoptr(GError) error = nullptr;
    if (!g_subprocess_communicate_utf8(process_, nullptr, nullptr, &out, nullptr, &error) ||
        !g_subprocess_get_successful(process_))
      fail("soak " + side_ + (error ? std::string(": ") + error->message : " failed"));
    Soak result;
    const char *line = out ? strstr(out, "soak ") : nullptr;
    if (!line) fail("soak " + side_ + " printed nothing");
    g_auto(GStrv) fields = g_strsplit(line + 5, " ", -1);
    result.seconds = g_ascii_strtod(fields[0], nullptr);
    result.cpu_s = g_ascii_strtod(fields[1], nullptr);
    for (int i = 2; fields[i]; i++) {
      result.rss_mb.push_back(g_ascii_strtod(fields[i], nullptr));
      const char *colon = strchr(fields[i], ':');
      result.threads.push_back(colon ? std::atoi(colon + 1) : -1);
    }
    return result;
  }

 private:
  std::string side_;
  GSubprocess *process_ = nullptr;
};

// Past the warm-up: the median RSS of the first and last thirds, the slope
// over the second half (MB/h, least squares), threads (min-max), CPU s/s.
struct SoakFigures {
  double start_mb, end_mb, first_third, last_third, slope_mb_h;
  int threads_min, threads_max;
  double cpu_per_s;
};

SoakFigures figures_of(const Soak &soak, int warm_up_s) {
  std::vector<double> rss(
      soak.rss_mb.begin() + std::min<std::size_t>(warm_up_s, soak.rss_mb.size()),
      soak.rss_mb.end());
  if (rss.size() < 6) fail("soak: too few samples");
  const std::size_t third = rss.size() / 3;
  SoakFigures figures{};
  figures.start_mb = soak.rss_mb.front();
  figures.end_mb = soak.rss_mb.back();
  figures.first_third = median({rss.begin(), rss.begin() + std::ptrdiff_t(third)});
  figures.last_third = median({rss.end() - std::ptrdiff_t(third), rss.end()});
  const std::size_t half = rss.size() / 2;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = double(rss.size() - half);
  for (std::size_t i = half; i < rss.size(); i++) {
    const double x = double(i) / 3600.0, y = rss[i];  // hours (a sample a second), MB
    sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  figures.slope_mb_h = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const auto [low, high] =
      std::minmax_element(soak.threads.begin() + warm_up_s, soak.threads.end());
  figures.threads_min = *low;
  figures.threads_max = *high;
  figures.cpu_per_s = soak.cpu_s / soak.seconds;
  return figures;
}

std::string describe(const SoakFigures &f) {
  return format("RSS %.0f", f.start_mb) + format(" -> %.0f MB", f.end_mb) +
         format(", thirds %.1f", f.first_third) + format(" / %.1f MB", f.last_third) +
         format(", slope %+.1f MB/h", f.slope_mb_h) + ", threads " + std::to_string(f.threads_min) +
         (f.threads_max != f.threads_min ? "-" + std::to_string(f.threads_max) : "") +
         format(", CPU %.3f s/s", f.cpu_per_s);
}

void channel_soak(const Config &config) {
  const double minutes = config.quick ? 1 : config.soak_minutes;
  const int warm_up_s = config.quick ? 10 : 60;
  EmulatorProcess emulator(EmulatorSpec{});
  // The clips both sides play: the emulator makes one clip per prompt, the
  // same bytes each time it is asked again.
  g_autofree gchar *clips_dir = g_dir_make_tmp("grokimagine-soak-XXXXXX", nullptr);
  for (int i = 0; i < kSoakClips; i++) {
    Pipeline download =
        parse("grokimaginesrc " + source_properties(emulator, "segmind") + " prompt=clip" +
              std::to_string(i) + " duration=" + std::to_string(kSoakClipSeconds) +
              " ! filesink location=" + clips_dir + "/clip" + std::to_string(i) + ".mp4");
    run_to_eos(download.get());
  }
  SoakSide channel_side("channel", minutes, emulator.api_url(), clips_dir);
  SoakSide playlist_side("playlist", minutes, emulator.api_url(), clips_dir);
  const SoakFigures channel = figures_of(channel_side.finish(), warm_up_s);
  const SoakFigures playlist = figures_of(playlist_side.finish(), warm_up_s);
  for (int i = 0; i < kSoakClips; i++)
    g_unlink((std::string(clips_dir) + "/clip" + std::to_string(i) + ".mp4").c_str());
  g_rmdir(clips_dir);
  add_row("channel-soak, live 480p, a new 2 s clip every 2 s, " + format("%.0f min", minutes) +
              format(" (after %.0f s warm-up)", warm_up_s),
          describe(channel), "playbin3 gapless playlist of the same clips: " + describe(playlist),
          format("RSS %.2fx", channel.last_third / playlist.last_third) +
              format(", CPU %.2fx", channel.cpu_per_s / playlist.cpu_per_s),
          "last third <= first + 10 MB; slope <= 5 MB/h (60 min); threads constant; RSS and "
          "CPU <= 1.3x");
}

void print_table() {
  std::printf("| figure | grokimagine | compared with | ratio | target |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  for (const Row &row : table)
    std::printf("| %s | %s | %s | %s | %s |\n", row.figure.c_str(), row.ours.c_str(),
                row.compared.c_str(), row.ratio.c_str(), row.target.c_str());
}

}  // namespace

int main(int argc, char **argv) {
  // Every figure measures real jobs: no journal following one job from
  // another run (the bench repeats the same descriptions), nor a store
  // unless a figure names one.
  g_setenv("GROKIMAGINE_JOURNAL", "", TRUE);
  g_setenv("GROKIMAGINE_STORE", "", TRUE);
  Config config;
  gint runs = config.runs;
  gboolean quick = FALSE;
  g_autofree gchar *only = nullptr;
  gint connections = 0;
  gdouble minutes = config.soak_minutes;
  g_autofree gchar *soak_child_side = nullptr;
  g_autofree gchar *soak_api_url = nullptr;
  g_autofree gchar *soak_clips = nullptr;
  const GOptionEntry entries[] = {
      {"minutes", 0, 0, G_OPTION_ARG_DOUBLE, &minutes,
       "channel-soak: how long each side runs (60 by default; 10 for a CI-sized run)", "M"},
      {"soak-child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &soak_child_side, nullptr,
       nullptr},
      {"soak-api-url", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &soak_api_url, nullptr,
       nullptr},
      {"soak-clips", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &soak_clips, nullptr, nullptr},
      {"connections", 0, 0, G_OPTION_ARG_INT, &connections,
       "The sources' `connections` in every figure (0: their default)", "N"},
      {"runs", 0, 0, G_OPTION_ARG_INT, &runs, "Runs per figure (the median is shown)", "N"},
      {"quick", 0, 0, G_OPTION_ARG_NONE, &quick, "Small clips and few jobs: checks the bench runs",
       nullptr},
      {"only", 0, 0, G_OPTION_ARG_STRING, &only,
       "One figure: first-frame, first-frame-big, full-decode, rss, shaped-first-frame, "
       "shaped-download, connections, many-jobs, rate-limited, requests-per-job, store, "
       "channel, channel-lookahead, channel-cpu, channel-continuity, channel-memory, "
       "channel-soak",
       "NAME"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("- benchmark the Grok Imagine elements");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    std::fprintf(stderr, "grokimagine-bench: %s\n", error->message);
    return 2;
  }
  config.runs = std::max(1, runs);
  connections_override = unsigned(std::max(0, connections));
  config.quick = quick;
  config.soak_minutes = minutes;
  if (soak_child_side) {
    try {
      return soak_child(soak_child_side, minutes, soak_api_url ? soak_api_url : "",
                        soak_clips ? soak_clips : "");
    } catch (const std::exception &failure) {
      std::fprintf(stderr, "grokimagine-bench: %s\n", failure.what());
      return 1;
    }
  }
  const std::vector<std::pair<const char *, std::function<void(const Config &)>>> figures = {
      {"first-frame", first_frame},
      {"first-frame-big", first_frame_big},
      {"full-decode", full_decode},
      {"rss", peak_rss},
      {"shaped-first-frame", shaped_first_frame},
      {"shaped-download", shaped_download},
      {"connections", connections_sweep},
      {"many-jobs", many_jobs},
      {"rate-limited", rate_limited_jobs},
      {"requests-per-job", requests_per_job},
      {"store", store_journal},
      {"channel", channel_seams},
      {"channel-lookahead", channel_lookahead},
      {"channel-cpu", channel_cpu},
      {"channel-continuity", channel_continuity},
      {"channel-memory", channel_memory},
      {"channel-soak", channel_soak},
  };
  try {
    for (const auto &[name, measure] : figures)
      if (only == nullptr || g_strcmp0(only, name) == 0) measure(config);
  } catch (const std::exception &failure) {
    print_table();
    std::fprintf(stderr, "grokimagine-bench: %s\n", failure.what());
    return 1;
  }
  print_table();
  return 0;
}
