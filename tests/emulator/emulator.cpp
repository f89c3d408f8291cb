// SPDX-License-Identifier: LGPL-2.1-or-later
// The provider-independent part of the emulator: the API and CDN servers on
// their own thread, jobs and their media, faults, counters, input images.
// Each provider's API lives in its profile (segmind.cpp, xai.cpp, ...).
#include "emulator.h"

#include "core/channel-schedule.h"

#include "emulator-debug.h"
#include "emulator-internal.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

GST_DEBUG_CATEGORY(grokimagine_emulator_debug);
#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

// Seconds a loopback image fetch may take before the submit is refused.
constexpr guint kImageFetchTimeoutS = 30;
// How often a synchronous answer checks whether its media is made, once the
// generation time has passed.
constexpr unsigned kFinishCheckMs = 20;

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

bool is_loopback_host(const char *host) {
  return host != nullptr && (g_ascii_strcasecmp(host, "localhost") == 0 ||
                             std::strcmp(host, "127.0.0.1") == 0 || std::strcmp(host, "::1") == 0);
}

// "16:9" -> 16, 9; "9:19.5" -> 9, 19.5. False unless both are positive.
bool parse_ratio(const std::string &aspect_ratio, double *a, double *b) {
  const auto colon = aspect_ratio.find(':');
  if (colon == std::string::npos) return false;
  const std::string first = aspect_ratio.substr(0, colon);
  const std::string second = aspect_ratio.substr(colon + 1);
  char *end = nullptr;
  *a = g_ascii_strtod(first.c_str(), &end);
  if (first.empty() || *end != '\0') return false;
  *b = g_ascii_strtod(second.c_str(), &end);
  if (second.empty() || *end != '\0') return false;
  return *a > 0 && *b > 0 && std::isfinite(*a) && std::isfinite(*b);
}

bool media_ready(const std::shared_future<MediaFile> &media) {
  return media.valid() && media.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace

// ---- Small text helpers ----

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

bool is_one_of(const std::string &value, std::initializer_list<const char *> allowed) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const char *candidate) { return value == candidate; });
}

std::string joined(std::initializer_list<const char *> items, const char *separator) {
  std::string text;
  for (const char *item : items) text += (text.empty() ? "" : separator) + std::string(item);
  return text;
}

std::string random_hex() {
  g_autofree gchar *uuid = g_uuid_string_random();
  std::string hex;
  for (const char *c = uuid; *c != '\0'; ++c) {
    if (*c != '-') hex += *c;
  }
  return hex;
}

// `bytes` gzip-compressed, as a CDN's Content-Encoding: gzip sends them.
GBytes *gzip_bytes(GBytes *bytes) {
  g_autoptr(GZlibCompressor) gzip = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1);
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new(memory, G_CONVERTER(gzip));
  gsize size = 0;
  const void *data = g_bytes_get_data(bytes, &size);
  g_output_stream_write_all(out, data, size, nullptr, nullptr, nullptr);
  g_output_stream_close(out, nullptr, nullptr);
  return g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(memory));
}

std::string random_uuid() {
  g_autofree gchar *uuid = g_uuid_string_random();
  return uuid;
}

// ---- JSON ----

JsonWriter::JsonWriter() : builder_(json_builder_new()) {
  json_builder_begin_object(builder_.get());
}

JsonWriter &JsonWriter::add(const char *name, const std::string &value) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_add_string_value(builder_.get(), value.c_str());
  return *this;
}

JsonWriter &JsonWriter::add(const char *name, gint64 value) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_add_int_value(builder_.get(), value);
  return *this;
}

JsonWriter &JsonWriter::add_double(const char *name, double value) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_add_double_value(builder_.get(), value);
  return *this;
}

JsonWriter &JsonWriter::add_bool(const char *name, bool value) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_add_boolean_value(builder_.get(), value);
  return *this;
}

JsonWriter &JsonWriter::add_null(const char *name) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_add_null_value(builder_.get());
  return *this;
}

JsonWriter &JsonWriter::begin_object(const char *name) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_begin_object(builder_.get());
  return *this;
}

JsonWriter &JsonWriter::end_object() {
  json_builder_end_object(builder_.get());
  return *this;
}

JsonWriter &JsonWriter::begin_array(const char *name) {
  json_builder_set_member_name(builder_.get(), name);
  json_builder_begin_array(builder_.get());
  return *this;
}

JsonWriter &JsonWriter::end_array() {
  json_builder_end_array(builder_.get());
  return *this;
}

JsonWriter &JsonWriter::add_element(const std::string &value) {
  json_builder_add_string_value(builder_.get(), value.c_str());
  return *this;
}

JsonWriter &JsonWriter::begin_element_object() {
  json_builder_begin_object(builder_.get());
  return *this;
}

std::string JsonWriter::finish() {
  json_builder_end_object(builder_.get());
  g_autoptr(JsonNode) root = json_builder_get_root(builder_.get());
  g_autoptr(JsonGenerator) generator = json_generator_new();
  json_generator_set_root(generator, root);
  g_autofree gchar *text = json_generator_to_data(generator, nullptr);
  return text;
}

bool JsonBody::parse(const std::string &text, std::string *error) {
  parser_.reset(json_parser_new());
  object_ = nullptr;
  g_autoptr(GError) parse_error = nullptr;
  if (!json_parser_load_from_data(parser_.get(), text.data(), static_cast<gssize>(text.size()),
                                  &parse_error)) {
    *error = std::string("not valid JSON (") + parse_error->message + ")";
    return false;
  }
  JsonNode *root = json_parser_get_root(parser_.get());
  if (root == nullptr || !JSON_NODE_HOLDS_OBJECT(root)) {
    *error = "must be a JSON object";
    return false;
  }
  object_ = json_node_get_object(root);
  return true;
}

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

std::string json_type_name(JsonNode *node) {
  if (node == nullptr || JSON_NODE_HOLDS_NULL(node)) return "null";
  if (JSON_NODE_HOLDS_OBJECT(node)) return "object";
  if (JSON_NODE_HOLDS_ARRAY(node)) return "array";
  switch (json_node_get_value_type(node)) {
    case G_TYPE_STRING:
      return "string";
    case G_TYPE_INT64:
      return "integer";
    case G_TYPE_DOUBLE:
      return "number";
    case G_TYPE_BOOLEAN:
      return "boolean";
    default:
      return "value";
  }
}

std::string model_in(const std::string &body) {
  JsonBody json;
  std::string ignored;
  if (!json.parse(body, &ignored)) return "";
  JsonNode *model = member(json.object(), "model");
  return model != nullptr && holds_string(model) ? json_node_get_string(model) : "";
}

bool parse_string_member(JsonObject *object, const char *name, std::string *value,
                         std::string *error) {
  if (JsonNode *node = member(object, name)) {
    if (!holds_string(node)) {
      *error = std::string(name) + ": must be a string";
      return false;
    }
    *value = json_node_get_string(node);
  }
  return true;
}

bool parse_choice_member(JsonObject *object, const char *name,
                         std::initializer_list<const char *> allowed, std::string *value,
                         std::string *error) {
  if (JsonNode *node = member(object, name)) {
    if (!holds_string(node) || !is_one_of(json_node_get_string(node), allowed)) {
      *error = std::string(name) + ": must be one of " + joined(allowed);
      return false;
    }
    *value = json_node_get_string(node);
  }
  return true;
}

