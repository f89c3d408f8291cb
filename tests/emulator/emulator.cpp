#include "emulator.h"

#include "clip.h"
#include "emulator-debug.h"
#include "glib-ptr.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

GST_DEBUG_CATEGORY(grokimagine_emulator_debug);
#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

constexpr const char *kModelName = "grok-imagine-video";
constexpr const char *kJsonContentType = "application/json";
constexpr const char *kVideoContentType = "video/mp4";
constexpr glong kMaxPromptChars = 4096;
constexpr gint64 kMinDuration = 1;
constexpr gint64 kMaxDuration = 15;
constexpr int kDefaultDuration = 6;
constexpr const char *kDefaultResolution = "480p";
constexpr const char *kDefaultAspectRatio = "16:9";
const char *const kResolutions[] = {"480p", "720p", "1080p"};
const char *const kAspectRatios[] = {"16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"};
// Seconds a loopback image fetch may take before the submit is refused.
constexpr guint kImageFetchTimeoutS = 30;

void init_gstreamer_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A test process has usually initialised GStreamer already; the
    // standalone emulator gets here first.
    if (!gst_is_initialized()) gst_init(nullptr, nullptr);
    GST_DEBUG_CATEGORY_INIT(grokimagine_emulator_debug, "grokimagine-emulator", 0,
                            "Grok Imagine provider emulator");
  });
}

bool starts_with(const std::string &text, const char *prefix) {
  return text.compare(0, std::strlen(prefix), prefix) == 0;
}

bool ends_with(const std::string &text, const char *suffix) {
  const std::size_t length = std::strlen(suffix);
  return text.size() >= length && text.compare(text.size() - length, length, suffix) == 0;
}

std::string trimmed(const std::string &text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::vector<std::string> path_segments(const char *path) {
  std::vector<std::string> segments;
  g_auto(GStrv) pieces = g_strsplit(path, "/", -1);
  for (gchar **piece = pieces; *piece != nullptr; ++piece) {
    if (**piece != '\0') segments.emplace_back(*piece);
  }
  return segments;
}

template <std::size_t N>
bool is_one_of(const std::string &value, const char *const (&allowed)[N]) {
  return std::any_of(std::begin(allowed), std::end(allowed),
                     [&](const char *candidate) { return value == candidate; });
}

template <std::size_t N>
std::string joined(const char *const (&items)[N]) {
  std::string text;
  for (const char *item : items) text += (text.empty() ? "" : ", ") + std::string(item);
  return text;
}

// Builds the small JSON objects the API answers with.
class JsonWriter {
 public:
  JsonWriter() : builder_(json_builder_new()) { json_builder_begin_object(builder_.get()); }

  JsonWriter &add(const char *name, const std::string &value) {
    json_builder_set_member_name(builder_.get(), name);
    json_builder_add_string_value(builder_.get(), value.c_str());
    return *this;
  }
  JsonWriter &add(const char *name, gint64 value) {
    json_builder_set_member_name(builder_.get(), name);
    json_builder_add_int_value(builder_.get(), value);
    return *this;
  }
  JsonWriter &begin_object(const char *name) {
    json_builder_set_member_name(builder_.get(), name);
    json_builder_begin_object(builder_.get());
    return *this;
  }
  JsonWriter &end_object() {
    json_builder_end_object(builder_.get());
    return *this;
  }
  std::string finish() {
    json_builder_end_object(builder_.get());
    g_autoptr(JsonNode) root = json_builder_get_root(builder_.get());
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, root);
    g_autofree gchar *text = json_generator_to_data(generator, nullptr);
    return text;
  }

 private:
  GObjectPtr<JsonBuilder> builder_;
};

void respond(SoupServerMessage *msg, guint status, const std::string &body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, kJsonContentType, SOUP_MEMORY_COPY, body.data(),
                                   body.size());
}

void respond_error(SoupServerMessage *msg, guint status, const std::string &message) {
  respond(msg, status, JsonWriter().add("error", message).finish());
}

void respond_fault(SoupServerMessage *msg, const Fault &fault) {
  const std::string body =
      fault.body.empty()
          ? JsonWriter()
                .add("error", soup_status_get_phrase(static_cast<guint>(fault.status)))
                .finish()
          : fault.body;
  respond(msg, static_cast<guint>(fault.status), body);
}

// A request SoupServer must not answer yet (fault delay, image fetch,
// connection theft). Destroying it lets SoupServer send whatever response was
// set, so every path answers and none can leave a client hanging.
class PausedMessage {
 public:
  explicit PausedMessage(SoupServerMessage *msg) : msg_(ref_object(msg)) {
    soup_server_message_pause(msg);
    // Unpausing a message whose connection is gone is a critical warning
    // (fatal under GstCheck), so keep track of it.
    disconnected_handler_ =
        g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer self) {
                           static_cast<PausedMessage *>(self)->connected_ = false;
                         }),
                         this);
  }
  ~PausedMessage() {
    g_signal_handler_disconnect(msg_.get(), disconnected_handler_);
    if (connected_) soup_server_message_unpause(msg_.get());
  }
  PausedMessage(const PausedMessage &) = delete;
  PausedMessage &operator=(const PausedMessage &) = delete;

  SoupServerMessage *get() const { return msg_.get(); }
  bool connected() const { return connected_; }

  // Takes the socket away from SoupServer to write a response by hand. Null
  // when the client has already gone.
  GObjectPtr<GIOStream> steal_connection() {
    GObjectPtr<GIOStream> stream(soup_server_message_steal_connection(msg_.get()));
    connected_ = false;
    return stream;
  }

 private:
  GObjectPtr<SoupServerMessage> msg_;
  gulong disconnected_handler_ = 0;
  bool connected_ = true;
};
using PausedPtr = std::unique_ptr<PausedMessage>;
// What to do with a paused request once any fault delay has passed.
using Step = std::function<void(PausedPtr)>;

