// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace test {

GQuark RunResult::error_domain() const {
  if (!error.message) return 0;
  g_autoptr(GError) gerror = nullptr;
  gst_message_parse_error(error.message, &gerror, nullptr);
  return gerror->domain;
}

int RunResult::error_code() const {
  if (!error.message) return -1;
  g_autoptr(GError) gerror = nullptr;
  gst_message_parse_error(error.message, &gerror, nullptr);
  return gerror->code;
}

std::string RunResult::error_text() const {
  if (!error.message) return {};
  g_autoptr(GError) gerror = nullptr;
  gst_message_parse_error(error.message, &gerror, nullptr);
  return gerror->message;
}

std::string RunResult::error_detail(const char *field) const {
  if (!error.message) return {};
  const GstStructure *details = nullptr;
  gst_message_parse_error_details(error.message, &details);
  if (!details || !gst_structure_has_field(details, field)) return {};
  if (gst_structure_get_field_type(details, field) == G_TYPE_STRING) {
    const gchar *value = gst_structure_get_string(details, field);
    return value ? value : "";
  }
  g_autofree gchar *text = gst_value_serialize(gst_structure_get_value(details, field));
  return text ? text : "";
}

RunResult run_pipeline(GstElement *pipeline, int timeout_s,
                       const std::function<void(GstMessage *)> &observe) {
  RunResult result;
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  const gint64 deadline = g_get_monotonic_time() + gint64(timeout_s) * G_USEC_PER_SEC;
  while (!result.eos && !result.error.message) {
    gint64 left = deadline - g_get_monotonic_time();
    fail_unless(left > 0, "pipeline did not finish within %d s", timeout_s);
    GstMessage *message = gst_bus_timed_pop(bus, GstClockTime(left) * GST_USECOND);
    if (!message) continue;
    OwnedMessage owned(message);
    if (observe) observe(message);
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_EOS:
        result.eos = true;
        break;
      case GST_MESSAGE_ERROR:
        result.error = std::move(owned);
        break;
      case GST_MESSAGE_PROGRESS: {
        GstProgressType type;
        g_autofree gchar *text = nullptr;
        gst_message_parse_progress(message, &type, nullptr, &text);
        const char *names[] = {"start", "continue", "complete", "canceled", "error"};
        result.progress_codes.push_back(names[type]);
        result.progress_texts.push_back(text ? text : "");
        break;
      }
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(message);
        if (gst_structure_has_name(s, "grokimagine-job")) {
          result.job_statuses.push_back(gst_structure_get_string(s, "status"));
          result.job_request_ids.push_back(gst_structure_get_string(s, "request-id"));
          int progress = -1;
          gst_structure_get_int(s, "progress", &progress);
          result.job_progress.push_back(progress);
        }
        break;
      }
      default:
        break;
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return result;
}

GstElement *pipeline_with_sink(GstElement *source) {
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  return pipeline;
}

RunResult run_failing(GstElement *source) {
  GstElement *pipeline = pipeline_with_sink(source);
  RunResult run = run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_if(run.eos, "the job should have failed");
  fail_unless(run.error.message != nullptr);
  return run;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

grokimagine::emulator::Options quick_options() {
  grokimagine::emulator::Options options;
  options.queued_ms = 50;
  options.generation_ms = 300;
  return options;
}

GstElement *make_element(const char *factory, const grokimagine::emulator::Emulator &emulator,
                         const char *provider, const char *prompt, const char *name) {
  GstElement *element = gst_element_factory_make(factory, name);
  fail_unless(element != nullptr, "%s not found", factory);
  const std::string api_url = emulator.api_url() + (std::string(provider) == "xai" ? "/v1" : "");
  gst_util_set_object_arg(G_OBJECT(element), "provider", provider);
  g_object_set(element, "api-url", api_url.c_str(), "api-key", emulator.options().api_key.c_str(),
               "prompt", prompt, "poll-interval", 100u, nullptr);
  return element;
}

std::string make_png(int width, int height, const char *pattern) {
  g_autofree gchar *path =
      g_build_filename(g_get_tmp_dir(), "grokimagine-test-XXXXXX.png", nullptr);
  int fd = g_mkstemp(path);
  fail_unless(fd >= 0);
  close(fd);
  g_autofree gchar *description = g_strdup_printf(
      "videotestsrc num-buffers=1 pattern=%s ! video/x-raw,width=%d,height=%d ! pngenc ! "
      "filesink location=%s",
      pattern, width, height, path);
  GstElement *pipeline = gst_parse_launch(description, nullptr);
  fail_unless(pipeline != nullptr);
  RunResult result = run_pipeline(pipeline, 30);
  fail_unless(result.eos, "writing the PNG failed: %s", result.error_text().c_str());
  gst_object_unref(pipeline);
  return path;
}

std::string read_file(const std::string &path) {
  g_autofree gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &contents, &length, nullptr)) return {};
  return std::string(contents, length);
}