bool parse_integer_member(JsonObject *object, const char *name, gint64 min, gint64 max, int *value,
                          std::string *error) {
  if (JsonNode *node = member(object, name)) {
    const bool integer = holds_integer(node);
    const gint64 number = integer ? json_node_get_int(node) : 0;
    if (!integer || number < min || number > max) {
      *error = std::string(name) + ": must be an integer from " + std::to_string(min) + " to " +
               std::to_string(max);
      return false;
    }
    *value = static_cast<int>(number);
  }
  return true;
}

// ---- Responses ----

const char *status_phrase(guint status) {
  return status == kStatusTooManyRequests ? "Too Many Requests" : soup_status_get_phrase(status);
}

void respond(SoupServerMessage *msg, guint status, const std::string &json_body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, kJsonContentType, SOUP_MEMORY_COPY, json_body.data(),
                                   json_body.size());
}

void respond_bytes(SoupServerMessage *msg, guint status, const char *content_type, GBytes *body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Type",
                               content_type);
  soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body);
}

void respond_empty(SoupServerMessage *msg, guint status) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, nullptr, SOUP_MEMORY_STATIC, nullptr, 0);
}

void respond_scripted(SoupServerMessage *msg, guint status, const std::string &body,
                      const std::vector<std::pair<std::string, std::string>> &headers) {
  for (const auto &[name, value] : headers)
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), name.c_str(),
                                 value.c_str());
  // A scripted answer is whole: SoupServer would cut it to a Range (and
  // libsoup 3.2 asserts on a Range past its end).
  soup_message_headers_remove(soup_server_message_get_request_headers(msg), "Range");
  respond(msg, status, body);
}

std::string request_body(SoupServerMessage *msg) {
  g_autoptr(GBytes) body_bytes =
      soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize body_size = 0;
  const auto *body_data = static_cast<const char *>(g_bytes_get_data(body_bytes, &body_size));
  return std::string(body_data != nullptr ? body_data : "", body_size);
}

std::optional<std::string> api_key_header(SoupServerMessage *msg) {
  const char *key =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "x-api-key");
  if (key == nullptr) return std::nullopt;
  return std::string(key);
}

std::optional<std::string> bearer_key(SoupServerMessage *msg) {
  const char *value =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (value == nullptr) return std::nullopt;
  const std::string header = trimmed(value);
  constexpr const char *kScheme = "Bearer ";
  const std::size_t scheme_length = std::strlen(kScheme);
  if (header.size() <= scheme_length ||
      g_ascii_strncasecmp(header.c_str(), kScheme, scheme_length) != 0)
    return std::nullopt;
  return trimmed(header.substr(scheme_length));
}

// ---- PausedMessage ----

PausedMessage::PausedMessage(SoupServerMessage *msg) : msg_(ref_object(msg)) {
  soup_server_message_pause(msg);
  // Unpausing a message whose connection is gone is a critical warning
  // (fatal under GstCheck), so keep track of it.
  disconnected_handler_ =
      g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer self) {
                         static_cast<PausedMessage *>(self)->connected_ = false;
                       }),
                       this);
}

PausedMessage::~PausedMessage() {
  g_signal_handler_disconnect(msg_.get(), disconnected_handler_);
  if (connected_) soup_server_message_unpause(msg_.get());
}

GObjectPtr<GIOStream> PausedMessage::steal_connection() {
  GObjectPtr<GIOStream> stream(soup_server_message_steal_connection(msg_.get()));
  connected_ = false;
  return stream;
}

// ---- Gate ----

void Gate::open() {
  std::vector<std::function<void()>> released;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    released.swap(held_);
  }
  for (const auto &resume : released) resume();
}

bool Gate::is_open() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

int Gate::held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(held_.size());
}

bool Gate::hold(std::function<void()> resume) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_) return false;
  held_.push_back(std::move(resume));
  return true;
}

// ---- Input images ----

ImageProblem classify_image(const std::string &text, const ImageRules &rules, ImageInput *input) {
  g_autofree gchar *lower = g_ascii_strdown(text.c_str(), -1);
  if (g_str_has_prefix(lower, "http://") || g_str_has_prefix(lower, "https://")) {
    g_autoptr(GUri) uri = g_uri_parse(text.c_str(), G_URI_FLAGS_NONE, nullptr);
    const char *host = uri ? g_uri_get_host(uri) : nullptr;
    if (host == nullptr || *host == '\0') return ImageProblem::BadUrl;
    const bool plain_http = g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") == 0;
    input->kind = plain_http && is_loopback_host(host) ? ImageInput::Kind::LoopbackUrl
                                                       : ImageInput::Kind::RemoteUrl;
    input->url = text;
    return ImageProblem::None;
  }
  std::string payload = text;
  if (g_str_has_prefix(lower, "data:")) {
    if (!rules.data_uri) return ImageProblem::BadDataUri;
    const std::string lowered = lower;
    const auto comma = lowered.find(',');
    const std::string media_type = comma == std::string::npos ? "" : lowered.substr(5, comma - 5);
    if (!starts_with(media_type, "image/") || !ends_with(media_type, ";base64")) {
      return ImageProblem::BadDataUri;
    }
    payload = text.substr(comma + 1);
  } else if (!rules.raw_base64) {
    return ImageProblem::NotAllowed;
  }
  const gint64 decoded = base64_decoded_size(payload);
  if (decoded <= 0) return ImageProblem::BadBase64;
  input->kind = ImageInput::Kind::Inline;
  input->inline_bytes = decoded;
  return ImageProblem::None;
}

// ---- Sizes ----

bool is_terminal(JobStatus status) {
  return status != JobStatus::Queued && status != JobStatus::Processing;
}

FrameSize frame_size(const std::string &resolution, const std::string &aspect_ratio) {
  const auto size = grokimagine::frame_size(resolution, aspect_ratio);
  return {size.width, size.height};
}

FrameSize image_size(const std::string &resolution, const std::string &aspect_ratio) {
  // "2k" -> 2048; anything else is 1k. "auto" (and anything unparsable) is
  // square.
  const int long_px = resolution == "2k" || resolution == "2K" ? 2048 : 1024;
  double a = 1;
  double b = 1;
  if (!parse_ratio(aspect_ratio, &a, &b) || a == b) return {long_px, long_px};
  // The epsilon keeps exact quotients (1024 * 9 / 16) from rounding down.
  const int short_px =
      static_cast<int>(std::floor(long_px * std::min(a, b) / std::max(a, b) + 1e-9)) / 16 * 16;
  return a > b ? FrameSize{long_px, short_px} : FrameSize{short_px, long_px};
}

// ---- Core: lifetime ----

Core::Core(Options emulator_options) : options(std::move(emulator_options)) {
  init_gstreamer_once();
  switch (options.provider) {
    case Provider::Segmind:
      profile = make_segmind_profile(*this);
      break;
    case Provider::Xai:
      profile = make_xai_profile(*this);
      break;
    case Provider::Aimlapi:
      profile = make_aimlapi_profile(*this);
      break;
    case Provider::Reapi:
      profile = make_reapi_profile(*this);
      break;
  }
  if (!profile) throw std::invalid_argument("unknown emulator provider");
  g_autoptr(GError) error = nullptr;
  g_autofree gchar *dir = g_dir_make_tmp("grokimagine-emulator-XXXXXX", &error);
  if (dir == nullptr) {
    throw std::runtime_error(std::string("cannot create the media directory: ") + error->message);
  }
  media_dir = dir;
  context.reset(g_main_context_new());
  loop.reset(g_main_loop_new(context.get(), FALSE));
  shutdown_cancellable.reset(g_cancellable_new());

  std::future<void> listening = ready.get_future();
  server_thread = std::thread([this] { serve(); });
  try {
    listening.get();
  } catch (...) {
    server_thread.join();
    remove_media_dir();
    throw;
  }
  GST_INFO("API at %s, CDN at %s, media in %s", api_url.c_str(), cdn_url.c_str(),
           media_dir.c_str());
}