bool has_valid_key(SoupServerMessage *msg, const std::string &api_key) {
  const char *key =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "x-api-key");
  return key != nullptr && api_key == key;
}

// A byte range of a Range request header, resolved against the file size.
struct ByteRange {
  enum class Kind { Whole, Partial, Unsatisfiable };
  Kind kind = Kind::Whole;
  guint64 first = 0;
  guint64 last = 0;  // inclusive
};

bool parse_decimal(const std::string &text, guint64 *value) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return g_ascii_isdigit(c); }))
    return false;
  return g_ascii_string_to_unsigned(text.c_str(), 10, 0, G_MAXUINT64, value, nullptr);
}

// Handles one "bytes=first-[last]" or "bytes=-suffix" range, which is what
// download resumers send. Anything else (several ranges, other units, junk)
// is answered with the whole file, as RFC 9110 allows.
ByteRange parse_range(const char *header, guint64 size) {
  const ByteRange whole{ByteRange::Kind::Whole, 0, size > 0 ? size - 1 : 0};
  if (header == nullptr) return whole;
  const std::string value = trimmed(header);
  constexpr const char *kUnit = "bytes=";
  if (g_ascii_strncasecmp(value.c_str(), kUnit, std::strlen(kUnit)) != 0) return whole;
  const std::string spec = trimmed(value.substr(std::strlen(kUnit)));
  const auto dash = spec.find('-');
  if (spec.find(',') != std::string::npos || dash == std::string::npos) return whole;
  const std::string first_text = trimmed(spec.substr(0, dash));
  const std::string last_text = trimmed(spec.substr(dash + 1));

  if (first_text.empty()) {
    guint64 suffix = 0;
    if (!parse_decimal(last_text, &suffix)) return whole;
    if (suffix == 0 || size == 0) return {ByteRange::Kind::Unsatisfiable, 0, 0};
    return {ByteRange::Kind::Partial, size > suffix ? size - suffix : 0, size - 1};
  }
  guint64 first = 0;
  if (!parse_decimal(first_text, &first)) return whole;
  guint64 last = size > 0 ? size - 1 : 0;
  if (!last_text.empty()) {
    if (!parse_decimal(last_text, &last) || last < first) return whole;
  }
  if (first >= size) return {ByteRange::Kind::Unsatisfiable, 0, 0};
  return {ByteRange::Kind::Partial, first, std::min(last, size - 1)};
}

// Decoded size of base64 text, or -1 when it is not base64. Checked by hand
// because g_base64_decode() silently skips invalid characters.
gint64 base64_decoded_size(const std::string &text) {
  std::string compact;
  for (char c : text) {
    if (!g_ascii_isspace(c)) compact += c;
  }
  const auto padding_start = compact.find('=');
  const std::string data = compact.substr(0, padding_start);
  if (padding_start != std::string::npos) {
    const std::string padding = compact.substr(padding_start);
    if (padding.size() > 2 || padding.find_first_not_of('=') != std::string::npos) return -1;
  }
  const bool alphabet_only = std::all_of(
      data.begin(), data.end(), [](char c) { return g_ascii_isalnum(c) || c == '+' || c == '/'; });
  if (data.empty() || !alphabet_only || data.size() % 4 == 1) return -1;
  gsize decoded_length = 0;
  g_autofree guchar *decoded = g_base64_decode(compact.c_str(), &decoded_length);
  return static_cast<gint64>(decoded_length);
}

// A submit body that passed validation.
struct SubmitParams {
  enum class Image { None, Inline, LoopbackUrl, RemoteUrl };
  std::string prompt;
  int duration_s = kDefaultDuration;
  std::string resolution = kDefaultResolution;
  std::string aspect_ratio = kDefaultAspectRatio;
  Image image = Image::None;
  std::string image_url;           // LoopbackUrl / RemoteUrl
  gint64 inline_image_bytes = -1;  // Inline
};

// A member, treating JSON null like an absent member (the API's documented
// default for image is null).
JsonNode *member(JsonObject *object, const char *name) {
  JsonNode *node = json_object_get_member(object, name);
  return node != nullptr && !JSON_NODE_HOLDS_NULL(node) ? node : nullptr;
}