static GstPadProbeReturn count_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *stats = static_cast<StreamStats *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  stats->buffers++;
  if (GST_BUFFER_PTS_IS_VALID(buffer)) {
    guint64 end = GST_BUFFER_PTS(buffer) +
                  (GST_BUFFER_DURATION_IS_VALID(buffer) ? GST_BUFFER_DURATION(buffer) : 0);
    stats->end_time = MAX(stats->end_time, end);
  }
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  if (caps) {
    const GstStructure *s = gst_caps_get_structure(caps, 0);
    gst_structure_get_int(s, "width", &stats->width);
    gst_structure_get_int(s, "height", &stats->height);
    if (gst_structure_get_int(s, "rate", &stats->rate)) {
      int channels = 1;
      gst_structure_get_int(s, "channels", &channels);
      const gchar *format = gst_structure_get_string(s, "format");
      int bytes_per_sample = format && g_str_has_prefix(format, "F32")   ? 4
                             : format && g_str_has_prefix(format, "S16") ? 2
                                                                         : 0;
      fail_unless(bytes_per_sample > 0, "unexpected audio format %s", format);
      stats->audio_samples += gst_buffer_get_size(buffer) / (bytes_per_sample * channels);
    }
  }
  return GST_PAD_PROBE_OK;
}

std::pair<int, int> decoded_image_size(const std::string &bytes) {
  TempDir dir;
  const std::string path = dir.path("image");
  fail_unless(g_file_set_contents(path.c_str(), bytes.data(), gssize(bytes.size()), nullptr));
  g_autofree gchar *description = g_strdup_printf(
      "filesrc location=%s ! decodebin ! videoconvert ! fakesink name=sink", path.c_str());
  GstElement *pipeline = gst_parse_launch(description, nullptr);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_object_unref(sink);
  StreamStats stats;
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &stats, nullptr);
  RunResult run = run_pipeline(pipeline, 30);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "decoding the image failed: %s", run.error_text().c_str());
  return {stats.width, stats.height};
}

struct SinkTargets {
  GstElement *pipeline;
  StreamStats *video;
  StreamStats *audio;
};

static void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *targets = static_cast<SinkTargets *>(data);
  g_autofree gchar *name = gst_pad_get_name(pad);
  StreamStats *stats = g_str_has_prefix(name, "video_") ? targets->video : targets->audio;
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(targets->pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  g_autoptr(GstPad) sink_pad = gst_element_get_static_pad(sink, "sink");
  fail_unless_equals_int(gst_pad_link(pad, sink_pad), GST_PAD_LINK_OK);
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, stats, nullptr);
}

void attach_counting_sinks(GstElement *pipeline, GstElement *source, StreamStats *video,
                           StreamStats *audio) {
  auto *targets = new SinkTargets{pipeline, video, audio};
  g_signal_connect_data(
      source, "pad-added", G_CALLBACK(on_pad_added), targets,
      [](gpointer data, GClosure *) { delete static_cast<SinkTargets *>(data); }, GConnectFlags(0));
}

static bool registers(Speed speed) {
  const char *cases = g_getenv("GROKIMAGINE_CASES");
  if (cases == nullptr || *cases == '\0') return true;
  return g_strcmp0(cases, speed == Speed::Quick ? "quick" : "slow") == 0;
}

TCase *cases(Suite *suite, Speed speed, const char *name, int timeout_s) {
  if (!registers(speed)) return nullptr;
  TCase *tc = tcase_create(name);
  tcase_set_timeout(tc, timeout_s);
  suite_add_tcase(suite, tc);
  return tc;
}

void wait_until(const std::function<bool()> &done, std::chrono::milliseconds timeout,
                const char *what) {
  const gint64 deadline = g_get_monotonic_time() + gint64(timeout.count()) * 1000;
  while (!done()) {
    fail_unless(g_get_monotonic_time() < deadline, "%s never happened", what);
    g_usleep(10000);
  }
}

std::string run_jobs_tool(std::vector<std::string> args, bool *ok) {
  const char *tool = g_getenv("GROKIMAGINE_JOBS");
  fail_unless(tool != nullptr);
  args.insert(args.begin(), tool);
  std::vector<char *> argv;
  for (auto &arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "LC_ALL", "C.UTF-8", TRUE);
  g_autofree gchar *out = nullptr;
  g_autofree gchar *err = nullptr;
  int status = 0;
  fail_unless(g_spawn_sync(nullptr, argv.data(), env, G_SPAWN_DEFAULT, nullptr, nullptr, &out, &err,
                           &status, nullptr));
  *ok = g_spawn_check_wait_status(status, nullptr);
  return std::string(out) + err;
}

TempDir::TempDir() {
  g_autofree gchar *dir = g_dir_make_tmp("grokimagine-test-XXXXXX", nullptr);
  fail_unless(dir != nullptr);
  dir_ = dir;
}

TempDir::~TempDir() {
  if (GDir *dir = g_dir_open(dir_.c_str(), 0, nullptr)) {
    while (const gchar *name = g_dir_read_name(dir)) g_remove(path(name).c_str());
    g_dir_close(dir);
  }
  g_rmdir(dir_.c_str());
}

std::string TempDir::path(const char *name) const {
  g_autofree gchar *path = g_build_filename(dir_.c_str(), name, nullptr);
  return path;
}