Core::~Core() {
  stopping = true;  // encoders poll this and give up within ~100 ms
  g_main_loop_quit(loop.get());
  server_thread.join();
  // The server thread was the only one starting encoders, so the list is final.
  for (std::thread &encoder : encoders) encoder.join();
  remove_media_dir();
}

void Core::serve() {
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
        static_cast<Core *>(self)->ready.set_value();
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

bool Core::start_servers(std::string *error) {
  api_server.reset(soup_server_new("server-header", "grokimagine-emulator ", nullptr));
  cdn_server.reset(soup_server_new("server-header", "grokimagine-emulator-cdn ", nullptr));
  soup_server_add_handler(
      api_server.get(), nullptr,
      [](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer self) {
        static_cast<Core *>(self)->on_api_request(msg, path, query);
      },
      this, nullptr);
  soup_server_add_handler(
      cdn_server.get(), nullptr,
      [](SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self) {
        static_cast<Core *>(self)->on_cdn_request(msg, path);
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
  this->cdn_port = cdn_port;

  // Image URLs are fetched from this thread, asynchronously, so a URL served
  // by this very emulator (or a test's server) cannot deadlock.
  image_session.reset(soup_session_new_with_options("timeout", kImageFetchTimeoutS, nullptr));
  soup_session_set_proxy_resolver(image_session.get(), nullptr);  // loopback only: no proxy
  return true;
}

void Core::stop_servers() {
  g_cancellable_cancel(shutdown_cancellable.get());
  // Dropping the delayed requests resumes them; the disconnect below closes
  // their connections.
  const std::set<GSource *> timers = pending_timers;
  for (GSource *timer : timers) g_source_destroy(timer);
  // So do the requests held at a gate never opened.
  held_requests.clear();
  // Cancelled fetches and writes complete promptly; their callbacks own
  // paused requests and must run before the servers go.
  while (pending_async_ops > 0) g_main_context_iteration(context.get(), TRUE);
  // A fetch batch finishing above may have scheduled a synchronous answer.
  const std::set<GSource *> late_timers = pending_timers;
  for (GSource *timer : late_timers) g_source_destroy(timer);
  if (image_session) soup_session_abort(image_session.get());
  if (api_server) soup_server_disconnect(api_server.get());
  if (cdn_server) soup_server_disconnect(cdn_server.get());
  api_server.reset();
  cdn_server.reset();
  image_session.reset();
  mapped_files.clear();
  while (g_main_context_iteration(context.get(), FALSE)) {
  }
}

// ---- Core: API requests ----

namespace {

constexpr const char *kStatsPath = "/emulator/stats";

}  // namespace

void Core::on_api_request(SoupServerMessage *msg, const char *path, GHashTable *query) {
  const char *method = soup_server_message_get_method(msg);
  GST_DEBUG("API %s %s", method, path);
  // The test hook comes before the profile, so it counts nowhere.
  if (std::strcmp(path, kStatsPath) == 0) {
    answer_stats(msg);
    return;
  }
  profile->handle(msg, method, path, query);
}

void Core::answer_stats(SoupServerMessage *msg) {
  const std::string method = soup_server_message_get_method(msg);
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
            JsonWriter().add("error", "Method not allowed").finish());
    return;
  }
  const Counters now = [this] {
    std::lock_guard<std::mutex> lock(mutex);
    return counters;
  }();
  JsonWriter json;
  json.add("submits_total", static_cast<gint64>(now.submits_total))
      .add("submits_accepted", static_cast<gint64>(now.submits_accepted))
      .add("status_polls", static_cast<gint64>(now.status_polls))
      .add("result_fetches", static_cast<gint64>(now.result_fetches))
      .add("downloads", static_cast<gint64>(now.downloads))
      .add("cdn_requests_with_key", static_cast<gint64>(now.cdn_requests_with_key))
      .add("rate_limited", static_cast<gint64>(now.rate_limited))
      .begin_array("jobs");
  for (const JobTimes &times : job_times()) {
    json.begin_element_object()
        .add("request_id", times.request_id)
        .add("submitted_us", times.submitted_us)
        .add("completed_us", times.completed_us)
        .end_object();
  }
  respond(msg, SOUP_STATUS_OK, json.end_array().finish());
}

bool Core::admit(SoupServerMessage *msg) {
  const std::optional<std::string> key = profile->credential(msg);
  if (!key || *key != options.api_key) {
    profile->refuse_credential(msg);
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    api_request_us.push_back(g_get_monotonic_time());
  }
  if (options.rate_limit_per_s == 0) return true;
  unsigned retry_after_s = 0;
  if (take_token(*key, &retry_after_s)) return true;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++counters.rate_limited;
  }
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
                               std::to_string(retry_after_s).c_str());
  respond(msg, kStatusTooManyRequests, profile->fault_body(kStatusTooManyRequests));
  return false;
}

bool Core::take_token(const std::string &key, unsigned *retry_after_s) {
  const double rate = options.rate_limit_per_s;
  const gint64 now_us = g_get_monotonic_time();
  // A key seen for the first time starts with a full bucket.
  TokenBucket &bucket = token_buckets.try_emplace(key, TokenBucket{rate, now_us}).first->second;
  bucket.tokens = std::min(rate, bucket.tokens + (now_us - bucket.refilled_us) * rate / 1e6);
  bucket.refilled_us = now_us;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return true;
  }
  const double wait_s = (1 - bucket.tokens) / rate;
  *retry_after_s = std::max(1u, static_cast<unsigned>(std::ceil(wait_s)));
  return false;
}

// ---- Core: faults and delays ----

std::optional<Fault> Core::take_fault(Phase phase) {
  std::lock_guard<std::mutex> lock(mutex);
  for (Fault &fault : faults) {
    if (fault.phase != phase || fault.times == 0) continue;
    const Fault chosen = fault;
    if (fault.times > 0) --fault.times;
    return chosen;
  }
  return std::nullopt;
}

void Core::answer(SoupServerMessage *msg, const std::optional<Fault> &fault, Step step) {
  answer(std::make_unique<PausedMessage>(msg), fault, std::move(step));
}