bool holds_string(JsonNode *node) {
  return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

bool holds_integer(JsonNode *node) {
  return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64;
}

bool is_loopback_host(const char *host) {
  return host != nullptr && (g_ascii_strcasecmp(host, "localhost") == 0 ||
                             std::strcmp(host, "127.0.0.1") == 0 || std::strcmp(host, "::1") == 0);
}

bool parse_image(const std::string &image, SubmitParams *params, std::string *error) {
  const char *kAllowed =
      "image: must be an http(s) URL, a data:image/<type>;base64,<data> URI or base64 text";
  g_autofree gchar *lower = g_ascii_strdown(image.c_str(), -1);
  if (g_str_has_prefix(lower, "http://") || g_str_has_prefix(lower, "https://")) {
    g_autoptr(GUri) uri = g_uri_parse(image.c_str(), G_URI_FLAGS_NONE, nullptr);
    const char *host = uri ? g_uri_get_host(uri) : nullptr;
    if (host == nullptr || *host == '\0') {
      *error = std::string(kAllowed) + " (not a valid URL)";
      return false;
    }
    const bool plain_http = g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") == 0;
    params->image = plain_http && is_loopback_host(host) ? SubmitParams::Image::LoopbackUrl
                                                         : SubmitParams::Image::RemoteUrl;
    params->image_url = image;
    return true;
  }
  std::string payload = image;
  if (g_str_has_prefix(lower, "data:")) {
    const std::string lowered = lower;
    const auto comma = lowered.find(',');
    const std::string media_type = comma == std::string::npos ? "" : lowered.substr(5, comma - 5);
    if (!starts_with(media_type, "image/") || !ends_with(media_type, ";base64")) {
      *error = kAllowed;
      return false;
    }
    payload = image.substr(comma + 1);
  }
  const gint64 decoded = base64_decoded_size(payload);
  if (decoded <= 0) {
    *error = std::string(kAllowed) + " (invalid base64)";
    return false;
  }
  params->image = SubmitParams::Image::Inline;
  params->inline_image_bytes = decoded;
  return true;
}

// Validates a submit body the way the documented API does. False with a
// message naming the field and what it accepts.
bool parse_submit(const std::string &body, SubmitParams *params, std::string *error) {
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) parse_error = nullptr;
  if (!json_parser_load_from_data(parser, body.data(), static_cast<gssize>(body.size()),
                                  &parse_error)) {
    *error = std::string("body: not valid JSON (") + parse_error->message + ")";
    return false;
  }
  JsonNode *root = json_parser_get_root(parser);
  if (root == nullptr || !JSON_NODE_HOLDS_OBJECT(root)) {
    *error = "body: must be a JSON object";
    return false;
  }
  JsonObject *object = json_node_get_object(root);

  if (JsonNode *image = member(object, "image")) {
    if (!holds_string(image)) {
      *error = "image: must be a string (an http(s) URL, a data:image URI or base64 text)";
      return false;
    }
    if (!parse_image(json_node_get_string(image), params, error)) return false;
  }
  if (JsonNode *prompt = member(object, "prompt")) {
    if (!holds_string(prompt)) {
      *error = "prompt: must be a string";
      return false;
    }
    params->prompt = json_node_get_string(prompt);
  }
  if (trimmed(params->prompt).empty() && params->image == SubmitParams::Image::None) {
    *error = "prompt: required (a non-empty string) unless image is given";
    return false;
  }
  const glong prompt_chars = g_utf8_strlen(params->prompt.c_str(), -1);
  if (prompt_chars > kMaxPromptChars) {
    *error = "prompt: must be at most " + std::to_string(kMaxPromptChars) + " characters (got " +
             std::to_string(prompt_chars) + ")";
    return false;
  }
  if (JsonNode *duration = member(object, "duration")) {
    const gint64 seconds = holds_integer(duration) ? json_node_get_int(duration) : 0;
    if (seconds < kMinDuration || seconds > kMaxDuration) {
      *error = "duration: must be an integer from " + std::to_string(kMinDuration) + " to " +
               std::to_string(kMaxDuration);
      return false;
    }
    params->duration_s = static_cast<int>(seconds);
  }
  if (JsonNode *resolution = member(object, "resolution")) {
    if (!holds_string(resolution) || !is_one_of(json_node_get_string(resolution), kResolutions)) {
      *error = "resolution: must be one of " + joined(kResolutions);
      return false;
    }
    params->resolution = json_node_get_string(resolution);
  }
  if (JsonNode *aspect_ratio = member(object, "aspect_ratio")) {
    if (!holds_string(aspect_ratio) ||
        !is_one_of(json_node_get_string(aspect_ratio), kAspectRatios)) {
      *error = "aspect_ratio: must be one of " + joined(kAspectRatios);
      return false;
    }
    params->aspect_ratio = json_node_get_string(aspect_ratio);
  }
  return true;
}

struct Job {
  gint64 submitted_us = 0;  // monotonic
  int duration_s = 0;
  // Path of the encoded clip once ready; "" if encoding failed. Not valid
  // when no clip is made (options.fail_detail).
  std::shared_future<std::string> clip;
  bool expired = false;
};

enum class JobStatus { Queued, Processing, Completed, Failed };

const char *status_name(JobStatus status) {
  switch (status) {
    case JobStatus::Queued:
      return "QUEUED";
    case JobStatus::Processing:
      return "PROCESSING";
    case JobStatus::Completed:
      return "COMPLETED";
    case JobStatus::Failed:
      return "FAILED";
  }
  return "FAILED";
}

// A job as seen at one instant.
struct JobView {
  JobStatus status = JobStatus::Queued;
  int duration_s = 0;
  std::string error;      // Failed
  std::string clip_path;  // Completed
};