struct FileServer::Impl {
  std::string path, content_type, body;
  std::atomic<int> requests{0};
  GMainContext *context = g_main_context_new();
  GMainLoop *loop = g_main_loop_new(context, FALSE);
  std::thread thread;
  ~Impl() {
    g_main_loop_unref(loop);
    g_main_context_unref(context);
  }
};

FileServer::FileServer(std::string path, std::string content_type, std::string body)
    : impl_(new Impl{std::move(path), std::move(content_type), std::move(body)}) {
  std::mutex mutex;
  std::condition_variable cond;
  bool ready = false;
  impl_->thread = std::thread([&, impl = impl_] {
    g_main_context_push_thread_default(impl->context);
    SoupServer *server = soup_server_new(nullptr, nullptr);
    soup_server_add_handler(
        server, impl->path.c_str(),
        [](SoupServer *, SoupServerMessage *msg, const char *, GHashTable *, gpointer data) {
          auto *self = static_cast<Impl *>(data);
          self->requests++;
          // Whole bodies only (libsoup 3.2's own Range support asserts on
          // a Range past the end of a short body).
          soup_message_headers_remove(soup_server_message_get_request_headers(msg), "Range");
          soup_server_message_set_status(msg, 200, nullptr);
          soup_server_message_set_response(msg, self->content_type.c_str(), SOUP_MEMORY_COPY,
                                           self->body.data(), self->body.size());
        },
        impl, nullptr);
    fail_unless(soup_server_listen_local(server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, nullptr));
    GSList *uris = soup_server_get_uris(server);
    {
      std::lock_guard<std::mutex> lock(mutex);
      url_ = "http://127.0.0.1:" + std::to_string(g_uri_get_port(static_cast<GUri *>(uris->data)));
      ready = true;
    }
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    cond.notify_one();
    g_main_loop_run(impl->loop);
    g_object_unref(server);
    g_main_context_pop_thread_default(impl->context);
  });
  std::unique_lock<std::mutex> lock(mutex);
  cond.wait(lock, [&] { return ready; });
}

int FileServer::requests() const {
  return impl_->requests;
}

FileServer::~FileServer() {
  g_main_context_invoke(
      impl_->context,
      [](gpointer loop) -> gboolean {
        g_main_loop_quit(static_cast<GMainLoop *>(loop));
        return G_SOURCE_REMOVE;
      },
      impl_->loop);
  impl_->thread.join();
  delete impl_;
}

}  // namespace test

namespace test {

Child spawn_child_pipeline(const std::string &description,
                           const std::vector<std::pair<std::string, std::string>> &env) {
  g_autofree gchar *self = g_file_read_link("/proc/self/exe", nullptr);
  const gchar *argv[] = {self, nullptr};
  g_auto(GStrv) environment = g_get_environ();
  environment =
      g_environ_setenv(environment, "GROKIMAGINE_CHILD_PIPELINE", description.c_str(), TRUE);
  for (const auto &[name, value] : env)
    environment = g_environ_setenv(environment, name.c_str(), value.c_str(), TRUE);
  Child child;
  g_autoptr(GError) error = nullptr;
  fail_unless(g_spawn_async_with_pipes(nullptr, const_cast<gchar **>(argv), environment,
                                       G_SPAWN_DO_NOT_REAP_CHILD, nullptr, nullptr, &child.pid,
                                       nullptr, &child.out_fd, nullptr, &error),
              "%s", error ? error->message : "");
  return child;
}

std::pair<int, std::string> finish_child(Child child) {
  std::string printed;
  char buffer[4096];
  ssize_t n;
  while ((n = read(child.out_fd, buffer, sizeof buffer)) > 0) printed.append(buffer, size_t(n));
  close(child.out_fd);
  int status = 0;
  fail_unless(waitpid(child.pid, &status, 0) == child.pid);
  g_spawn_close_pid(child.pid);
  return {status, printed};
}

int run_child_pipeline_if_asked() {
  const char *description = g_getenv("GROKIMAGINE_CHILD_PIPELINE");
  if (!description) return -1;
  gst_init(nullptr, nullptr);
  g_autoptr(GError) error = nullptr;
  GstElement *pipeline = gst_parse_launch(description, &error);
  if (!pipeline) {
    g_print("ERROR: %s\n", error ? error->message : "no pipeline");
    return 1;
  }
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  int result = -1;
  while (result < 0) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);
    const GstStructure *s = gst_message_get_structure(message);
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_ELEMENT:
        if (gst_structure_has_name(s, "grokimagine-job"))
          g_print("status=%s request-id=%s\n", gst_structure_get_string(s, "status"),
                  gst_structure_get_string(s, "request-id"));
        break;
      case GST_MESSAGE_ERROR: {
        g_autoptr(GError) failure = nullptr;
        gst_message_parse_error(message, &failure, nullptr);
        g_print("ERROR: %s\n", failure->message);
        result = 1;
        break;
      }
      case GST_MESSAGE_EOS:
        result = 0;
        break;
      default:
        break;
    }
    fflush(stdout);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return result;
}

}  // namespace test