void Core::answer(PausedPtr paused, const std::optional<Fault> &fault, Step step) {
  Step faulted_step = [this, fault, step = std::move(step)](PausedPtr paused_msg) {
    if (fault && fault->reset) {
      if (GObjectPtr<GIOStream> connection = paused_msg->steal_connection())
        g_io_stream_close(connection.get(), nullptr, nullptr);
      return;
    }
    if (fault && fault->status != 0) {
      const auto status = static_cast<guint>(fault->status);
      respond_scripted(paused_msg->get(), status,
                       fault->body.empty() ? profile->fault_body(status) : fault->body, {});
      return;
    }
    step(std::move(paused_msg));
  };
  // Truncation steals the connection, which must not happen inside
  // SoupServer's own call into the handler: go through the loop for it too.
  // A shaped CDN writes its answers by hand too.
  const bool leave_handler_first =
      options.cdn_rate_bytes_per_s > 0 || options.cdn_link_rate_bytes_per_s > 0 ||
      (fault && (fault->delay_ms > 0 || fault->truncate_at >= 0 || fault->reset));
  Step own_handling = [this, leave_handler_first, delay_ms = fault ? fault->delay_ms : 0,
                       faulted_step = std::move(faulted_step)](PausedPtr paused_msg) {
    if (leave_handler_first) {
      run_later(delay_ms, std::move(paused_msg), faulted_step);
    } else {
      faulted_step(std::move(paused_msg));
    }
  };
  std::optional<Reply> reply = run_hook(paused->get());
  if (!reply) {
    own_handling(std::move(paused));
    return;
  }
  // The hook's answer, or the emulator's own, once any delay has passed.
  Step after_gate = [this, reply = *reply,
                     own_handling = std::move(own_handling)](PausedPtr paused_msg) {
    Step decided = [this, reply, own_handling](PausedPtr ready) {
      if (reply.status == 0) {
        own_handling(std::move(ready));
        return;
      }
      const auto status = static_cast<guint>(reply.status);
      respond_scripted(ready->get(), status,
                       reply.body.empty() ? profile->fault_body(status) : reply.body,
                       reply.headers);
    };
    if (reply.delay_ms > 0)
      run_later(reply.delay_ms, std::move(paused_msg), std::move(decided));
    else
      decided(std::move(paused_msg));
  };
  if (reply->gate)
    hold(std::move(paused), reply->gate, std::move(after_gate));
  else
    after_gate(std::move(paused));
}

std::optional<Reply> Core::run_hook(SoupServerMessage *msg) {
  // The port the request came in on, whatever its Host header says.
  GSocketAddress *local = soup_server_message_get_local_address(msg);
  const bool on_cdn = local != nullptr && G_IS_INET_SOCKET_ADDRESS(local) &&
                      g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)) == cdn_port;
  const Port port = on_cdn ? Port::Cdn : Port::Api;
  HookRequest request;
  request.method = soup_server_message_get_method(msg);
  request.path = g_uri_get_path(soup_server_message_get_uri(msg));
  const char *range =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Range");
  request.range = range ? range : "";
  std::shared_ptr<Hook> hook;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (RegisteredHook &registered : hooks) {
      const Route &route = registered.route;
      if (route.port != port || (!route.method.empty() && route.method != request.method) ||
          !starts_with(request.path, route.path_prefix.c_str()))
        continue;
      request.seen = registered.seen++;
      hook = registered.hook;
      break;
    }
  }
  // Called without the lock: a hook may read the emulator's counters.
  if (!hook) return std::nullopt;
  return (*hook)(request);
}

void Core::hold(PausedPtr paused, const std::shared_ptr<Gate> &gate, Step step) {
  const guint64 id = next_held++;
  held_requests.emplace(id, std::pair(std::move(paused), std::move(step)));
  // The gate opens on the test's thread: the request resumes on this one,
  // through the server's own context (which the closure keeps alive, so a
  // gate opened after the emulator is gone schedules nothing that runs).
  MainContextPtr held_on(g_main_context_ref(context.get()));
  auto resume = [this, id, held_on = std::make_shared<MainContextPtr>(std::move(held_on))] {
    struct Resume {
      Core *core;
      guint64 id;
    };
    g_autoptr(GSource) idle = g_idle_source_new();
    g_source_set_callback(
        idle,
        [](gpointer data) -> gboolean {
          auto *resume = static_cast<Resume *>(data);
          resume->core->resume_held(resume->id);
          return G_SOURCE_REMOVE;
        },
        new Resume{this, id}, [](gpointer data) { delete static_cast<Resume *>(data); });
    g_source_attach(idle, held_on->get());
  };
  if (!gate->hold(std::move(resume))) resume_held(id);
}

void Core::resume_held(guint64 id) {
  auto found = held_requests.find(id);
  if (found == held_requests.end()) return;  // stopped meanwhile
  auto [paused, step] = std::move(found->second);
  held_requests.erase(found);
  if (paused->connected()) step(std::move(paused));
}

void Core::run_later(unsigned delay_ms, PausedPtr paused, Step step) {
  struct Timer {
    Core *core;
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
        done->core->pending_timers.erase(done->source);
      });
  pending_timers.insert(source);
  g_source_attach(source, context.get());
  g_source_unref(source);  // the context keeps it until it fires or is destroyed
}

// ---- Core: submits ----

std::size_t Core::record_submit(const std::string &path, const std::string &model,
                                const std::string &body) {
  std::lock_guard<std::mutex> lock(mutex);
  ++counters.submits_total;
  SubmitRecord record;
  record.received_us = g_get_monotonic_time();
  record.model = model;
  record.body = body;
  record.path = path;
  submit_records.push_back(std::move(record));
  return submit_records.size() - 1;
}

void Core::receive_submit(SoupServerMessage *msg, const std::string &path,
                          const std::optional<std::string> &model, SubmitStep step) {
  std::string body = request_body(msg);
  const std::size_t record_index = record_submit(path, model ? *model : model_in(body), body);
  answer(msg, take_fault(Phase::Submit),
         [this, body = std::move(body), record_index, step = std::move(step)](PausedPtr paused) {
           if (admit(paused->get())) step(std::move(paused), body, record_index);
         });
}

void Core::receive_poll(SoupServerMessage *msg, Phase phase, AnswerStep step) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++(phase == Phase::Result ? counters.result_fetches : counters.status_polls);
  }
  answer(msg, take_fault(phase), [this, step = std::move(step)](PausedPtr paused) {
    if (admit(paused->get())) step(paused->get());
  });
}

// Input images of one submit, some being fetched. Shared by the fetches; the
// last one to finish answers through `done` or `failed`.
struct ImageBatch {
  PausedPtr paused;
  std::size_t record_index = 0;
  ImageInputs inputs;
  ImageBytes bytes;
  int remaining = 0;
  std::string failed_field;  // first failure
  std::string failure;
  Core::ImagesDone done;
  Core::ImagesFailed failed;

  // Slot 0 is `image` (when given), then the references in order.
  const ImageInput &input(std::size_t slot) const {
    return inputs.image ? (slot == 0 ? *inputs.image : inputs.references[slot - 1])
                        : inputs.references[slot];
  }
  gint64 &bytes_of(std::size_t slot) {
    return inputs.image ? (slot == 0 ? bytes.image : bytes.references[slot - 1])
                        : bytes.references[slot];
  }
  std::size_t slots() const { return (inputs.image ? 1 : 0) + inputs.references.size(); }
};

void Core::resolve_images(PausedPtr paused, std::size_t record_index, const ImageInputs &inputs,
                          ImagesDone done, ImagesFailed failed) {
  auto batch = std::make_shared<ImageBatch>();
  batch->paused = std::move(paused);
  batch->record_index = record_index;
  batch->inputs = inputs;
  batch->bytes.references.assign(inputs.references.size(), -1);
  batch->done = std::move(done);
  batch->failed = std::move(failed);
  // One extra count until every fetch has started, so none can finish the
  // batch early.
  batch->remaining = 1;
  for (std::size_t slot = 0; slot < batch->slots(); ++slot) {
    const ImageInput &input = batch->input(slot);
    switch (input.kind) {
      case ImageInput::Kind::Inline:
        batch->bytes_of(slot) = input.inline_bytes;
        break;
      case ImageInput::Kind::RemoteUrl:
        // There is no network to fetch it from: accept it, having obtained
        // nothing.
        batch->bytes_of(slot) = 0;
        break;
      case ImageInput::Kind::LoopbackUrl:
        ++batch->remaining;
        fetch_image(batch, slot, input.url);
        break;
    }
  }
  if (--batch->remaining == 0) finish_images(batch);
}