bool clip_ready(const std::shared_future<std::string> &clip) {
  return clip.valid() && clip.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace

FrameSize frame_size(const std::string &resolution, const std::string &aspect_ratio) {
  // "720p" -> 720; anything unparsable falls back to the API default, 480p.
  guint64 short_side = g_ascii_strtoull(resolution.c_str(), nullptr, 10);
  if (short_side == 0 || short_side > 4320) short_side = 480;
  int ratio_a = 16;
  int ratio_b = 9;
  if (std::sscanf(aspect_ratio.c_str(), "%d:%d", &ratio_a, &ratio_b) != 2 || ratio_a <= 0 ||
      ratio_b <= 0) {
    ratio_a = 16;
    ratio_b = 9;
  }
  const int short_px = static_cast<int>(short_side);
  // Square frames have no long side to round: keep them square.
  if (ratio_a == ratio_b) return {short_px, short_px};
  const int long_px = short_px * std::max(ratio_a, ratio_b) / std::min(ratio_a, ratio_b) / 16 * 16;
  return ratio_a > ratio_b ? FrameSize{long_px, short_px} : FrameSize{short_px, long_px};
}

struct Emulator::Impl {
  explicit Impl(Options emulator_options);
  ~Impl();

  // Server thread.
  void serve();
  bool start_servers(std::string *error);
  void stop_servers();
  void on_api_request(SoupServerMessage *msg, const char *path);
  void on_cdn_request(SoupServerMessage *msg, const char *path);
  void answer(SoupServerMessage *msg, const std::optional<Fault> &fault, Step step);
  void run_later(unsigned delay_ms, PausedPtr paused, Step step);
  void handle_submit(SoupServerMessage *msg, const std::string &model);
  void process_submit(PausedPtr paused, const std::string &model, const std::string &body,
                      std::size_t record_index);
  void fetch_image(PausedPtr paused, const SubmitParams &params, std::size_t record_index);
  void accept_submit(SoupServerMessage *msg, const SubmitParams &params, std::size_t record_index,
                     gint64 image_bytes);
  void answer_job(SoupServerMessage *msg, const std::string &request_id, bool with_output);
  void serve_clip(PausedPtr paused, const std::string &path, bool carries_key,
                  std::int64_t truncate_at);
  GBytes *mapped_clip(const std::string &path);
  void write_truncated(PausedPtr paused, guint status, GBytes *body, std::int64_t truncate_at);

  // Any thread.
  std::optional<Fault> take_fault(Phase phase);
  std::optional<JobView> view_job(const std::string &request_id) const;
  std::shared_future<std::string> clip_for(const ClipSpec &spec);
  void remove_clip_dir();

  const Options options;
  std::string clip_dir;
  // Set by the server thread before the constructor returns, then constant.
  std::string api_url;
  std::string cdn_url;

  MainContextPtr context;
  MainLoopPtr loop;
  std::promise<void> ready;
  std::thread server_thread;

  // Only touched on the server thread.
  GObjectPtr<SoupServer> api_server;
  GObjectPtr<SoupServer> cdn_server;
  GObjectPtr<SoupSession> image_session;
  GObjectPtr<GCancellable> shutdown_cancellable;
  std::set<GSource *> pending_timers;  // fault delays holding paused requests
  int pending_async_ops = 0;           // image fetches and raw writes in flight
  std::map<std::string, BytesPtr> mapped_clips;

  // Shared with the caller's threads and the encoders.
  mutable std::mutex mutex;
  Counters counters;
  std::vector<SubmitRecord> submit_records;
  std::vector<std::string> cdn_headers;
  std::vector<Fault> faults;
  std::map<std::string, Job> jobs;
  std::map<std::string, std::shared_future<std::string>> clips_by_path;
  std::vector<std::thread> encoders;
  std::atomic<bool> stopping{false};
};

Emulator::Impl::Impl(Options emulator_options) : options(std::move(emulator_options)) {
  init_gstreamer_once();
  g_autoptr(GError) error = nullptr;
  g_autofree gchar *dir = g_dir_make_tmp("grokimagine-emulator-XXXXXX", &error);
  if (dir == nullptr) {
    throw std::runtime_error(std::string("cannot create the clip directory: ") + error->message);
  }
  clip_dir = dir;
  context.reset(g_main_context_new());
  loop.reset(g_main_loop_new(context.get(), FALSE));
  shutdown_cancellable.reset(g_cancellable_new());

  std::future<void> listening = ready.get_future();
  server_thread = std::thread([this] { serve(); });
  try {
    listening.get();
  } catch (...) {
    server_thread.join();
    remove_clip_dir();
    throw;
  }
  GST_INFO("API at %s, CDN at %s, clips in %s", api_url.c_str(), cdn_url.c_str(), clip_dir.c_str());
}

Emulator::Impl::~Impl() {
  stopping = true;  // encoders poll this and give up within ~100 ms
  g_main_loop_quit(loop.get());
  server_thread.join();
  // The server thread was the only one starting encoders, so the list is final.
  for (std::thread &encoder : encoders) encoder.join();
  remove_clip_dir();
}

void Emulator::Impl::serve() {
  g_main_context_push_thread_default(context.get());
  std::string error;
  if (!start_servers(&error)) {
    stop_servers();
    g_main_context_pop_thread_default(context.get());
    ready.set_exception(std::make_exception_ptr(std::runtime_error(error)));
    return;
  }
  // Signal readiness from inside the running loop: a quit() issued right after
  // the constructor returns then cannot come before g_main_loop_run().
  GSource *idle = g_idle_source_new();
  g_source_set_callback(
      idle,
      [](gpointer self) -> gboolean {
        static_cast<Impl *>(self)->ready.set_value();
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach(idle, context.get());
  g_source_unref(idle);

  g_main_loop_run(loop.get());
  stop_servers();
  g_main_context_pop_thread_default(context.get());
}

namespace {

bool listen_on_loopback(SoupServer *server, unsigned port, unsigned *bound_port,
                        std::string *error) {
  g_autoptr(GError) listen_error = nullptr;
  if (!soup_server_listen_local(server, port, SOUP_SERVER_LISTEN_IPV4_ONLY, &listen_error)) {
    *error = "cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + listen_error->message;
    return false;
  }
  g_autoslist(GUri) uris = soup_server_get_uris(server);
  if (uris == nullptr) {
    *error = "server has no listening address";
    return false;
  }
  *bound_port = static_cast<unsigned>(g_uri_get_port(static_cast<GUri *>(uris->data)));
  return true;
}

}  // namespace

bool Emulator::Impl::start_servers(std::string *error) {
  api_server.reset(soup_server_new("server-header", "grokimagine-emulator ", nullptr));
  cdn_server.reset(soup_server_new("server-header", "grokimagine-emulator-cdn ", nullptr));
  soup_server_add_handler(
      api_server.get(), nullptr,
      [](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self) {
        static_cast<Impl *>(self)->on_api_request(msg, path);
      },
      this, nullptr);
  soup_server_add_handler(
      cdn_server.get(), nullptr,
      [](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self) {
        static_cast<Impl *>(self)->on_cdn_request(msg, path);
      },
      this, nullptr);

  unsigned api_port = 0;
  unsigned cdn_port = 0;
  if (!listen_on_loopback(api_server.get(), options.api_port, &api_port, error) ||
      !listen_on_loopback(cdn_server.get(), options.cdn_port, &cdn_port, error)) {
    return false;
  }
  api_url = "http://127.0.0.1:" + std::to_string(api_port);
  cdn_url = "http://127.0.0.1:" + std::to_string(cdn_port);

  // Image URLs are fetched from this thread, asynchronously, so a URL served
  // by this very emulator (or a test's server) cannot deadlock.
  image_session.reset(soup_session_new_with_options("timeout", kImageFetchTimeoutS, nullptr));
  soup_session_set_proxy_resolver(image_session.get(), nullptr);  // loopback only: no proxy
  return true;
}

void Emulator::Impl::stop_servers() {
  g_cancellable_cancel(shutdown_cancellable.get());
  // Dropping the delayed requests resumes them; the disconnect below closes
  // their connections.
  const std::set<GSource *> timers = pending_timers;
  for (GSource *timer : timers) g_source_destroy(timer);
  // Cancelled fetches and writes complete promptly; their callbacks own
  // paused requests and must run before the servers go.
  while (pending_async_ops > 0) g_main_context_iteration(context.get(), TRUE);
  if (image_session) soup_session_abort(image_session.get());
  if (api_server) soup_server_disconnect(api_server.get());
  if (cdn_server) soup_server_disconnect(cdn_server.get());
  api_server.reset();
  cdn_server.reset();
  image_session.reset();
  mapped_clips.clear();
  while (g_main_context_iteration(context.get(), FALSE)) {
  }
}

std::optional<Fault> Emulator::Impl::take_fault(Phase phase) {
  std::lock_guard<std::mutex> lock(mutex);
  for (Fault &fault : faults) {
    if (fault.phase != phase || fault.times == 0) continue;
    const Fault chosen = fault;
    if (fault.times > 0) --fault.times;
    return chosen;
  }
  return std::nullopt;
}

void Emulator::Impl::answer(SoupServerMessage *msg, const std::optional<Fault> &fault, Step step) {
  auto paused = std::make_unique<PausedMessage>(msg);
  Step faulted_step = [fault, step = std::move(step)](PausedPtr paused_msg) {
    if (fault && fault->status != 0) {
      respond_fault(paused_msg->get(), *fault);
      return;
    }
    step(std::move(paused_msg));
  };
  // Truncation steals the connection, which must not happen inside
  // SoupServer's own call into the handler: go through the loop for it too.
  const bool leave_handler_first = fault && (fault->delay_ms > 0 || fault->truncate_at >= 0);
  if (leave_handler_first) {
    run_later(fault->delay_ms, std::move(paused), std::move(faulted_step));
  } else {
    faulted_step(std::move(paused));
  }
}

// Runs `step` after `delay_ms` on the server thread, without blocking it.
void Emulator::Impl::run_later(unsigned delay_ms, PausedPtr paused, Step step) {
  struct Timer {
    Impl *impl;
    GSource *source;
    PausedPtr paused;
    Step step;
  };
  GSource *source = g_timeout_source_new(delay_ms);
  // Owned by the source: deleted by the destroy notify, whether it fired or
  // was destroyed at shutdown.
  auto *timer = new Timer{this, source, std::move(paused), std::move(step)};
  g_source_set_callback(
      source,
      [](gpointer data) -> gboolean {
        auto *fired = static_cast<Timer *>(data);
        if (fired->paused->connected()) fired->step(std::move(fired->paused));
        return G_SOURCE_REMOVE;
      },
      timer,
      [](gpointer data) {
        std::unique_ptr<Timer> done(static_cast<Timer *>(data));
        done->impl->pending_timers.erase(done->source);
      });
  pending_timers.insert(source);
  g_source_attach(source, context.get());
  g_source_unref(source);  // the context keeps it until it fires or is destroyed
}

void Emulator::Impl::on_api_request(SoupServerMessage *msg, const char *path) {
  const std::string method = soup_server_message_get_method(msg);
  const std::vector<std::string> segments = path_segments(path);
  GST_DEBUG("API %s %s", method.c_str(), path);
  if (segments.size() >= 2 && segments[0] == "v2") {
    if (method == SOUP_METHOD_POST && segments.size() == 2) {
      handle_submit(msg, segments[1]);
      return;
    }
    if (method == SOUP_METHOD_GET && segments.size() == 4 && segments[1] == "requests" &&
        segments[3] == "status") {
      const std::string request_id = segments[2];
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++counters.status_polls;
      }
      answer(msg, take_fault(Phase::Status), [this, request_id](PausedPtr paused) {
        answer_job(paused->get(), request_id, false);
      });
      return;
    }
    if (method == SOUP_METHOD_GET && segments.size() == 3 && segments[1] == "requests") {
      const std::string request_id = segments[2];
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++counters.result_fetches;
      }
      answer(msg, take_fault(Phase::Result),
             [this, request_id](PausedPtr paused) { answer_job(paused->get(), request_id, true); });
      return;
    }
  }
  respond_error(msg, SOUP_STATUS_NOT_FOUND, "Not found");
}

void Emulator::Impl::handle_submit(SoupServerMessage *msg, const std::string &model) {
  g_autoptr(GBytes) body_bytes =
      soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize body_size = 0;
  const auto *body_data = static_cast<const char *>(g_bytes_get_data(body_bytes, &body_size));
  std::string body(body_data != nullptr ? body_data : "", body_size);
  std::size_t record_index = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++counters.submits_total;
    submit_records.push_back(SubmitRecord{model, "", body, -1});
    record_index = submit_records.size() - 1;
  }
  answer(msg, take_fault(Phase::Submit),
         [this, model, body = std::move(body), record_index](PausedPtr paused) {
           process_submit(std::move(paused), model, body, record_index);
         });
}

void Emulator::Impl::process_submit(PausedPtr paused, const std::string &model,
                                    const std::string &body, std::size_t record_index) {
  SoupServerMessage *msg = paused->get();
  if (!has_valid_key(msg, options.api_key)) {
    respond_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
    return;
  }
  if (model != kModelName) {
    respond_error(msg, SOUP_STATUS_NOT_FOUND, "Model not found");
    return;
  }
  SubmitParams params;
  std::string error;
  if (!parse_submit(body, &params, &error)) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, error);
    return;
  }
  switch (params.image) {
    case SubmitParams::Image::LoopbackUrl:
      fetch_image(std::move(paused), params, record_index);
      return;
    case SubmitParams::Image::RemoteUrl:
      // There is no network to fetch it from: accept it, having obtained nothing.
      accept_submit(msg, params, record_index, 0);
      return;
    case SubmitParams::Image::Inline:
      accept_submit(msg, params, record_index, params.inline_image_bytes);
      return;
    case SubmitParams::Image::None:
      accept_submit(msg, params, record_index, -1);
      return;
  }
}

void Emulator::Impl::fetch_image(PausedPtr paused, const SubmitParams &params,
                                 std::size_t record_index) {
  struct ImageFetch {
    Impl *impl;
    PausedPtr paused;
    SubmitParams params;
    std::size_t record_index;
    GObjectPtr<SoupMessage> request;
  };
  GObjectPtr<SoupMessage> request(soup_message_new(SOUP_METHOD_GET, params.image_url.c_str()));
  if (!request) {
    respond_error(paused->get(), SOUP_STATUS_BAD_REQUEST, "image: not a valid URL");
    return;
  }
  SoupMessage *request_ptr = request.get();
  // Owned by the callback, which always runs (cancellation included).
  auto *fetch = new ImageFetch{this, std::move(paused), params, record_index, std::move(request)};
  ++pending_async_ops;
  soup_session_send_and_read_async(
      image_session.get(), request_ptr, G_PRIORITY_DEFAULT, shutdown_cancellable.get(),
      [](GObject *session, GAsyncResult *result, gpointer data) {
        std::unique_ptr<ImageFetch> done(static_cast<ImageFetch *>(data));
        Impl *impl = done->impl;
        --impl->pending_async_ops;
        g_autoptr(GError) error = nullptr;
        g_autoptr(GBytes) image =
            soup_session_send_and_read_finish(SOUP_SESSION(session), result, &error);
        const guint status = soup_message_get_status(done->request.get());
        SoupServerMessage *msg = done->paused->get();
        if (image == nullptr || !SOUP_STATUS_IS_SUCCESSFUL(status)) {
          const std::string reason =
              error != nullptr ? error->message : "HTTP " + std::to_string(status);
          GST_INFO("image fetch of %s failed: %s", done->params.image_url.c_str(), reason.c_str());
          {
            std::lock_guard<std::mutex> lock(impl->mutex);
            impl->submit_records[done->record_index].image_bytes = 0;
          }
          respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                        "image: could not fetch " + done->params.image_url + " (" + reason + ")");
          return;
        }
        impl->accept_submit(msg, done->params, done->record_index,
                            static_cast<gint64>(g_bytes_get_size(image)));
      },
      fetch);
}