void Core::fetch_image(const std::shared_ptr<ImageBatch> &batch, std::size_t slot,
                       const std::string &url) {
  struct Fetch {
    Core *core;
    std::shared_ptr<ImageBatch> batch;
    std::size_t slot;
    GObjectPtr<SoupMessage> request;
  };
  GObjectPtr<SoupMessage> request(soup_message_new(SOUP_METHOD_GET, url.c_str()));
  if (!request) {
    batch->bytes_of(slot) = 0;
    if (batch->failed_field.empty()) {
      batch->failed_field = batch->input(slot).field;
      batch->failure = "not a valid URL";
    }
    --batch->remaining;
    return;
  }
  SoupMessage *request_ptr = request.get();
  // Owned by the callback, which always runs (cancellation included).
  auto *fetch = new Fetch{this, batch, slot, std::move(request)};
  ++pending_async_ops;
  soup_session_send_and_read_async(
      image_session.get(), request_ptr, G_PRIORITY_DEFAULT, shutdown_cancellable.get(),
      [](GObject *session, GAsyncResult *result, gpointer data) {
        std::unique_ptr<Fetch> done(static_cast<Fetch *>(data));
        Core *core = done->core;
        ImageBatch &batch = *done->batch;
        --core->pending_async_ops;
        g_autoptr(GError) error = nullptr;
        g_autoptr(GBytes) image =
            soup_session_send_and_read_finish(SOUP_SESSION(session), result, &error);
        const guint status = soup_message_get_status(done->request.get());
        const ImageInput &input = batch.input(done->slot);
        if (image == nullptr || !SOUP_STATUS_IS_SUCCESSFUL(status)) {
          const std::string reason =
              error != nullptr ? error->message : "HTTP " + std::to_string(status);
          GST_INFO("image fetch of %s failed: %s", input.url.c_str(), reason.c_str());
          batch.bytes_of(done->slot) = 0;
          if (batch.failed_field.empty()) {
            batch.failed_field = input.field;
            batch.failure = "could not fetch " + input.url + " (" + reason + ")";
          }
        } else {
          batch.bytes_of(done->slot) = static_cast<gint64>(g_bytes_get_size(image));
        }
        if (--batch.remaining == 0) core->finish_images(done->batch);
      },
      fetch);
}

void Core::finish_images(const std::shared_ptr<ImageBatch> &batch) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    SubmitRecord &record = submit_records[batch->record_index];
    record.image_bytes = batch->bytes.image;
    record.reference_image_bytes = batch->bytes.references;
  }
  if (!batch->failed_field.empty()) {
    batch->failed(std::move(batch->paused), batch->failed_field, batch->failure);
  } else {
    batch->done(std::move(batch->paused), batch->bytes);
  }
}

void Core::accept_job(PausedPtr paused, std::size_t record_index, const ImageInputs &inputs,
                      const JobSpec &spec, AcceptedBody accepted, ImagesFailed failed) {
  resolve_images(
      std::move(paused), record_index, inputs,
      [this, record_index, spec, accepted = std::move(accepted)](PausedPtr resolved,
                                                                 const ImageBytes &) {
        create_job(record_index, spec);
        respond(resolved->get(), SOUP_STATUS_OK, accepted(spec));
      },
      std::move(failed));
}

// ---- Core: jobs ----

JobSpec video_spec(const std::string &model, const std::string &prompt, int duration_s,
                   FrameSize size) {
  JobSpec spec;
  spec.model = model;
  spec.kind = MediaKind::Video;
  spec.prompt = prompt;
  spec.duration_s = duration_s;
  spec.size = size;
  return spec;
}

Outcome Core::planned_outcome(bool has_moderation_and_expiry, const std::string &prompt) const {
  if (!options.fail_detail.empty()) return Outcome::Fail;
  const bool moderated =
      options.moderate || (!options.moderate_prompts_with.empty() &&
                           prompt.find(options.moderate_prompts_with) != std::string::npos);
  if (has_moderation_and_expiry && moderated) return Outcome::Moderate;
  if (has_moderation_and_expiry && options.expire_jobs) return Outcome::Expire;
  return Outcome::Complete;
}