void Emulator::Impl::accept_submit(SoupServerMessage *msg, const SubmitParams &params,
                                   std::size_t record_index, gint64 image_bytes) {
  g_autofree gchar *uuid = g_uuid_string_random();
  const std::string request_id = uuid;
  Job job;
  job.submitted_us = g_get_monotonic_time();
  job.duration_s = params.duration_s;
  // A job bound to fail never gets a clip; don't spend CPU on one.
  if (options.fail_detail.empty()) {
    const FrameSize size = frame_size(params.resolution, params.aspect_ratio);
    job.clip = clip_for(
        ClipSpec{size.width, size.height, params.duration_s, params.prompt, options.moov_at_end});
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    jobs.emplace(request_id, std::move(job));
    ++counters.submits_accepted;
    submit_records[record_index].request_id = request_id;
    submit_records[record_index].image_bytes = image_bytes;
  }
  GST_INFO("accepted %s: %d s %s %s", request_id.c_str(), params.duration_s,
           params.resolution.c_str(), params.aspect_ratio.c_str());
  const std::string response_url = api_url + "/v2/requests/" + request_id;
  respond(msg, SOUP_STATUS_OK,
          JsonWriter()
              .add("request_id", request_id)
              .add("status", status_name(JobStatus::Queued))
              .add("status_url", response_url + "/status")
              .add("response_url", response_url)
              .finish());
}

std::shared_future<std::string> Emulator::Impl::clip_for(const ClipSpec &spec) {
  const std::string path = clip_dir + "/" + clip_file_name(spec);
  std::lock_guard<std::mutex> lock(mutex);
  if (auto cached = clips_by_path.find(path); cached != clips_by_path.end()) return cached->second;
  std::promise<std::string> encoded;
  std::shared_future<std::string> clip = encoded.get_future().share();
  clips_by_path.emplace(path, clip);
  // Encoding runs off the server thread so polls keep being answered.
  encoders.emplace_back([this, spec, path, encoded = std::move(encoded)]() mutable {
    std::string error;
    if (encode_clip(spec, path, stopping, &error)) {
      encoded.set_value(path);
    } else {
      GST_WARNING("clip %s not made: %s", path.c_str(), error.c_str());
      encoded.set_value("");
    }
  });
  return clip;
}

std::optional<JobView> Emulator::Impl::view_job(const std::string &request_id) const {
  std::lock_guard<std::mutex> lock(mutex);
  const auto found = jobs.find(request_id);
  if (found == jobs.end() || found->second.expired) return std::nullopt;
  const Job &job = found->second;
  JobView view;
  view.duration_s = job.duration_s;
  const gint64 elapsed_ms = (g_get_monotonic_time() - job.submitted_us) / 1000;
  if (elapsed_ms < static_cast<gint64>(options.queued_ms)) {
    view.status = JobStatus::Queued;
  } else if (elapsed_ms < static_cast<gint64>(options.generation_ms)) {
    view.status = JobStatus::Processing;
  } else if (!options.fail_detail.empty()) {
    view.status = JobStatus::Failed;
    view.error = options.fail_detail;
  } else if (!clip_ready(job.clip)) {
    view.status = JobStatus::Processing;
  } else if (job.clip.get().empty()) {
    view.status = JobStatus::Failed;
    view.error = "Video generation failed";
  } else {
    view.status = JobStatus::Completed;
    view.clip_path = job.clip.get();
  }
  return view;
}

void Emulator::Impl::answer_job(SoupServerMessage *msg, const std::string &request_id,
                                bool with_output) {
  if (!has_valid_key(msg, options.api_key)) {
    respond_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
    return;
  }
  const std::optional<JobView> view = view_job(request_id);
  if (!view) {
    respond_error(msg, SOUP_STATUS_NOT_FOUND, "Request not found or expired");
    return;
  }
  JsonWriter json;
  json.add("request_id", request_id).add("status", status_name(view->status));
  if (view->status == JobStatus::Failed) {
    json.add("error", view->error);
    respond(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, json.finish());
    return;
  }
  if (with_output && view->status == JobStatus::Completed) {
    json.add("output", cdn_url + "/videos/" + request_id + ".mp4")
        .begin_object("metrics")
        .add("duration_s", static_cast<gint64>(view->duration_s))
        .end_object();
  }
  respond(msg, SOUP_STATUS_OK, json.finish());
}

void Emulator::Impl::on_cdn_request(SoupServerMessage *msg, const char *path) {
  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers(msg);
  const bool carries_key =
      soup_message_headers_get_one(request_headers, "x-api-key") != nullptr ||
      soup_message_headers_get_one(request_headers, "Authorization") != nullptr;
  const bool is_get = std::strcmp(soup_server_message_get_method(msg), SOUP_METHOD_GET) == 0;
  GST_DEBUG("CDN %s %s", soup_server_message_get_method(msg), path);
  {
    std::lock_guard<std::mutex> lock(mutex);
    soup_message_headers_foreach(
        request_headers,
        [](const char *name, const char *value, gpointer headers) {
          static_cast<std::vector<std::string> *>(headers)->push_back(std::string(name) + ": " +
                                                                      value);
        },
        &cdn_headers);
    if (is_get) ++counters.downloads;
    if (carries_key) ++counters.cdn_requests_with_key;
  }
  // Download faults script GETs: a HEAD probe must not use them up.
  const std::optional<Fault> fault = is_get ? take_fault(Phase::Download) : std::nullopt;
  const std::int64_t truncate_at = fault ? fault->truncate_at : -1;
  answer(msg, fault, [this, path = std::string(path), carries_key, truncate_at](PausedPtr paused) {
    serve_clip(std::move(paused), path, carries_key, truncate_at);
  });
}

void Emulator::Impl::serve_clip(PausedPtr paused, const std::string &path, bool carries_key,
                                std::int64_t truncate_at) {
  SoupServerMessage *msg = paused->get();
  if (carries_key) {
    // Real result URLs are pre-signed; a client sending its key to the CDN
    // leaks it to a third party.
    respond_error(msg, SOUP_STATUS_FORBIDDEN, "Forbidden: do not send credentials to the CDN");
    return;
  }
  const std::string method = soup_server_message_get_method(msg);
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    respond_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Method not allowed");
    return;
  }
  const std::vector<std::string> segments = path_segments(path.c_str());
  std::optional<JobView> view;
  if (segments.size() == 2 && segments[0] == "videos" && ends_with(segments[1], ".mp4")) {
    view = view_job(segments[1].substr(0, segments[1].size() - 4));
  }
  if (!view || view->status != JobStatus::Completed) {
    respond_error(msg, SOUP_STATUS_NOT_FOUND, "Not found");
    return;
  }
  GBytes *clip = mapped_clip(view->clip_path);
  if (clip == nullptr) {
    respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Clip unreadable");
    return;
  }

  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders *response_headers = soup_server_message_get_response_headers(msg);
  const guint64 size = g_bytes_get_size(clip);
  const ByteRange range = parse_range(soup_message_headers_get_one(request_headers, "Range"), size);
  soup_message_headers_replace(response_headers, "Content-Type", kVideoContentType);
  soup_message_headers_replace(response_headers, "Accept-Ranges", "bytes");
  guint status = SOUP_STATUS_OK;
  switch (range.kind) {
    case ByteRange::Kind::Unsatisfiable:
      soup_message_headers_replace(response_headers, "Content-Range",
                                   ("bytes */" + std::to_string(size)).c_str());
      soup_server_message_set_status(msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, nullptr);
      soup_message_headers_set_content_length(response_headers, 0);
      return;
    case ByteRange::Kind::Partial:
      status = SOUP_STATUS_PARTIAL_CONTENT;
      soup_message_headers_set_content_range(response_headers, static_cast<goffset>(range.first),
                                             static_cast<goffset>(range.last),
                                             static_cast<goffset>(size));
      break;
    case ByteRange::Kind::Whole:
      // SoupServer would otherwise apply a Range we chose to ignore (e.g. a
      // multi-range) on its own, copying the whole file into a multipart.
      soup_message_headers_remove(request_headers, "Range");
      break;
  }
  const guint64 length = range.last - range.first + (size > 0 ? 1 : 0);
  BytesPtr body(g_bytes_new_from_bytes(clip, range.first, length));
  soup_message_headers_set_content_length(response_headers, static_cast<goffset>(length));

  if (truncate_at >= 0 && method == SOUP_METHOD_GET) {
    write_truncated(std::move(paused), status, body.get(), truncate_at);
    return;
  }
  soup_server_message_set_status(msg, status, nullptr);
  if (method == SOUP_METHOD_GET) {
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body.get());
  }
}