void Core::create_job(std::size_t record_index, const JobSpec &spec) {
  Job job;
  job.spec = spec;
  job.submitted_us = g_get_monotonic_time();
  job.created_unix = g_get_real_time() / G_USEC_PER_SEC;
  // A job that will not complete never gets media; don't spend CPU on it.
  if (spec.outcome == Outcome::Complete) {
    if (spec.kind == MediaKind::Video) {
      ClipSpec clip{spec.size.width,     spec.size.height, spec.duration_s,   spec.prompt,
                    options.moov_at_end, options.bulky,    options.clip_bytes};
      clip.input_path = spec.input_path;
      clip.input_seconds = spec.input_seconds;
      clip.restyle = spec.restyle;
      clip.audio = spec.audio;
      job.media.push_back(media_for(clip_file_name(clip), MediaKind::Video,
                                    [this, clip](const std::string &path, std::string *error) {
                                      return encode_clip(clip, path, stopping, error);
                                    }));
    } else {
      for (int index = 0; index < spec.count; ++index) {
        const ImageSpec image{spec.size.width, spec.size.height, spec.format, spec.prompt,
                              index,           spec.count};
        job.media.push_back(media_for(image_file_name(image), MediaKind::Images,
                                      [this, image](const std::string &path, std::string *error) {
                                        return encode_image(image, path, stopping, error);
                                      }));
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    jobs.emplace(spec.id, std::move(job));
    ++counters.submits_accepted;
    submit_records[record_index].request_id = spec.id;
    submit_records[record_index].model = spec.model;
  }
  GST_INFO("accepted %s (%s): %dx%d, %s", spec.id.c_str(), spec.model.c_str(), spec.size.width,
           spec.size.height,
           spec.kind == MediaKind::Video ? (std::to_string(spec.duration_s) + " s").c_str()
                                         : (std::to_string(spec.count) + " image(s)").c_str());
}

namespace {

bool copy_file(const std::string &from, const std::string &to) {
  g_autoptr(GFile) source = g_file_new_for_path(from.c_str());
  g_autoptr(GFile) destination = g_file_new_for_path(to.c_str());
  return g_file_copy(source, destination, G_FILE_COPY_OVERWRITE, nullptr, nullptr, nullptr,
                     nullptr);
}

// With GROKIMAGINE_EMULATOR_CLIPS naming a directory, encoded media outlive
// the emulator and are shared between processes: the suites' valgrind run
// reuses what their plain run encoded (x264 under valgrind takes minutes).
bool make_media(const std::string &path, const std::string &file_name,
                const std::function<bool(const std::string &, std::string *)> &encode,
                std::string *error) {
  const char *shared = g_getenv("GROKIMAGINE_EMULATOR_CLIPS");
  if (shared == nullptr || *shared == '\0') return encode(path, error);
  const std::string kept = std::string(shared) + "/" + file_name;
  if (g_file_test(kept.c_str(), G_FILE_TEST_IS_REGULAR) && copy_file(kept, path)) {
    // Said as "encoded" is: the examples' runner finds each job's clip by it.
    GST_INFO("reused %s (a copy of %s)", path.c_str(), kept.c_str());
    return true;
  }
  if (!encode(path, error)) return false;
  // Published under a temporary name, then renamed: another process never
  // reads a half-copied clip.
  g_mkdir_with_parents(shared, 0755);
  const std::string partial =
      kept + ".partial-" + std::to_string(getpid()) + "-" + std::to_string(g_get_monotonic_time());
  if (copy_file(path, partial)) g_rename(partial.c_str(), kept.c_str());
  return true;
}

}  // namespace

std::shared_future<MediaFile> Core::media_for(
    const std::string &file_name, MediaKind kind,
    std::function<bool(const std::string &path, std::string *error)> encode) {
  const std::string path = media_dir + "/" + file_name;
  std::lock_guard<std::mutex> lock(mutex);
  // Equal specs give equal names: a clip asked for again (a benchmark's
  // hundredth identical job) is encoded once.
  if (auto cached = media_by_path.find(path); cached != media_by_path.end()) return cached->second;
  std::promise<MediaFile> encoded;
  std::shared_future<MediaFile> media = encoded.get_future().share();
  media_by_path.emplace(path, media);
  // Encoding runs off the server thread so polls keep being answered.
  encoders.emplace_back([this, path, file_name, kind, encode = std::move(encode),
                         encoded = std::move(encoded)]() mutable {
    std::string error;
    const bool made = make_media(path, file_name, encode, &error);
    if (!made) GST_WARNING("%s not made: %s", path.c_str(), error.c_str());
    MediaFile file{made ? path : ""};
    // Digested before the job can read done: by the time a client can
    // download the clip, an extension of it can be traced back here.
    if (made && kind == MediaKind::Video)
      file.last_video_sample = last_video_sample_digest(path, stopping);
    file.made_us = g_get_monotonic_time();
    encoded.set_value(file);
  });
  return media;
}

std::optional<JobView> Core::view_job(const std::string &id) const {
  std::lock_guard<std::mutex> lock(mutex);
  const auto found = jobs.find(id);
  if (found == jobs.end() || found->second.expired) return std::nullopt;
  const Job &job = found->second;
  JobView view;
  view.id = id;
  view.model = job.spec.model;
  view.kind = job.spec.kind;
  view.size = job.spec.size;
  view.duration_s = job.spec.duration_s;
  view.input_seconds = job.spec.input_seconds;
  view.restyle = job.spec.restyle;
  view.count = job.spec.count;
  view.format = job.spec.format;
  view.created_unix = job.created_unix;
  view.elapsed_ms = (g_get_monotonic_time() - job.submitted_us) / 1000;
  if (view.elapsed_ms < static_cast<gint64>(options.queued_ms)) {
    view.status = JobStatus::Queued;
    return view;
  }
  if (view.elapsed_ms < generation_ms(job.spec.kind)) {
    view.status = JobStatus::Processing;
    return view;
  }
  switch (job.spec.outcome) {
    case Outcome::Fail:
      view.status = JobStatus::Failed;
      view.error = options.fail_detail;
      return view;
    case Outcome::Moderate:
      view.status = JobStatus::Moderated;
      return view;
    case Outcome::Expire:
      view.status = JobStatus::Expired;
      return view;
    case Outcome::Complete:
      break;
  }
  if (!std::all_of(job.media.begin(), job.media.end(), media_ready)) {
    view.status = JobStatus::Processing;
    return view;
  }
  for (const auto &media : job.media) {
    if (media.get().path.empty()) {
      view.status = JobStatus::Failed;
      view.error =
          job.spec.kind == MediaKind::Video ? "Video generation failed" : "Image generation failed";
      view.media_paths.clear();
      return view;
    }
    view.media_paths.push_back(media.get().path);
  }
  view.status = JobStatus::Completed;
  return view;
}

gint64 Core::generation_ms(MediaKind kind) const {
  const unsigned ms = kind == MediaKind::Images && options.image_generation_ms > 0
                          ? options.image_generation_ms
                          : options.generation_ms;
  return static_cast<gint64>(ms);
}

int Core::count_job_poll(const std::string &id) {
  std::lock_guard<std::mutex> lock(mutex);
  const auto found = jobs.find(id);
  return found == jobs.end() ? 0 : ++found->second.polls;
}

void Core::when_finished(PausedPtr paused, const std::string &id, JobStep step) {
  const std::optional<JobView> view = view_job(id);
  if (!view || is_terminal(view->status)) {
    step(std::move(paused), view);
    return;
  }
  const gint64 left_ms = generation_ms(view->kind) - view->elapsed_ms;
  const auto delay_ms = static_cast<unsigned>(std::max<gint64>(left_ms, kFinishCheckMs));
  run_later(delay_ms, std::move(paused), [this, id, step = std::move(step)](PausedPtr later) {
    when_finished(std::move(later), id, step);
  });
}

std::string Core::media_url(const JobView &view, int index) const {
  if (view.kind == MediaKind::Video) return cdn_url + "/videos/" + view.id + ".mp4";
  return cdn_url + "/images/" + view.id + "-" + std::to_string(index) + "." +
         image_extension(view.format);
}

std::vector<JobTimes> Core::job_times() const {
  std::vector<JobTimes> times;
  std::lock_guard<std::mutex> lock(mutex);
  const gint64 now_us = g_get_monotonic_time();
  for (const auto &[id, job] : jobs) {
    JobTimes entry{id, job.submitted_us, 0};
    // The same rule as view_job(): terminal once generation_ms has passed
    // and, for a job that completes, its media is made.
    gint64 finished_us = job.submitted_us + generation_ms(job.spec.kind) * 1000;
    bool made = true;
    for (const auto &media : job.media) {
      made = made && media_ready(media);
      if (made) finished_us = std::max(finished_us, media.get().made_us);
    }
    if (made && finished_us <= now_us) entry.completed_us = finished_us;
    times.push_back(std::move(entry));
  }
  std::sort(times.begin(), times.end(),
            [](const JobTimes &a, const JobTimes &b) { return a.submitted_us < b.submitted_us; });
  return times;
}

// Maps files once and serves slices of the mapping, so no request copies a
// whole file into memory.
GBytes *Core::mapped_file(const std::string &path) {
  if (auto mapped = mapped_files.find(path); mapped != mapped_files.end()) {
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
  mapped_files.emplace(path, std::move(bytes));
  return raw;
}

// ---- Core: the CDN ----

void Core::on_cdn_request(SoupServerMessage *msg, const char *path) {
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
    if (is_get) {
      ++counters.downloads;
      const char *range = soup_message_headers_get_one(request_headers, "Range");
      cdn_ranges.emplace_back(range ? range : "");
      cdn_paced_bytes_at_requests.push_back(counters.cdn_paced_bytes);
    }
    if (carries_key) ++counters.cdn_requests_with_key;
  }
  // Download faults script GETs: a HEAD probe must not use them up.
  const std::optional<Fault> fault = is_get ? take_fault(Phase::Download) : std::nullopt;
  Step serve = [this, path = std::string(path), carries_key, fault](PausedPtr paused) {
    serve_media(std::move(paused), path, carries_key, fault);
  };
  if (options.cdn_delay_ms > 0) {
    // The link's latency comes before anything else, faults included.
    run_later(options.cdn_delay_ms, std::make_unique<PausedMessage>(msg),
              [this, fault, serve = std::move(serve)](PausedPtr paused) {
                answer(std::move(paused), fault, serve);
              });
    return;
  }
  answer(msg, fault, std::move(serve));
}

namespace {

// The CDN's error body: not a provider API, so one plain shape.
void respond_cdn_error(SoupServerMessage *msg, guint status, const std::string &message) {
  respond(msg, status, JsonWriter().add("error", message).finish());
}

}  // namespace

void Core::serve_media(PausedPtr paused, const std::string &path, bool carries_key,
                       const std::optional<Fault> &fault) {
  SoupServerMessage *msg = paused->get();
  if (carries_key) {
    // Real result URLs are pre-signed; a client sending its key to the CDN
    // leaks it to a third party.
    respond_cdn_error(msg, SOUP_STATUS_FORBIDDEN, "Forbidden: do not send credentials to the CDN");
    return;
  }
  const std::string method = soup_server_message_get_method(msg);
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    respond_cdn_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Method not allowed");
    return;
  }
  // /videos/<id>.mp4 or /images/<id>-<index>.<ext>
  const std::vector<std::string> segments = path_segments(path.c_str());
  std::string file;
  const char *content_type = nullptr;
  if (segments.size() == 2 && segments[0] == "videos" && ends_with(segments[1], ".mp4")) {
    const std::optional<JobView> view = view_job(segments[1].substr(0, segments[1].size() - 4));
    if (view && view->status == JobStatus::Completed && view->kind == MediaKind::Video) {
      file = view->media_paths.at(0);
      content_type = kVideoContentType;
    }
  } else if (segments.size() == 2 && segments[0] == "images") {
    const std::string &name = segments[1];
    const auto dot = name.rfind('.');
    const auto dash = dot == std::string::npos ? std::string::npos : name.rfind('-', dot);
    guint64 index = 0;
    if (dash != std::string::npos && parse_decimal(name.substr(dash + 1, dot - dash - 1), &index)) {
      const std::optional<JobView> view = view_job(name.substr(0, dash));
      if (view && view->status == JobStatus::Completed && view->kind == MediaKind::Images &&
          index < view->media_paths.size() &&
          name.substr(dot + 1) == image_extension(view->format)) {
        file = view->media_paths[index];
        content_type = image_content_type(view->format);
      }
    }
  }
  if (file.empty()) {
    respond_cdn_error(msg, SOUP_STATUS_NOT_FOUND, "Not found");
    return;
  }
  GBytes *media = mapped_file(file);
  if (media == nullptr) {
    respond_cdn_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Media unreadable");
    return;
  }

  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders *response_headers = soup_server_message_get_response_headers(msg);
  const guint64 size = g_bytes_get_size(media);
  const ByteRange range =
      options.ignore_range
          ? ByteRange{ByteRange::Kind::Whole, 0, size > 0 ? size - 1 : 0}
          : parse_range(soup_message_headers_get_one(request_headers, "Range"), size);
  soup_message_headers_replace(response_headers, "Content-Type", content_type);
  if (!options.ignore_range)
    soup_message_headers_replace(response_headers, "Accept-Ranges", "bytes");
  using CdnLie = Options::CdnLie;
  const char *offered = soup_message_headers_get_one(request_headers, "Accept-Encoding");
  if (options.cdn_lie == CdnLie::GzipAlways ||
      (options.cdn_lie == CdnLie::GzipWhenOffered && offered && strstr(offered, "gzip"))) {
    // The whole file, compressed, whatever Range asked.
    soup_message_headers_remove(request_headers, "Range");
    BytesPtr compressed(gzip_bytes(media));
    soup_message_headers_replace(response_headers, "Content-Encoding", "gzip");
    soup_message_headers_set_content_length(
        response_headers, static_cast<goffset>(g_bytes_get_size(compressed.get())));
    soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
    if (method == SOUP_METHOD_GET)
      soup_message_body_append_bytes(soup_server_message_get_response_body(msg), compressed.get());
    return;
  }
  const bool later_part = range.kind == ByteRange::Kind::Partial && range.first > 0;
  if (later_part &&
      (options.cdn_lie == CdnLie::PartAs200 || options.cdn_lie == CdnLie::PartAs200Unsized)) {
    const guint64 part = range.last - range.first + 1;
    soup_message_headers_remove(request_headers, "Range");
    if (options.cdn_lie == CdnLie::PartAs200Unsized)
      soup_message_headers_set_encoding(response_headers, SOUP_ENCODING_CHUNKED);
    else
      soup_message_headers_set_content_length(response_headers, static_cast<goffset>(part));
    soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
    BytesPtr body(g_bytes_new_from_bytes(media, range.first, part));
    if (method == SOUP_METHOD_GET)
      soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body.get());
    return;
  }
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
      if (later_part && options.cdn_lie == CdnLie::NoContentRange) break;
      if (later_part && options.cdn_lie == CdnLie::WrongTotal)
        soup_message_headers_set_content_range(response_headers, static_cast<goffset>(range.first),
                                               static_cast<goffset>(range.last),
                                               static_cast<goffset>(size + 1000));
      else if (options.cdn_unknown_total)
        soup_message_headers_replace(
            response_headers, "Content-Range",
            ("bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/*")
                .c_str());
      else
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
  BytesPtr body(g_bytes_new_from_bytes(media, range.first, length));
  soup_message_headers_set_content_length(response_headers, static_cast<goffset>(length));

  std::int64_t first = fault ? fault->truncate_at : -1;
  if (fault && fault->cut_file_at >= 0)
    first = std::clamp<std::int64_t>(fault->cut_file_at - static_cast<std::int64_t>(range.first), 0,
                                     static_cast<std::int64_t>(length));
  const unsigned trickle_ms = fault ? fault->trickle_ms : 0;
  const std::uint64_t rate = options.cdn_rate_bytes_per_s;
  const bool shaped = rate > 0 || options.cdn_link_rate_bytes_per_s > 0;
  if ((first >= 0 || trickle_ms > 0 || shaped) && method == SOUP_METHOD_GET) {
    if (first < 0 && trickle_ms == 0) first = static_cast<std::int64_t>(length);
    write_raw(std::move(paused), status, body.get(), std::max<std::int64_t>(first, 0), trickle_ms,
              rate);
    return;
  }
  soup_server_message_set_status(msg, status, nullptr);
  if (method == SOUP_METHOD_GET) {
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body.get());
  }
}