// Maps clips once and serves slices of the mapping, so no request copies a
// whole file into memory.
GBytes *Emulator::Impl::mapped_clip(const std::string &path) {
  if (auto mapped = mapped_clips.find(path); mapped != mapped_clips.end()) {
    return mapped->second.get();
  }
  g_autoptr(GError) error = nullptr;
  g_autoptr(GMappedFile) file = g_mapped_file_new(path.c_str(), FALSE, &error);
  if (file == nullptr) {
    GST_WARNING("cannot map %s: %s", path.c_str(), error->message);
    return nullptr;
  }
  BytesPtr bytes(g_mapped_file_get_bytes(file));
  GBytes *raw = bytes.get();
  mapped_clips.emplace(path, std::move(bytes));
  return raw;
}

// Sends the response head announcing the whole body, then only
// `truncate_at` bytes of it, then closes: a connection dropped mid-download.
// SoupServer cannot do that, so the connection is taken from it.
void Emulator::Impl::write_truncated(PausedPtr paused, guint status, GBytes *body,
                                     std::int64_t truncate_at) {
  struct RawWrite {
    Impl *impl;
    GObjectPtr<GIOStream> connection;
    std::string bytes;
  };
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + soup_status_get_phrase(status) + "\r\n";
  SoupMessageHeadersIter iter;
  const char *name = nullptr;
  const char *value = nullptr;
  soup_message_headers_iter_init(&iter, soup_server_message_get_response_headers(paused->get()));
  while (soup_message_headers_iter_next(&iter, &name, &value)) {
    head += std::string(name) + ": " + value + "\r\n";
  }
  head += "Connection: close\r\n\r\n";
  gsize body_size = 0;
  const auto *body_data = static_cast<const char *>(g_bytes_get_data(body, &body_size));
  const gsize sent = std::min<guint64>(static_cast<guint64>(truncate_at), body_size);

  GObjectPtr<GIOStream> connection = paused->steal_connection();
  if (!connection) return;  // the client already left
  GST_INFO("truncating a download after %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes", sent,
           body_size);
  // Owned by the callback, which always runs (cancellation included).
  auto *write = new RawWrite{this, std::move(connection), head + std::string(body_data, sent)};
  ++pending_async_ops;
  g_output_stream_write_all_async(
      g_io_stream_get_output_stream(write->connection.get()), write->bytes.data(),
      write->bytes.size(), G_PRIORITY_DEFAULT, shutdown_cancellable.get(),
      [](GObject *stream, GAsyncResult *result, gpointer data) {
        std::unique_ptr<RawWrite> done(static_cast<RawWrite *>(data));
        --done->impl->pending_async_ops;
        g_autoptr(GError) error = nullptr;
        if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(stream), result, nullptr, &error)) {
          GST_INFO("truncated write ended early: %s", error->message);
        }
        g_io_stream_close(done->connection.get(), nullptr, nullptr);
      },
      write);
}

void Emulator::Impl::remove_clip_dir() {
  if (clip_dir.empty()) return;
  g_autoptr(GDir) dir = g_dir_open(clip_dir.c_str(), 0, nullptr);
  if (dir != nullptr) {
    while (const char *name = g_dir_read_name(dir)) {
      g_remove((clip_dir + "/" + name).c_str());
    }
  }
  g_rmdir(clip_dir.c_str());
}

Emulator::Emulator(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Emulator::~Emulator() = default;

std::string Emulator::api_url() const {
  return impl_->api_url;
}

std::string Emulator::cdn_url() const {
  return impl_->cdn_url;
}

const Options &Emulator::options() const {
  return impl_->options;
}

void Emulator::add_fault(const Fault &fault) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->faults.push_back(fault);
}

void Emulator::expire(const std::string &request_id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (auto job = impl_->jobs.find(request_id); job != impl_->jobs.end()) job->second.expired = true;
}

Counters Emulator::counters() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->counters;
}

std::vector<SubmitRecord> Emulator::submits() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->submit_records;
}

std::vector<std::string> Emulator::cdn_request_headers() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->cdn_headers;
}

std::string Emulator::clip_path(const std::string &request_id) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto job = impl_->jobs.find(request_id);
  if (job == impl_->jobs.end() || !clip_ready(job->second.clip)) return "";
  return job->second.clip.get();
}

}  // namespace grokimagine::emulator