// Paced writes go out every tick, as many bytes as the rate allows by then.
constexpr unsigned kPacingTickMs = 5;
constexpr gsize kMaxPacedWrite = 256 * 1024;
// The shared link lets this many ticks' worth pile up while idle (a tick
// fired late loses nothing), and one body take at most its share of it.
constexpr unsigned kLinkBurstTicks = 4;

std::size_t Core::take_from_link(std::size_t want, int sharing) {
  const double rate = double(options.cdn_link_rate_bytes_per_s);
  const double burst = rate * kLinkBurstTicks * kPacingTickMs / 1000;
  const gint64 now = g_get_monotonic_time();
  if (link_refilled_us == 0) link_refilled_us = now;
  link_allowance =
      std::min(burst, link_allowance + rate * double(now - link_refilled_us) / G_USEC_PER_SEC);
  link_refilled_us = now;
  const double share = std::max(1.0, burst / std::max(1, sharing));
  const auto granted = std::size_t(std::min({double(want), link_allowance, share}));
  link_allowance -= double(granted);
  return granted;
}

// Sends the response head announcing the whole body, then only `first`
// bytes of it (paced to `rate` bytes/s when > 0), then closes (a connection
// dropped mid-download, or the end of a shaped answer) or sends the rest a
// byte every `trickle_ms` (a CDN that trickles). SoupServer cannot do any of
// these, so the connection is taken from it.
void Core::write_raw(PausedPtr paused, guint status, GBytes *body, std::int64_t first,
                     unsigned trickle_ms, std::uint64_t rate) {
  struct RawWrite {
    Core *core;
    GObjectPtr<GIOStream> connection;
    std::string pending;  // being written
    BytesPtr body;
    gsize offset = 0;  // of the next body byte to send
    gsize limit = 0;   // sent at once (or paced), then closed or trickled
    unsigned trickle_ms;
    std::uint64_t rate;
    gint64 started_us = 0;

    const char *data() const {
      return static_cast<const char *>(g_bytes_get_data(body.get(), nullptr));
    }
    void write() {
      g_output_stream_write_all_async(g_io_stream_get_output_stream(connection.get()),
                                      pending.data(), pending.size(), G_PRIORITY_DEFAULT,
                                      core->shutdown_cancellable.get(), on_written, this);
    }
    static void on_written(GObject *stream, GAsyncResult *result, gpointer data) {
      auto *self = static_cast<RawWrite *>(data);
      g_autoptr(GError) error = nullptr;
      const bool ok =
          g_output_stream_write_all_finish(G_OUTPUT_STREAM(stream), result, nullptr, &error);
      if (!ok) {
        GST_INFO("raw write ended early: %s", error->message);
        self->finish();
        return;
      }
      self->next();
    }
    void next() {
      if (offset < limit) {
        gsize allowed = limit - offset;
        if (rate > 0) {
          const auto due = static_cast<std::uint64_t>(g_get_monotonic_time() - started_us) * rate /
                           G_USEC_PER_SEC;
          allowed = due > offset ? std::min<std::uint64_t>(due - offset, allowed) : 0;
          allowed = std::min<gsize>(allowed, kMaxPacedWrite);
        }
        if (allowed > 0 && core->options.cdn_link_rate_bytes_per_s > 0) {
          std::lock_guard<std::mutex> lock(core->mutex);
          allowed = core->take_from_link(allowed, core->paced_bodies);
        }
        if (allowed > 0) {
          pending.assign(data() + offset, allowed);
          offset += allowed;
          {
            std::lock_guard<std::mutex> lock(core->mutex);
            core->counters.cdn_paced_bytes += allowed;
          }
          write();
        } else {
          later(kPacingTickMs);
        }
        return;
      }
      if (trickle_ms == 0 || offset >= g_bytes_get_size(body.get())) {
        finish();
        return;
      }
      // One byte per interval; the shutdown is seen at the next one.
      later(trickle_ms);
    }
    void later(unsigned ms) {
      g_autoptr(GSource) timer = g_timeout_source_new(ms);
      g_source_set_callback(
          timer,
          [](gpointer data) -> gboolean {
            auto *self = static_cast<RawWrite *>(data);
            if (g_cancellable_is_cancelled(self->core->shutdown_cancellable.get())) {
              self->finish();
            } else if (self->offset < self->limit) {
              self->next();
            } else {
              self->pending.assign(self->data() + self->offset, 1);
              self->offset++;
              self->write();
            }
            return G_SOURCE_REMOVE;
          },
          this, nullptr);
      g_source_attach(timer, core->context.get());
    }
    void finish() {
      {
        std::lock_guard<std::mutex> lock(core->mutex);
        --core->paced_bodies;
      }
      --core->pending_async_ops;
      g_io_stream_close(connection.get(), nullptr, nullptr);
      delete this;
    }
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
  const gsize body_size = g_bytes_get_size(body);
  const gsize sent = std::min<guint64>(static_cast<guint64>(first), body_size);

  GObjectPtr<GIOStream> connection = paused->steal_connection();
  if (!connection) return;  // the client already left
  GST_INFO("sending %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes%s, then %s", sent, body_size,
           rate ? " paced" : " at once", trickle_ms ? "trickling" : "closing");
  // Owns itself until finish(), which always runs (cancellation included).
  auto *write = new RawWrite{
      this, std::move(connection), head, BytesPtr(g_bytes_ref(body)), 0, sent, trickle_ms,
      rate, g_get_monotonic_time()};
  {
    std::lock_guard<std::mutex> lock(mutex);
    counters.cdn_peak_paced_bodies = std::max(counters.cdn_peak_paced_bodies, ++paced_bodies);
  }
  ++pending_async_ops;
  write->write();
}

void Core::remove_media_dir() {
  if (media_dir.empty()) return;
  g_autoptr(GDir) dir = g_dir_open(media_dir.c_str(), 0, nullptr);
  if (dir != nullptr) {
    while (const char *name = g_dir_read_name(dir)) {
      g_remove((media_dir + "/" + name).c_str());
    }
  }
  g_rmdir(media_dir.c_str());
}

// ---- Emulator ----

struct Emulator::Impl : Core {
  using Core::Core;
};

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

void Emulator::hook(Route route, Hook hook) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->hooks.push_back({std::move(route), std::make_shared<Hook>(std::move(hook))});
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

std::vector<std::uint64_t> Emulator::cdn_paced_bytes_at_requests() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->cdn_paced_bytes_at_requests;
}

std::vector<std::string> Emulator::cdn_ranges() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->cdn_ranges;
}

std::string Emulator::clip_path(const std::string &request_id) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto job = impl_->jobs.find(request_id);
  if (job == impl_->jobs.end() || job->second.media.empty() ||
      !media_ready(job->second.media.front()))
    return "";
  return job->second.media.front().get().path;
}

std::vector<JobTimes> Emulator::job_times() const {
  return impl_->job_times();
}

std::vector<gint64> Emulator::api_request_times() const {
  return impl_->api_request_times();
}

std::vector<FileRecord> Emulator::files() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<FileRecord> files;
  for (const auto &id : impl_->file_order) files.push_back(impl_->files.at(id));
  return files;
}

std::string Core::finished_clip(const std::string &request_id) const {
  std::lock_guard<std::mutex> lock(mutex);
  const auto job = jobs.find(request_id);
  if (job == jobs.end() || job->second.media.empty() || !media_ready(job->second.media.front()))
    return "";
  return job->second.media.front().get().path;
}

std::string Core::video_job_ending_like(const std::string &path) const {
  const std::string digest = last_video_sample_digest(path, stopping);
  if (digest.empty()) return "";
  std::lock_guard<std::mutex> lock(mutex);
  // Equal specs share one clip, so several jobs can match: the latest is the
  // one a chain of extensions has just made.
  std::string latest_id;
  gint64 latest_submitted_us = 0;
  for (const auto &[id, job] : jobs) {
    if (job.spec.kind != MediaKind::Video || job.media.empty() || !media_ready(job.media.front()) ||
        job.media.front().get().last_video_sample != digest) {
      continue;
    }
    if (latest_id.empty() || job.submitted_us > latest_submitted_us) {
      latest_id = id;
      latest_submitted_us = job.submitted_us;
    }
  }
  return latest_id;
}

}  // namespace grokimagine::emulator
