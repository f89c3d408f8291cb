// SPDX-License-Identifier: LGPL-2.1-or-later
// Self-check of the emulator: drives it over HTTP the way the plugin will
// (submit, poll, fetch the result, download from the CDN), then checks the
// clip with GStreamer. Prints what it saw; exits non-zero on any failure.
#include "emulator.h"
#include "glib-ptr.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace emu = grokimagine::emulator;
using emu::GObjectPtr;

namespace {

int failures = 0;

bool check(bool ok, const char *what, int line) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "FAIL (line %d): %s\n", line, what);
  }
  return ok;
}
#define CHECK(condition) check((condition), #condition, __LINE__)

constexpr const char *kKey = "emulator-key";
// An answer slower than this means the server thread was blocked (by an
// encode, a fault delay or an image fetch). Generous for loaded CI machines.
constexpr gint64 kResponsiveMs = 500;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  guint status = 0;  // 0: transport error
  std::string error;
  std::string body;
  std::string content_type;
  std::string content_range;
  goffset content_length = -1;
  std::map<std::string, std::string> headers;  // names in lowercase

  std::string header(const char *name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

// Blocking HTTP client (libsoup's sync API works without a main loop).
class Http {
 public:
  Http() : session_(soup_session_new()) {
    soup_session_set_proxy_resolver(session_.get(), nullptr);
  }

  Response request(const char *method, const std::string &url, const Headers &headers = {},
                   const std::string &body = "", const char *body_type = "application/json") {
    Response response;
    GObjectPtr<SoupMessage> message(soup_message_new(method, url.c_str()));
    if (!message) {
      response.error = "bad URL " + url;
      return response;
    }
    SoupMessageHeaders *request_headers = soup_message_get_request_headers(message.get());
    for (const auto &[name, value] : headers) {
      soup_message_headers_replace(request_headers, name.c_str(), value.c_str());
    }
    if (!body.empty()) {
      g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
      soup_message_set_request_body_from_bytes(message.get(), body_type, bytes);
    }
    g_autoptr(GError) error = nullptr;
    g_autoptr(GBytes) data =
        soup_session_send_and_read(session_.get(), message.get(), nullptr, &error);
    if (data == nullptr) {
      response.error = error->message;
      return response;
    }
    response.status = soup_message_get_status(message.get());
    gsize size = 0;
    const auto *bytes = static_cast<const char *>(g_bytes_get_data(data, &size));
    response.body.assign(bytes != nullptr ? bytes : "", size);
    SoupMessageHeaders *response_headers = soup_message_get_response_headers(message.get());
    const char *content_type = soup_message_headers_get_one(response_headers, "Content-Type");
    const char *content_range = soup_message_headers_get_one(response_headers, "Content-Range");
    response.content_type = content_type ? content_type : "";
    response.content_range = content_range ? content_range : "";
    if (soup_message_headers_get_encoding(response_headers) == SOUP_ENCODING_CONTENT_LENGTH) {
      response.content_length = soup_message_headers_get_content_length(response_headers);
    }
    soup_message_headers_foreach(
        response_headers,
        [](const char *name, const char *value, gpointer headers) {
          g_autofree gchar *lower = g_ascii_strdown(name, -1);
          (*static_cast<std::map<std::string, std::string> *>(headers))[lower] = value;
        },
        &response.headers);
    return response;
  }

  Response post_json(const std::string &url, const std::string &body, const char *key = kKey) {
    Headers headers;
    if (key != nullptr) headers.emplace_back("x-api-key", key);
    return request("POST", url, headers, body);
  }

  Response get_with_key(const std::string &url) {
    return request("GET", url, {{"x-api-key", kKey}});
  }

  // Authorization: Bearer (xAI, AI/ML API, reAPI); no header when key is null.
  Response post_bearer(const std::string &url, const std::string &body, const char *key = kKey) {
    Headers headers;
    if (key != nullptr) headers.emplace_back("Authorization", std::string("Bearer ") + key);
    return request("POST", url, headers, body);
  }

  Response get_bearer(const std::string &url, const char *key = kKey) {
    Headers headers;
    if (key != nullptr) headers.emplace_back("Authorization", std::string("Bearer ") + key);
    return request("GET", url, headers);
  }

 private:
  GObjectPtr<SoupSession> session_;
};

std::string read_file(const std::string &path) {
  g_autofree gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &contents, &length, nullptr)) return "";
  return std::string(contents, length);
}

// JSONPath access to a response body ("$.video.url", "$.data[1].b64_json").
class Json {
 public:
  explicit Json(const std::string &text) : parser_(json_parser_new()) {
    valid_ = json_parser_load_from_data(parser_.get(), text.data(),
                                        static_cast<gssize>(text.size()), nullptr) &&
             json_parser_get_root(parser_.get()) != nullptr;
  }
  bool valid() const { return valid_; }
  bool has(const char *path) const {
    return with_match(path, [](JsonNode *) { return true; });
  }
  bool is_null(const char *path) const {
    return with_match(path, [](JsonNode *node) { return JSON_NODE_HOLDS_NULL(node) != FALSE; });
  }
  // "" when absent or not a string.
  std::string str(const char *path) const {
    return scalar<std::string>(path, G_TYPE_STRING, "", json_node_get_string);
  }
  // -1 when absent or not an integer.
  gint64 integer(const char *path) const {
    return scalar<gint64>(path, G_TYPE_INT64, -1, json_node_get_int);
  }
  // 1 true, 0 false, -1 absent or not a boolean.
  int boolean(const char *path) const {
    return scalar<int>(path, G_TYPE_BOOLEAN, -1,
                       [](JsonNode *node) { return json_node_get_boolean(node) ? 1 : 0; });
  }
  // Array length; -1 when absent or not an array.
  int length(const char *path) const {
    int value = -1;
    with_match(path, [&](JsonNode *node) {
      if (!JSON_NODE_HOLDS_ARRAY(node)) return false;
      value = static_cast<int>(json_array_get_length(json_node_get_array(node)));
      return true;
    });
    return value;
  }

 private:
  // The value at `path` read by `get` when it is a JSON value of `type`;
  // else `fallback`.
  template <typename T, typename Get>
  T scalar(const char *path, GType type, T fallback, Get &&get) const {
    T value = std::move(fallback);
    with_match(path, [&](JsonNode *node) {
      if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != type) return false;
      value = get(node);
      return true;
    });
    return value;
  }

  template <typename F>
  bool with_match(const char *path, F &&use) const {
    if (!valid_) return false;
    g_autoptr(JsonPath) compiled = json_path_new();
    if (!json_path_compile(compiled, path, nullptr)) return false;
    g_autoptr(JsonNode) matches = json_path_match(compiled, json_parser_get_root(parser_.get()));
    JsonArray *array = json_node_get_array(matches);
    return json_array_get_length(array) == 1 && use(json_array_get_element(array, 0));
  }

  GObjectPtr<JsonParser> parser_;
  bool valid_ = false;
};

// A string member of a JSON object body ("" if absent).
std::string json_string(const std::string &text, const char *name) {
  return Json(text).str(("$." + std::string(name)).c_str());
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

bool starts_with(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string base64_decode(const std::string &text) {
  gsize length = 0;
  g_autofree guchar *data = g_base64_decode(text.c_str(), &length);
  return std::string(reinterpret_cast<const char *>(data), length);
}

// A data: URI of 10 bytes ("0123456789").
constexpr const char *kTenByteDataUri = "data:image/png;base64,MDEyMzQ1Njc4OQ==";

struct PollOutcome {
  std::string final_status;
  guint final_http = 0;
  std::vector<std::string> statuses_seen;  // each distinct status, in order
  gint64 slowest_poll_ms = 0;
  std::string final_body;
};

PollOutcome poll_until_done(Http &http, const std::string &status_url) {
  PollOutcome outcome;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const gint64 started = g_get_monotonic_time();
    const Response response = http.get_with_key(status_url);
    outcome.slowest_poll_ms =
        std::max(outcome.slowest_poll_ms, (g_get_monotonic_time() - started) / 1000);
    const std::string status = json_string(response.body, "status");
    if (outcome.statuses_seen.empty() || outcome.statuses_seen.back() != status) {
      outcome.statuses_seen.push_back(status);
    }
    outcome.final_status = status;
    outcome.final_http = response.status;
    outcome.final_body = response.body;
    if (response.status != 200 || status == "COMPLETED" || status == "FAILED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return outcome;
}

std::string joined(const std::vector<std::string> &items) {
  std::string text;
  for (const std::string &item : items) text += (text.empty() ? "" : " -> ") + item;
  return text;
}

// What GStreamer finds in a clip.
struct ClipInfo {
  bool played = false;
  std::string error;
  int width = 0;
  int height = 0;
  int fps_n = 0;
  int fps_d = 0;
  bool video_is_h264 = false;
  bool audio_is_aac = false;
  int audio_rate = 0;
  int audio_channels = 0;
  int video_frames = 0;
  GstClockTime video_duration = 0;
  GstClockTime audio_duration = 0;
};

struct StreamTally {
  std::atomic<int> buffers{0};
  std::atomic<guint64> duration{0};
};

GstPadProbeReturn tally_buffer(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *tally = static_cast<StreamTally *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  ++tally->buffers;
  if (GST_BUFFER_DURATION_IS_VALID(buffer)) tally->duration += GST_BUFFER_DURATION(buffer);
  return GST_PAD_PROBE_OK;
}

void tally_sink(GstElement *pipeline, const char *sink_name, StreamTally *tally) {
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), sink_name);
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, tally_buffer, tally, nullptr);
}

// Caps negotiated on a named element's sink pad (as qtdemux announced them).
GstCaps *sink_caps(GstElement *pipeline, const char *element_name) {
  g_autoptr(GstElement) element = gst_bin_get_by_name(GST_BIN(pipeline), element_name);
  g_autoptr(GstPad) pad = gst_element_get_static_pad(element, "sink");
  return gst_pad_get_current_caps(pad);
}

// A pipeline from a gst-launch description (a plain reference), or null
// with `error` filled.
GstElement *parse_pipeline(const char *description, std::string *error) {
  g_autoptr(GError) parse_error = nullptr;
  GstElement *pipeline = gst_parse_launch(description, &parse_error);
  if (pipeline == nullptr) {
    *error = parse_error->message;
    return nullptr;
  }
  if (g_object_is_floating(pipeline)) gst_object_ref_sink(pipeline);
  return pipeline;
}

// Plays `pipeline` to EOS, waiting at most `timeout`: "" when it got there,
// else what went wrong. The caller reads the negotiated caps, then stops it.
std::string play_to_eos(GstElement *pipeline, GstClockTime timeout) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
      bus, timeout, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr) return "timed out";
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) play_error = nullptr;
    gst_message_parse_error(message, &play_error, nullptr);
    return play_error->message;
  }
  return "";
}

ClipInfo inspect_clip(const std::string &path) {
  ClipInfo info;
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "filesrc name=source ! qtdemux name=demux"
      " demux.video_0 ! queue ! h264parse name=video_parse ! avdec_h264"
      " ! fakesink name=video_sink sync=false"
      " demux.audio_0 ! queue ! aacparse name=audio_parse ! avdec_aac"
      " ! fakesink name=audio_sink sync=false",
      &info.error);
  if (pipeline == nullptr) return info;
  {
    g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
    g_object_set(source, "location", path.c_str(), nullptr);
  }
  StreamTally video;
  StreamTally audio;
  tally_sink(pipeline, "video_sink", &video);
  tally_sink(pipeline, "audio_sink", &audio);

  info.error = play_to_eos(pipeline, 60 * GST_SECOND);
  if (info.error.empty()) {
    info.played = true;
    g_autoptr(GstCaps) video_caps = sink_caps(pipeline, "video_parse");
    g_autoptr(GstCaps) audio_caps = sink_caps(pipeline, "audio_parse");
    if (video_caps != nullptr) {
      const GstStructure *s = gst_caps_get_structure(video_caps, 0);
      info.video_is_h264 = gst_structure_has_name(s, "video/x-h264");
      gst_structure_get_int(s, "width", &info.width);
      gst_structure_get_int(s, "height", &info.height);
      gst_structure_get_fraction(s, "framerate", &info.fps_n, &info.fps_d);
    }
    if (audio_caps != nullptr) {
      const GstStructure *s = gst_caps_get_structure(audio_caps, 0);
      int mpegversion = 0;
      gst_structure_get_int(s, "mpegversion", &mpegversion);
      info.audio_is_aac = gst_structure_has_name(s, "audio/mpeg") && mpegversion == 4;
      gst_structure_get_int(s, "rate", &info.audio_rate);
      gst_structure_get_int(s, "channels", &info.audio_channels);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  info.video_frames = video.buffers;
  info.video_duration = video.duration;
  info.audio_duration = audio.duration;
  return info;
}

// What GStreamer finds in an encoded image. (The queue makes typefind work
// in push mode; pulled through by decodebin it would not type anything.)
struct ImageInfo {
  bool decoded = false;
  std::string error;
  std::string media_type;  // as typefind sees it: "image/png", ...
  int width = 0;
  int height = 0;
};

ImageInfo inspect_image(const std::string &bytes) {
  ImageInfo info;
  g_autofree gchar *path = nullptr;
  const int fd = g_file_open_tmp("emulator-image-XXXXXX", &path, nullptr);
  if (fd < 0) {
    info.error = "no temporary file";
    return info;
  }
  g_close(fd, nullptr);
  if (!g_file_set_contents(path, bytes.data(), static_cast<gssize>(bytes.size()), nullptr)) {
    g_remove(path);
    info.error = "cannot write the temporary file";
    return info;
  }
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "filesrc name=source ! queue ! typefind name=type ! decodebin ! videoconvert"
      " ! fakesink name=sink sync=false",
      &info.error);
  if (pipeline == nullptr) {
    g_remove(path);
    return info;
  }
  {
    g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
    g_autoptr(GstElement) type = gst_bin_get_by_name(GST_BIN(pipeline), "type");
    g_object_set(source, "location", path, nullptr);
    g_signal_connect(type, "have-type",
                     G_CALLBACK(+[](GstElement *, guint, GstCaps *caps, std::string *media_type) {
                       *media_type = gst_structure_get_name(gst_caps_get_structure(caps, 0));
                     }),
                     &info.media_type);
  }
  info.error = play_to_eos(pipeline, 30 * GST_SECOND);
  if (info.error.empty()) {
    info.decoded = true;
    g_autoptr(GstCaps) raw = sink_caps(pipeline, "sink");
    if (raw != nullptr) {
      const GstStructure *s = gst_caps_get_structure(raw, 0);
      gst_structure_get_int(s, "width", &info.width);
      gst_structure_get_int(s, "height", &info.height);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_remove(path);
  return info;
}

// Downloads an image from the CDN and checks its type, size and decoding.
// Returns its bytes ("" on failure).
std::string check_image_download(Http &http, const std::string &url, const char *content_type,
                                 emu::FrameSize size) {
  const Response image = http.request("GET", url);
  if (!CHECK(image.status == 200 && image.content_type == content_type)) {
    std::fprintf(stderr, "  GET %s: %u %s\n", url.c_str(), image.status,
                 image.content_type.c_str());
    return "";
  }
  CHECK(image.content_length == static_cast<goffset>(image.body.size()));
  const ImageInfo info = inspect_image(image.body);
  if (!CHECK(info.decoded && info.media_type == content_type && info.width == size.width &&
             info.height == size.height)) {
    std::fprintf(stderr, "  %s: %s %dx%d, want %s %dx%d (%s)\n", url.c_str(),
                 info.media_type.c_str(), info.width, info.height, content_type, size.width,
                 size.height, info.error.c_str());
  }
  return image.body;
}

// Top-level MP4 box types in file order, to tell faststart from moov-at-end.
std::vector<std::string> top_level_boxes(const std::string &mp4) {
  std::vector<std::string> boxes;
  guint64 offset = 0;
  while (offset + 8 <= mp4.size()) {
    auto byte = [&](guint64 at) { return static_cast<guint64>(static_cast<guint8>(mp4[at])); };
    guint64 box_size =
        byte(offset) << 24 | byte(offset + 1) << 16 | byte(offset + 2) << 8 | byte(offset + 3);
    boxes.push_back(mp4.substr(offset + 4, 4));
    if (box_size == 1 && offset + 16 <= mp4.size()) {
      box_size = 0;
      for (int i = 0; i < 8; ++i) box_size = box_size << 8 | byte(offset + 8 + i);
    } else if (box_size == 0) {
      break;  // runs to the end of the file
    }
    if (box_size < 8) break;
    offset += box_size;
  }
  return boxes;
}

int box_index(const std::vector<std::string> &boxes, const char *type) {
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i] == type) return static_cast<int>(i);
  }
  return -1;
}

// A GET on a raw socket, to see exactly what the server sends and that it
// closes. Reads until EOF (or a 5 s stall).
struct RawResponse {
  std::string head;
  std::string body;
  goffset announced_length = -1;
  bool closed = false;
};

RawResponse raw_get(const std::string &base_url, const std::string &path,
                    const std::string &extra_headers = "") {
  RawResponse response;
  const std::string host_and_port = base_url.substr(std::string("http://").size());
  GObjectPtr<GSocketClient> client(g_socket_client_new());
  g_socket_client_set_timeout(client.get(), 5);
  g_autoptr(GError) error = nullptr;
  GObjectPtr<GSocketConnection> connection(
      g_socket_client_connect_to_host(client.get(), host_and_port.c_str(), 80, nullptr, &error));
  if (!connection) return response;
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host_and_port + "\r\n" + extra_headers + "\r\n";
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection.get()));
  if (!g_output_stream_write_all(out, request.data(), request.size(), nullptr, nullptr, nullptr))
    return response;
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(connection.get()));
  std::string received;
  char buffer[16384];
  while (true) {
    g_autoptr(GError) read_error = nullptr;
    const gssize got = g_input_stream_read(in, buffer, sizeof buffer, nullptr, &read_error);
    if (got == 0) response.closed = true;
    if (got <= 0) break;
    received.append(buffer, static_cast<std::size_t>(got));
  }
  const auto head_end = received.find("\r\n\r\n");
  if (head_end == std::string::npos) return response;
  response.head = received.substr(0, head_end + 2);
  response.body = received.substr(head_end + 4);
  g_autofree gchar *lower = g_ascii_strdown(response.head.c_str(), -1);
  const std::string lowered = lower;
  const auto length_at = lowered.find("content-length:");
  if (length_at != std::string::npos) {
    response.announced_length = g_ascii_strtoll(
        response.head.c_str() + length_at + std::strlen("content-length:"), nullptr, 10);
  }
  return response;
}

// Options for a test's emulator: the API it speaks and how long its jobs
// take.
emu::Options timed(emu::Provider provider, unsigned queued_ms, unsigned generation_ms) {
  emu::Options options;
  options.provider = provider;
  options.queued_ms = queued_ms;
  options.generation_ms = generation_ms;
  return options;
}

// Submits, waits for COMPLETED, fetches the result; returns the request id
// ("" on failure) and fills `output_url`.
// A Segmind v2 job: the submit's answer and how its polls went.
struct SegmindJob {
  Response submitted;
  PollOutcome poll;
};

// Submits `body` to Segmind's v2 `model` and polls the job until it ends.
// Nothing (the answer reported) when the submit is refused.
std::optional<SegmindJob> run_segmind_job(Http &http, emu::Emulator &emulator, const char *model,
                                          const std::string &body) {
  SegmindJob job;
  job.submitted = http.post_json(emulator.api_url() + "/v2/" + model, body);
  if (!CHECK(job.submitted.status == 200)) {
    std::fprintf(stderr, "  submit answered %u %s\n", job.submitted.status,
                 job.submitted.body.c_str());
    return std::nullopt;
  }
  job.poll = poll_until_done(http, json_string(job.submitted.body, "status_url"));
  return job;
}

std::string run_job(Http &http, emu::Emulator &emulator, const std::string &body,
                    std::string *output_url, PollOutcome *poll = nullptr) {
  const std::optional<SegmindJob> job = run_segmind_job(http, emulator, "grok-imagine-video", body);
  if (!job) return "";
  const Response &submitted = job->submitted;
  const std::string request_id = json_string(submitted.body, "request_id");
  CHECK(!request_id.empty());
  CHECK(json_string(submitted.body, "status") == "QUEUED");
  const std::string response_url = emulator.api_url() + "/v2/requests/" + request_id;
  CHECK(json_string(submitted.body, "status_url") == response_url + "/status");
  CHECK(json_string(submitted.body, "response_url") == response_url);
  if (poll != nullptr) *poll = job->poll;
  if (!CHECK(job->poll.final_status == "COMPLETED")) return "";
  const Response result = http.get_with_key(response_url);
  CHECK(result.status == 200);
  CHECK(json_string(result.body, "status") == "COMPLETED");
  *output_url = json_string(result.body, "output");
  CHECK(*output_url == emulator.cdn_url() + "/videos/" + request_id + ".mp4");
  return request_id;
}

// What a size function should give for a resolution and an aspect ratio.
struct ExpectedSize {
  const char *resolution;
  const char *aspect_ratio;
  int width;
  int height;
};

void check_sizes(const char *name,
                 emu::FrameSize (*size_of)(const std::string &, const std::string &),
                 std::initializer_list<ExpectedSize> table) {
  for (const ExpectedSize &expected : table) {
    const emu::FrameSize size = size_of(expected.resolution, expected.aspect_ratio);
    if (!CHECK(size.width == expected.width && size.height == expected.height)) {
      std::fprintf(stderr, "  %s(%s, %s) = %dx%d, want %dx%d\n", name, expected.resolution,
                   expected.aspect_ratio, size.width, size.height, expected.width, expected.height);
    }
  }
}

void check_frame_sizes() {
  check_sizes("frame_size", emu::frame_size,
              {
                  {"480p", "16:9", 848, 480},
                  {"480p", "9:16", 480, 848},
                  {"480p", "1:1", 480, 480},
                  {"480p", "4:3", 640, 480},
                  {"480p", "3:2", 720, 480},
                  {"720p", "16:9", 1280, 720},
                  {"720p", "1:1", 720, 720},
                  {"720p", "9:16", 720, 1280},
                  {"1080p", "16:9", 1920, 1080},
                  {"480p", "3:4", 480, 640},
                  {"480p", "2:3", 480, 720},
              });
}

void check_submit_validation(Http &http, emu::Emulator &emulator) {
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-video";
  const std::string good = R"({"prompt": "a cat", "duration": 2})";
  const emu::Counters before = emulator.counters();

  Response response = http.post_json(submit_url, good, "wrong-key");
  CHECK(response.status == 401 && json_string(response.body, "error") == "Invalid API key");
  response = http.post_json(submit_url, good, nullptr);
  CHECK(response.status == 401);
  response = http.post_json(emulator.api_url() + "/v2/some-other-model", good);
  CHECK(response.status == 404 && json_string(response.body, "error") == "Model not found");

  const char *const bad_bodies[] = {
      "{not json",
      R"(["a list"])",
      R"({"duration": 2})",
      R"({"prompt": 42})",
      R"({"prompt": "x", "duration": 0})",
      R"({"prompt": "x", "duration": 16})",
      R"({"prompt": "x", "duration": "6"})",
      R"({"prompt": "x", "duration": 6.5})",
      R"({"prompt": "x", "resolution": "4k"})",
      R"({"prompt": "x", "aspect_ratio": "21:9"})",
      R"({"prompt": "x", "image": "not base64!"})",
      R"({"prompt": "x", "image": "data:text/plain;base64,aGVsbG8="})",
  };
  for (const char *body : bad_bodies) {
    response = http.post_json(submit_url, body);
    if (!CHECK(response.status == 400 && !json_string(response.body, "error").empty())) {
      std::fprintf(stderr, "  body %s answered %u %s\n", body, response.status,
                   response.body.c_str());
    }
  }
  const std::string long_prompt = R"({"prompt": ")" + std::string(4097, 'a') + R"("})";
  response = http.post_json(submit_url, long_prompt);
  CHECK(response.status == 400);
  std::printf("400 example: %s\n", http.post_json(submit_url, bad_bodies[5]).body.c_str());

  const emu::Counters after = emulator.counters();
  CHECK(after.submits_accepted == before.submits_accepted);
  CHECK(after.submits_total > before.submits_total);
  const std::vector<emu::SubmitRecord> records = emulator.submits();
  CHECK(!records.empty() && records.back().request_id.empty());
}

void check_clip(const std::string &path, int width, int height, int duration_s) {
  const ClipInfo info = inspect_clip(path);
  if (!CHECK(info.played)) {
    std::fprintf(stderr, "  %s did not play: %s\n", path.c_str(), info.error.c_str());
    return;
  }
  std::printf(
      "clip %s: H.264 %dx%d @ %d/%d fps, %d frames (%.3f s); AAC %d Hz x%d, decoded %.3f s\n",
      path.c_str(), info.width, info.height, info.fps_n, info.fps_d, info.video_frames,
      static_cast<double>(info.video_duration) / GST_SECOND, info.audio_rate, info.audio_channels,
      static_cast<double>(info.audio_duration) / GST_SECOND);
  CHECK(info.video_is_h264);
  CHECK(info.width == width && info.height == height);
  CHECK(info.fps_n == 24 && info.fps_d == 1);
  CHECK(info.video_frames == duration_s * 24);
  CHECK(info.audio_is_aac && info.audio_rate == 48000 && info.audio_channels == 2);
  const gint64 audio_error_ms =
      (static_cast<gint64>(info.audio_duration) - duration_s * static_cast<gint64>(GST_SECOND)) /
      static_cast<gint64>(GST_MSECOND);
  CHECK(audio_error_ms > -50 && audio_error_ms < 50);
}

void check_downloads(Http &http, emu::Emulator &emulator, const std::string &request_id,
                     const std::string &output_url) {
  const std::string clip = read_file(emulator.clip_path(request_id));
  const goffset size = static_cast<goffset>(clip.size());
  CHECK(size > 1000);

  // The key must never reach the CDN.
  const int keyed_before = emulator.counters().cdn_requests_with_key;
  CHECK(http.get_with_key(output_url).status == 403);
  CHECK(http.request("GET", output_url, {{"Authorization", "Bearer emulator-key"}}).status == 403);
  CHECK(emulator.counters().cdn_requests_with_key == keyed_before + 2);

  const Response whole = http.request("GET", output_url, {{"User-Agent", "emulator-selftest"}});
  CHECK(whole.status == 200 && whole.body == clip && whole.content_length == size);
  CHECK(whole.content_type == "video/mp4");
  bool saw_user_agent = false;
  for (const std::string &header : emulator.cdn_request_headers()) {
    saw_user_agent = saw_user_agent || header == "User-Agent: emulator-selftest";
  }
  CHECK(saw_user_agent);

  const Response head = http.request("HEAD", output_url);
  CHECK(head.status == 200 && head.body.empty() && head.content_length == size);

  const Response middle = http.request("GET", output_url, {{"Range", "bytes=100-199"}});
  CHECK(middle.status == 206 && middle.body == clip.substr(100, 100));
  CHECK(middle.content_range == "bytes 100-199/" + std::to_string(size));
  CHECK(middle.content_length == 100);
  std::printf("Range bytes=100-199: %u, Content-Range: %s, %zu bytes\n", middle.status,
              middle.content_range.c_str(), middle.body.size());

  const goffset resume_at = size - 1000;
  const Response tail =
      http.request("GET", output_url, {{"Range", "bytes=" + std::to_string(resume_at) + "-"}});
  CHECK(tail.status == 206 && tail.body == clip.substr(static_cast<std::size_t>(resume_at)));
  CHECK(tail.content_range == "bytes " + std::to_string(resume_at) + "-" +
                                  std::to_string(size - 1) + "/" + std::to_string(size));
  std::printf("Range bytes=%" G_GOFFSET_FORMAT "-: %u, Content-Range: %s, %zu bytes\n", resume_at,
              tail.status, tail.content_range.c_str(), tail.body.size());

  const Response suffix = http.request("GET", output_url, {{"Range", "bytes=-10"}});
  CHECK(suffix.status == 206 && suffix.body == clip.substr(clip.size() - 10));
  const Response past_end =
      http.request("GET", output_url, {{"Range", "bytes=" + std::to_string(size) + "-"}});
  CHECK(past_end.status == 416 && past_end.content_range == "bytes */" + std::to_string(size));
  const Response several = http.request("GET", output_url, {{"Range", "bytes=0-9,20-29"}});
  CHECK(several.status == 200 && several.body == clip);

  // A connection dropped mid-body: full Content-Length announced, 1000 bytes
  // sent, then EOF.
  emulator.add_fault({emu::Phase::Download, 0, "", 0, 1000, 1});
  const std::string path = output_url.substr(emulator.cdn_url().size());
  const RawResponse cut = raw_get(emulator.cdn_url(), path);
  CHECK(cut.head.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(cut.announced_length == size);
  CHECK(cut.body.size() == 1000 && cut.body == clip.substr(0, 1000));
  CHECK(cut.closed);
  std::printf("truncate_at=1000: announced Content-Length %" G_GOFFSET_FORMAT
              ", received %zu bytes, then %s\n",
              cut.announced_length, cut.body.size(), cut.closed ? "EOF" : "no EOF");
  // Resuming after the cut: a ranged request can be cut too (206, the
  // range's length announced) and then completed.
  emulator.add_fault({emu::Phase::Download, 0, "", 0, 10, 1});
  const RawResponse cut_range = raw_get(emulator.cdn_url(), path, "Range: bytes=1000-\r\n");
  CHECK(cut_range.head.rfind("HTTP/1.1 206", 0) == 0);
  CHECK(cut_range.announced_length == size - 1000);
  CHECK(cut_range.body == clip.substr(1000, 10) && cut_range.closed);
  std::printf("truncate_at=10 on bytes=1000-: %s, announced %" G_GOFFSET_FORMAT
              ", received %zu bytes\n",
              cut_range.head.substr(0, cut_range.head.find('\r')).c_str(),
              cut_range.announced_length, cut_range.body.size());
  const Response rest = http.request("GET", output_url, {{"Range", "bytes=1000-"}});
  CHECK(rest.status == 206 && clip.substr(0, 1000) + rest.body == clip);

  // A plain error fault, then normal service.
  emulator.add_fault({emu::Phase::Download, 503, "", 0, -1, 1});
  const Response unavailable = http.request("GET", output_url);
  CHECK(unavailable.status == 503 && !json_string(unavailable.body, "error").empty());
  CHECK(http.request("GET", output_url).status == 200);
}

void check_faults_and_expiry(Http &http, emu::Emulator &emulator, const std::string &request_id,
                             const std::string &output_url) {
  const std::string status_url = emulator.api_url() + "/v2/requests/" + request_id + "/status";
  const std::string result_url = emulator.api_url() + "/v2/requests/" + request_id;

  // A delayed 503 must not hold up the other requests.
  emulator.add_fault({emu::Phase::Status, 503, "", 400, -1, 1});
  std::atomic<gint64> delayed_ms{0};
  std::atomic<guint> delayed_status{0};
  std::thread delayed([&] {
    Http own_connection;
    const gint64 started = g_get_monotonic_time();
    delayed_status = own_connection.get_with_key(status_url).status;
    delayed_ms = (g_get_monotonic_time() - started) / 1000;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const gint64 started = g_get_monotonic_time();
  const Response meanwhile = http.get_with_key(result_url);
  const gint64 meanwhile_ms = (g_get_monotonic_time() - started) / 1000;
  delayed.join();
  CHECK(delayed_status == 503 && delayed_ms >= 400);
  CHECK(meanwhile.status == 200 && meanwhile_ms < kResponsiveMs);
  std::printf("delayed status fault: %u after %" G_GINT64_FORMAT
              " ms; a result fetch meanwhile took %" G_GINT64_FORMAT " ms\n",
              delayed_status.load(), delayed_ms.load(), meanwhile_ms);
  CHECK(http.get_with_key(status_url).status == 200);

  // A custom body, and a fault that repeats.
  emulator.add_fault({emu::Phase::Result, 500, "{broken", 0, -1, 2});
  const Response broken = http.get_with_key(result_url);
  CHECK(broken.status == 500 && broken.body == "{broken");
  CHECK(http.get_with_key(result_url).status == 500);
  CHECK(http.get_with_key(result_url).status == 200);

  // A refused submit: counted, recorded, not billed.
  const emu::Counters before = emulator.counters();
  emulator.add_fault({emu::Phase::Submit, 429, "", 0, -1, 1});
  const Response limited =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-video", R"({"prompt": "x"})");
  CHECK(limited.status == 429);
  const emu::Counters after = emulator.counters();
  CHECK(after.submits_total == before.submits_total + 1);
  CHECK(after.submits_accepted == before.submits_accepted);
  CHECK(emulator.submits().back().request_id.empty());

  CHECK(http.get_with_key(emulator.api_url() + "/v2/requests/no-such-id/status").status == 404);
  CHECK(http.request("GET", status_url).status == 401);

  emulator.expire(request_id);
  const Response expired = http.get_with_key(status_url);
  CHECK(expired.status == 404 &&
        json_string(expired.body, "error") == "Request not found or expired");
  CHECK(http.get_with_key(result_url).status == 404);
  CHECK(http.request("GET", output_url).status == 404);
}

void check_images(Http &http, emu::Emulator &emulator, const std::string &image_url,
                  gint64 image_size) {
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-video";
  // "0123456789" is 10 bytes; base64 MDEyMzQ1Njc4OQ==
  CHECK(
      http.post_json(submit_url, R"({"image": "data:image/png;base64,MDEyMzQ1Njc4OQ=="})").status ==
      200);
  CHECK(emulator.submits().back().image_bytes == 10);
  CHECK(http.post_json(submit_url, R"({"prompt": "p", "image": "MDEyMzQ1Njc4OQ=="})").status ==
        200);
  CHECK(emulator.submits().back().image_bytes == 10);
  // A loopback URL is fetched (here: a clip on this emulator's own CDN, which
  // also shows the fetch does not block the server thread).
  const Response fetched =
      http.post_json(submit_url, R"({"prompt": "p", "image": ")" + image_url + R"("})");
  CHECK(fetched.status == 200);
  CHECK(emulator.submits().back().image_bytes == image_size);
  std::printf("image by URL: %u, image_bytes=%" G_GINT64_FORMAT " (clip is %" G_GINT64_FORMAT ")\n",
              fetched.status, static_cast<gint64>(emulator.submits().back().image_bytes),
              image_size);
  const Response missing = http.post_json(
      submit_url, R"({"prompt": "p", "image": ")" + emulator.cdn_url() + R"(/nothing.png"})");
  CHECK(missing.status == 400);
  CHECK(http.post_json(submit_url, R"({"prompt": "p"})").status == 200);
  CHECK(emulator.submits().back().image_bytes == -1);
}

void check_failing_emulator() {
  emu::Options options = timed(emu::Provider::Segmind, 20, 150);
  options.fail_detail = "Content blocked by moderation";
  emu::Emulator emulator(options);
  Http http;
  const Response submitted =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-video", R"({"prompt": "x"})");
  CHECK(submitted.status == 200);
  const PollOutcome outcome = poll_until_done(http, json_string(submitted.body, "status_url"));
  CHECK(outcome.final_http == 422 && outcome.final_status == "FAILED");
  CHECK(json_string(outcome.final_body, "error") == options.fail_detail);
  const Response result = http.get_with_key(json_string(submitted.body, "response_url"));
  CHECK(result.status == 422 && json_string(result.body, "status") == "FAILED");
  std::printf("fail_detail: %s\n", joined(outcome.statuses_seen).c_str());

  // The image model fails the same way; the synchronous preview answers 422.
  const Response images =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-image", R"({"prompt": "x"})");
  const PollOutcome images_outcome = poll_until_done(http, json_string(images.body, "status_url"));
  CHECK(images_outcome.final_http == 422 &&
        json_string(images_outcome.final_body, "error") == options.fail_detail);
  const Response preview = http.post_json(emulator.api_url() + "/v1/grok-imagine-video-1.5-preview",
                                          R"({"prompt": "x", "image": "MDEyMzQ1Njc4OQ=="})");
  CHECK(preview.status == 422 && json_string(preview.body, "error") == options.fail_detail);
}

void check_moov_placement(bool moov_at_end) {
  emu::Options options = timed(emu::Provider::Segmind, 10, 50);
  options.moov_at_end = moov_at_end;
  emu::Emulator emulator(options);
  Http http;
  std::string output_url;
  const std::string request_id =
      run_job(http, emulator, R"({"prompt": "moov", "duration": 1})", &output_url);
  const Response clip = http.request("GET", output_url);
  const std::vector<std::string> boxes = top_level_boxes(clip.body);
  const int moov = box_index(boxes, "moov");
  const int mdat = box_index(boxes, "mdat");
  CHECK(moov >= 0 && mdat >= 0);
  CHECK(moov_at_end ? moov > mdat : moov < mdat);
  std::printf("moov_at_end=%d: boxes %s\n", moov_at_end, joined(boxes).c_str());
}

// ---- Benchmark support: rate limit, clip size, stats ----

void check_rate_limit() {
  emu::Options options = timed(emu::Provider::Segmind, 10, 50);
  options.rate_limit_per_s = 1;
  emu::Emulator emulator(options);
  Http http;
  const std::string status_url = emulator.api_url() + "/v2/requests/no-such-id/status";
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-video";
  const std::string good = R"({"prompt": "limited", "duration": 1})";

  // The bucket holds one token: the first request takes it (and is answered
  // as usual), the next finds none.
  const Response first = http.get_with_key(status_url);
  const Response second = http.get_with_key(status_url);
  CHECK(first.status == 404);
  CHECK(second.status == 429 && second.header("retry-after") == "1" &&
        json_string(second.body, "error") == "Too Many Requests");
  std::printf("rate limit 1/s: %u, then %u Retry-After %s %s\n", first.status, second.status,
              second.header("retry-after").c_str(), second.body.c_str());
  // The key is checked first; the stats hook takes no token and counts
  // nothing.
  CHECK(http.get_with_key(status_url).status == 429);
  CHECK(http.request("GET", status_url, {{"x-api-key", "wrong-key"}}).status == 401);
  CHECK(http.post_json(submit_url, good, "wrong-key").status == 401);
  CHECK(http.request("GET", emulator.api_url() + "/emulator/stats").status == 200);
  const emu::Counters before = emulator.counters();
  const Response limited = http.post_json(submit_url, good);
  const emu::Counters after = emulator.counters();
  CHECK(limited.status == 429 && limited.header("retry-after") == "1");
  CHECK(after.submits_total == before.submits_total + 1 &&
        after.submits_accepted == before.submits_accepted);
  // Polls count whatever their answer: three limited or not, one refused.
  CHECK(after.rate_limited == 3 && after.status_polls == 4);

  // A second later the bucket has a token again.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const Response later = http.post_json(submit_url, good);
  CHECK(later.status == 200 && emulator.counters().submits_accepted == 1);
  CHECK(emulator.counters().rate_limited == 3);

  // Bearer keys too, in the provider's envelope; the bucket holds
  // rate_limit_per_s tokens.
  emu::Options xai_options;
  xai_options.provider = emu::Provider::Xai;
  xai_options.rate_limit_per_s = 2;
  emu::Emulator xai(xai_options);
  const std::string poll_url = xai.api_url() + "/v1/videos/no-such-id";
  CHECK(http.get_bearer(poll_url).status == 404);
  CHECK(http.get_bearer(poll_url).status == 404);
  const Response xai_limited = http.get_bearer(poll_url);
  CHECK(xai_limited.status == 429 && xai_limited.header("retry-after") == "1" &&
        Json(xai_limited.body).str("$.code") == "resource_exhausted" &&
        !xai_limited.header("x-request-id").empty());
  CHECK(http.get_bearer(poll_url, "wrong-key").status == 401);
  CHECK(xai.counters().rate_limited == 1);
}

// The stats hook's counters and job times, against the in-process ones.
void check_stats_match(Http &http, emu::Emulator &emulator) {
  const emu::Counters counters = emulator.counters();
  const std::vector<emu::JobTimes> times = emulator.job_times();
  const Response response = http.request("GET", emulator.api_url() + "/emulator/stats");
  const Json stats(response.body);
  CHECK(response.status == 200 && response.content_type == "application/json");
  CHECK(stats.integer("$.submits_total") == counters.submits_total &&
        stats.integer("$.submits_accepted") == counters.submits_accepted &&
        stats.integer("$.status_polls") == counters.status_polls &&
        stats.integer("$.result_fetches") == counters.result_fetches &&
        stats.integer("$.downloads") == counters.downloads &&
        stats.integer("$.rate_limited") == counters.rate_limited);
  if (!CHECK(stats.length("$.jobs") == static_cast<int>(times.size()))) return;
  for (std::size_t index = 0; index < times.size(); ++index) {
    const std::string job = "$.jobs[" + std::to_string(index) + "]";
    CHECK(stats.str((job + ".request_id").c_str()) == times[index].request_id &&
          stats.integer((job + ".submitted_us").c_str()) == times[index].submitted_us &&
          stats.integer((job + ".completed_us").c_str()) == times[index].completed_us);
  }
  // Asking counts nowhere.
  const emu::Counters afterwards = emulator.counters();
  CHECK(afterwards.submits_total == counters.submits_total &&
        afterwards.status_polls == counters.status_polls &&
        afterwards.result_fetches == counters.result_fetches &&
        afterwards.downloads == counters.downloads);
  std::printf("stats: %s\n", response.body.c_str());
}

void check_clip_bytes_and_stats() {
  emu::Options options = timed(emu::Provider::Segmind, 10, 800);
  options.clip_bytes = 20000000;
  emu::Emulator emulator(options);
  Http http;
  const std::string body = R"({"prompt": "twenty megabytes", "duration": 2, "resolution": "720p"})";
  std::string output_url;
  const gint64 encode_started = g_get_monotonic_time();
  const std::string first = run_job(http, emulator, body, &output_url);
  const gint64 took_ms = (g_get_monotonic_time() - encode_started) / 1000;
  const std::string path = emulator.clip_path(first);
  GStatBuf info;
  const gint64 size = g_stat(path.c_str(), &info) == 0 ? static_cast<gint64>(info.st_size) : -1;
  if (!CHECK(size >= 15000000 && size <= 25000000)) {
    std::fprintf(stderr, "  clip_bytes=20000000 made %" G_GINT64_FORMAT " bytes\n", size);
  }
  std::printf("clip_bytes=20000000: 720p 2 s clip of %" G_GINT64_FORMAT
              " bytes, job took %" G_GINT64_FORMAT " ms\n",
              size, took_ms);
  if (!first.empty()) check_clip(path, 1280, 720, 2);
  CHECK(http.request("HEAD", output_url).content_length == size);

  // The same clip again: the file is reused, so the job completes right at
  // generation_ms.
  const std::string second = run_job(http, emulator, body, &output_url);
  CHECK(!second.empty() && emulator.clip_path(second) == path);

  // A job just submitted has not completed.
  const Response submitted = http.post_json(emulator.api_url() + "/v2/grok-imagine-video", body);
  const std::string third = json_string(submitted.body, "request_id");
  const std::vector<emu::JobTimes> pending = emulator.job_times();
  CHECK(pending.size() == 3 && pending.back().request_id == third &&
        pending.back().completed_us == 0);
  poll_until_done(http, json_string(submitted.body, "status_url"));

  const std::vector<emu::JobTimes> times = emulator.job_times();
  const gint64 generation_us = options.generation_ms * G_GINT64_CONSTANT(1000);
  if (CHECK(times.size() == 3)) {
    CHECK(times[0].request_id == first && times[1].request_id == second &&
          times[2].request_id == third);
    for (const emu::JobTimes &job : times) {
      CHECK(job.submitted_us > 0 && job.completed_us >= job.submitted_us + generation_us);
      CHECK(job.completed_us <= g_get_monotonic_time());
    }
    CHECK(times[1].completed_us == times[1].submitted_us + generation_us);
  }
  check_stats_match(http, emulator);
  CHECK(http.request("POST", emulator.api_url() + "/emulator/stats").status == 405);
}

// A finished Segmind job's clip and its CDN URL; "" when the job failed.
std::string served_clip(Http &http, emu::Emulator &emulator, std::string *url) {
  const std::string id = run_job(http, emulator, R"({"prompt": "shaped", "duration": 2})", url);
  return id.empty() ? std::string() : read_file(emulator.clip_path(id));
}

// Link shaping: every CDN answer waits cdn_delay_ms, each body is sent no
// faster than cdn_rate_bytes_per_s, and cdn_unknown_total leaves the
// length out of Content-Range.
void check_cdn_shaping() {
  emu::Options options = timed(emu::Provider::Segmind, 10, 100);
  options.cdn_delay_ms = 300;
  options.cdn_rate_bytes_per_s = 1 << 20;
  options.cdn_unknown_total = true;
  options.clip_bytes = 1000000;  // about a second at that rate
  emu::Emulator emulator(options);
  Http http;
  std::string url;
  const std::string clip = served_clip(http, emulator, &url);
  if (!CHECK(!clip.empty())) return;
  const gint64 started = g_get_monotonic_time();
  const Response whole = http.request("GET", url);
  const gint64 took_ms = (g_get_monotonic_time() - started) / 1000;
  CHECK(whole.status == 200 && whole.body == clip);
  // Never faster than the link allows (a busy machine only adds to it).
  const gint64 least_ms =
      options.cdn_delay_ms + gint64(clip.size()) * 1000 / gint64(options.cdn_rate_bytes_per_s);
  CHECK(took_ms >= least_ms);
  std::printf("shaped CDN: %zu bytes in %" G_GINT64_FORMAT
              " ms (300 ms + 1 MiB/s: at least %" G_GINT64_FORMAT " ms)\n",
              clip.size(), took_ms, least_ms);
  const Response part = http.request("GET", url, {{"Range", "bytes=0-99"}});
  CHECK(part.status == 206 && part.content_range == "bytes 0-99/*" &&
        part.body == clip.substr(0, 100));
  const Response past =
      http.request("GET", url, {{"Range", "bytes=" + std::to_string(clip.size()) + "-"}});
  CHECK(past.status == 416);
  CHECK(emulator.counters().cdn_peak_paced_bodies == 1);
}

// A shared link: two bodies at once share cdn_link_rate_bytes_per_s, so
// both take as long as the two one after the other would (each alone would
// take half); the counters tell what the link carried before each request.
void check_cdn_shared_link() {
  emu::Options options = timed(emu::Provider::Segmind, 10, 100);
  options.cdn_link_rate_bytes_per_s = 2 << 20;
  options.clip_bytes = 1000000;  // half a second alone on the link
  emu::Emulator emulator(options);
  Http http;
  std::string url;
  const std::string clip = served_clip(http, emulator, &url);
  if (!CHECK(!clip.empty())) return;
  const gint64 started = g_get_monotonic_time();
  Response first, second;
  std::thread other([&] {
    Http own;
    second = own.request("GET", url);
  });
  first = http.request("GET", url);
  other.join();
  const gint64 took_ms = (g_get_monotonic_time() - started) / 1000;
  CHECK(first.status == 200 && first.body == clip);
  CHECK(second.status == 200 && second.body == clip);
  // The link's burst (four 5 ms ticks) is all it may run ahead.
  const gint64 least_ms =
      gint64(2 * clip.size()) * 1000 / gint64(options.cdn_link_rate_bytes_per_s) - 20;
  CHECK(took_ms >= least_ms);
  std::printf("shared link: 2 x %zu bytes at once in %" G_GINT64_FORMAT
              " ms (2 MiB/s for both: at least %" G_GINT64_FORMAT " ms)\n",
              clip.size(), took_ms, least_ms);
  CHECK(emulator.counters().cdn_peak_paced_bodies == 2);
  CHECK(emulator.counters().cdn_paced_bytes == 2 * clip.size());
  const auto before = emulator.cdn_paced_bytes_at_requests();
  CHECK(before.size() == 2 && before[0] == 0);
}

// ---- Provider profiles ----

void check_image_sizes() {
  check_sizes("image_size", emu::image_size,
              {
                  {"1k", "1:1", 1024, 1024},
                  {"2k", "1:1", 2048, 2048},
                  {"1k", "16:9", 1024, 576},
                  {"2k", "16:9", 2048, 1152},
                  {"1k", "9:16", 576, 1024},
                  {"1k", "4:3", 1024, 768},
                  {"1k", "3:2", 1024, 672},
                  {"1k", "9:19.5", 464, 1024},
                  {"2k", "19.5:9", 2048, 944},
                  {"1k", "20:9", 1024, 448},
                  {"1k", "1:2", 512, 1024},
                  {"1k", "auto", 1024, 1024},
                  {"2k", "auto", 2048, 2048},
              });
}

const char *provider_name(emu::Provider provider) {
  switch (provider) {
    case emu::Provider::Segmind:
      return "segmind";
    case emu::Provider::Xai:
      return "xai";
    case emu::Provider::Aimlapi:
      return "aimlapi";
    case emu::Provider::Reapi:
      return "reapi";
  }
  return "?";
}

// A profile answers 404 (in its own envelope) to the other providers'
// paths, and counts no submit for them.
void check_foreign_paths(Http &http, emu::Emulator &emulator,
                         const std::function<bool(const Json &)> &is_not_found) {
  struct Path {
    emu::Provider owner;
    const char *method;
    const char *path;
  };
  const Path paths[] = {
      {emu::Provider::Segmind, "POST", "/v2/grok-imagine-video"},
      {emu::Provider::Segmind, "POST", "/v1/grok-imagine-video-1.5-preview"},
      {emu::Provider::Segmind, "POST", "/v2/grok-imagine-image"},
      {emu::Provider::Segmind, "GET", "/v2/requests/some-id/status"},
      {emu::Provider::Segmind, "GET", "/v2/requests/some-id"},
      {emu::Provider::Xai, "POST", "/v1/videos/generations"},
      {emu::Provider::Xai, "POST", "/v1/images/generations"},
      {emu::Provider::Xai, "GET", "/v1/videos/some-id"},
      {emu::Provider::Aimlapi, "POST", "/v2/video/generations"},
      {emu::Provider::Aimlapi, "GET", "/v2/video/generations?generation_id=some-id"},
      {emu::Provider::Reapi, "POST", "/api/v1/videos/generations"},
      {emu::Provider::Reapi, "GET", "/api/v1/tasks/some-id"},
  };
  const Headers both_keys = {{"x-api-key", kKey}, {"Authorization", std::string("Bearer ") + kKey}};
  const emu::Counters before = emulator.counters();
  int refused = 0;
  for (const Path &path : paths) {
    if (path.owner == emulator.options().provider) continue;
    const Response response =
        http.request(path.method, emulator.api_url() + path.path, both_keys,
                     std::strcmp(path.method, "POST") == 0 ? R"({"prompt": "x"})" : "");
    if (CHECK(response.status == 404 && is_not_found(Json(response.body)))) {
      ++refused;
    } else {
      std::fprintf(stderr, "  %s %s on %s: %u %s\n", path.method, path.path,
                   provider_name(emulator.options().provider), response.status,
                   response.body.c_str());
    }
  }
  const emu::Counters after = emulator.counters();
  CHECK(after.submits_total == before.submits_total);
  CHECK(after.status_polls == before.status_polls);
  std::printf("%s: %d other providers' paths answered 404\n",
              provider_name(emulator.options().provider), refused);
}

// A request answered while another one is held (sync generation, fault
// delay): how long it took.
gint64 time_of(const std::function<void()> &request) {
  const gint64 started = g_get_monotonic_time();
  request();
  return (g_get_monotonic_time() - started) / 1000;
}

// Posts each body of a table of refused requests with `post`; `refused_as`
// judges each answer. Prints the bodies answered otherwise.
template <typename Table, typename Post, typename Judge>
void check_refusals(const Table &table, Post &&post, Judge &&refused_as) {
  for (const auto &refused : table) {
    const std::string body = refused.body;
    const Response response = post(body);
    if (!CHECK(refused_as(refused, response, Json(response.body)))) {
      std::fprintf(stderr, "  %.200s answered %u %s\n", body.c_str(), response.status,
                   response.body.c_str());
    }
  }
}

// A Segmind refusal: 400, the error text starting with the field's name.
struct SegmindBad {
  const char *body;
  const char *mentions;
};

bool segmind_refused_as(const SegmindBad &refused, const Response &response, const Json &json) {
  return response.status == 400 && starts_with(json.str("$.error"), refused.mentions);
}

// -- Segmind additions --

void check_segmind_preview() {
  const emu::Options options = timed(emu::Provider::Segmind, 50, 400);
  emu::Emulator emulator(options);
  Http http;
  const std::string url = emulator.api_url() + "/v1/grok-imagine-video-1.5-preview";
  const std::string good = std::string(R"({"image": ")") + kTenByteDataUri +
                           R"(", "prompt": "a preview cat", "duration": 1, "resolution": "480p",)"
                           R"( "aspect_ratio": "1:1"})";

  Response response = http.post_json(url, good, "wrong-key");
  CHECK(response.status == 401 && json_string(response.body, "error") == "Invalid API key");
  const SegmindBad bad[] = {
      {R"({"prompt": "p"})", "image:"},
      {R"({"image": "MDEyMzQ1Njc4OQ=="})", "prompt:"},
      {R"({"image": "MDEyMzQ1Njc4OQ==", "prompt": "p", "resolution": "1080p"})", "resolution:"},
      {R"({"image": "MDEyMzQ1Njc4OQ==", "prompt": "p", "duration": 16})", "duration:"},
      {R"({"image": "MDEyMzQ1Njc4OQ==", "prompt": "p", "aspect_ratio": "21:9"})", "aspect_ratio:"},
      {R"({"image": "not base64!", "prompt": "p"})", "image:"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_json(url, body); }, segmind_refused_as);
  std::printf("segmind 1.5 preview 400: %s\n", http.post_json(url, bad[2].body).body.c_str());

  // Synchronous: the answer is the MP4 itself, after generation_ms; no polls.
  const int polls_before = emulator.counters().status_polls;
  const emu::Counters before = emulator.counters();
  gint64 elapsed_ms = time_of([&] { response = http.post_json(url, good); });
  const emu::SubmitRecord record = emulator.submits().back();
  CHECK(response.status == 200 && response.content_type == "video/mp4");
  CHECK(response.content_length == static_cast<goffset>(response.body.size()));
  CHECK(elapsed_ms >= options.generation_ms);
  CHECK(record.path == "/v1/grok-imagine-video-1.5-preview" &&
        record.model == "grok-imagine-video-1.5-preview" && record.image_bytes == 10 &&
        !record.request_id.empty());
  CHECK(response.body == read_file(emulator.clip_path(record.request_id)));
  CHECK(emulator.counters().status_polls == polls_before);
  CHECK(emulator.counters().submits_accepted == before.submits_accepted + 1);
  std::printf("segmind 1.5 preview: 200 %s, %zu bytes after %" G_GINT64_FORMAT " ms\n",
              response.content_type.c_str(), response.body.size(), elapsed_ms);
  check_clip(emulator.clip_path(record.request_id), 480, 480, 1);

  // A delay fault holds the answer longer; other requests go on meanwhile.
  emulator.add_fault({emu::Phase::Submit, 0, "", 500, -1, 1});
  std::atomic<gint64> delayed_ms{0};
  std::atomic<guint> delayed_status{0};
  std::thread delayed([&] {
    Http own_connection;
    delayed_ms = time_of([&] { delayed_status = own_connection.post_json(url, good).status; });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const gint64 meanwhile_ms = time_of([&] {
    CHECK(http.get_with_key(emulator.api_url() + "/v2/requests/none/status").status == 404);
  });
  delayed.join();
  CHECK(delayed_status == 200 && delayed_ms >= 500 + options.generation_ms);
  CHECK(meanwhile_ms < kResponsiveMs);
  std::printf("segmind 1.5 preview with delay_ms=500: %u after %" G_GINT64_FORMAT
              " ms; a poll meanwhile took %" G_GINT64_FORMAT " ms\n",
              delayed_status.load(), delayed_ms.load(), meanwhile_ms);

  emulator.add_fault({emu::Phase::Submit, 406, R"({"error":"Insufficient credits"})", 0, -1, 1});
  response = http.post_json(url, good);
  CHECK(response.status == 406 && json_string(response.body, "error") == "Insufficient credits");

  // Other models on v1 answer with their media too.
  response =
      http.post_json(emulator.api_url() + "/v1/grok-imagine-image",
                     R"({"prompt": "sync image", "resolution": "1k", "aspect_ratio": "1:1"})");
  const ImageInfo info = inspect_image(response.body);
  CHECK(response.status == 200 && response.content_type == "image/png" && info.decoded &&
        info.width == 1024 && info.height == 1024);
  CHECK(http.post_json(emulator.api_url() + "/v1/no-such-model", good).status == 404);
  // The preview model also runs as an async v2 job.
  response = http.post_json(emulator.api_url() + "/v2/grok-imagine-video-1.5-preview", good);
  CHECK(response.status == 200 && json_string(response.body, "status") == "QUEUED");
}

// Submits to Segmind's v2 image model and polls it to COMPLETED; returns the
// output URLs.
std::vector<std::string> run_segmind_images(Http &http, emu::Emulator &emulator,
                                            const std::string &body, std::string *request_id) {
  std::vector<std::string> urls;
  const std::optional<SegmindJob> job = run_segmind_job(http, emulator, "grok-imagine-image", body);
  if (!job) return urls;
  *request_id = json_string(job->submitted.body, "request_id");
  if (!CHECK(job->poll.final_status == "COMPLETED")) return urls;
  const Response result = http.get_with_key(json_string(job->submitted.body, "response_url"));
  const Json json(result.body);
  CHECK(result.status == 200 && json.has("$.metrics.inference_time"));
  for (int index = 0; index < json.length("$.output"); ++index) {
    urls.push_back(json.str(("$.output[" + std::to_string(index) + "]").c_str()));
  }
  return urls;
}

void check_segmind_images() {
  const emu::Options options = timed(emu::Provider::Segmind, 50, 300);
  emu::Emulator emulator(options);
  Http http;
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-image";
  const SegmindBad bad[] = {
      {R"({"n": 2})", "prompt:"},
      {R"({"prompt": "p", "n": 5})", "n:"},
      {R"({"prompt": "p", "n": 0})", "n:"},
      {R"({"prompt": "p", "output_format": "gif"})", "output_format:"},
      {R"({"prompt": "p", "resolution": "4k"})", "resolution:"},
      {R"({"prompt": "p", "aspect_ratio": "21:9"})", "aspect_ratio:"},
      {R"({"prompt": "p", "mode": "fast"})", "mode:"},
      {R"({"prompt": "p", "image": "not base64!"})", "image:"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_json(submit_url, body); },
      segmind_refused_as);
  std::printf("segmind image 400: %s\n", http.post_json(submit_url, bad[5].body).body.c_str());
  CHECK(emulator.counters().submits_accepted == 0);

  // n images, each its own URL, type and content.
  std::string request_id;
  const std::vector<std::string> urls = run_segmind_images(
      http, emulator,
      R"({"prompt": "three leopards", "n": 3, "output_format": "webp", "resolution": "1k",)"
      R"( "aspect_ratio": "9:19.5", "mode": "quality"})",
      &request_id);
  std::vector<std::string> images;
  if (CHECK(urls.size() == 3)) {
    for (std::size_t index = 0; index < urls.size(); ++index) {
      CHECK(urls[index] ==
            emulator.cdn_url() + "/images/" + request_id + "-" + std::to_string(index) + ".webp");
      images.push_back(
          check_image_download(http, urls[index], "image/webp", emu::image_size("1k", "9:19.5")));
    }
    CHECK(images[0] != images[1] && images[1] != images[2] && images[0] != images[2]);
    std::printf("segmind images: 3 x image/webp %dx%d (%zu, %zu, %zu bytes, all different)\n",
                emu::image_size("1k", "9:19.5").width, emu::image_size("1k", "9:19.5").height,
                images[0].size(), images[1].size(), images[2].size());

    // The CDN: the right extension and index only, no key, ranges.
    const std::string base = emulator.cdn_url() + "/images/" + request_id;
    CHECK(http.request("GET", base + "-0.png").status == 404);
    CHECK(http.request("GET", base + "-3.webp").status == 404);
    CHECK(http.request("GET", base + "-x.webp").status == 404);
    CHECK(http.get_with_key(urls[0]).status == 403);
    const Response range = http.request("GET", urls[1], {{"Range", "bytes=0-99"}});
    CHECK(range.status == 206 && range.body == images[1].substr(0, 100));
    emulator.add_fault({emu::Phase::Download, 0, "", 0, 50, 1});
    const RawResponse cut = raw_get(emulator.cdn_url(), urls[2].substr(emulator.cdn_url().size()));
    CHECK(cut.announced_length == static_cast<goffset>(images[2].size()) &&
          cut.body == images[2].substr(0, 50) && cut.closed);
  }

  // Defaults: one 2k 16:9 PNG.
  const std::vector<std::string> defaults =
      run_segmind_images(http, emulator, R"({"prompt": "one leopard"})", &request_id);
  if (CHECK(defaults.size() == 1 && ends_with(defaults[0], "-0.png"))) {
    check_image_download(http, defaults[0], "image/png", emu::image_size("2k", "16:9"));
  }

  // Editing: an input image by loopback URL is fetched.
  if (!urls.empty() && !images.empty()) {
    const std::vector<std::string> edited = run_segmind_images(
        http, emulator,
        R"({"prompt": "edit it", "output_format": "jpeg", "resolution": "1k", "aspect_ratio":)"
        R"( "auto", "image": ")" +
            urls[0] + R"("})",
        &request_id);
    CHECK(emulator.submits().back().image_bytes == static_cast<gint64>(images[0].size()));
    if (CHECK(edited.size() == 1)) {
      check_image_download(http, edited[0], "image/jpeg", emu::image_size("1k", "auto"));
    }
  }
  const emu::SubmitRecord record = emulator.submits().back();
  CHECK(record.path == "/v2/grok-imagine-image" && record.model == "grok-imagine-image");
  check_foreign_paths(http, emulator,
                      [](const Json &json) { return json.str("$.error") == "Not found"; });
}

// -- xAI --

struct XaiPoll {
  int empty_pending = 0;  // 202 with an empty body
  int json_pending = 0;   // 202 {"status": "pending", "progress": N}
  std::vector<gint64> progress;
  bool traced = true;  // every answer carried x-request-id
  Response final;
};

XaiPoll poll_xai(Http &http, const std::string &url) {
  XaiPoll poll;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    Response response = http.get_bearer(url);
    poll.traced = poll.traced && !response.header("x-request-id").empty();
    if (response.status != 202) {
      poll.final = std::move(response);
      break;
    }
    if (response.body.empty()) {
      ++poll.empty_pending;
    } else {
      const Json json(response.body);
      CHECK(json.str("$.status") == "pending");
      ++poll.json_pending;
      poll.progress.push_back(json.integer("$.progress"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return poll;
}

struct BadRequest {
  std::string body;
  guint status;
  std::string code;  // the envelope's code (xAI: string; reAPI: number as text)
  std::string mentions;
};

// xAI's envelope: {"code": "...", "error": "message"}.
bool xai_refused_as(const BadRequest &refused, const Response &response, const Json &json) {
  return response.status == refused.status && json.str("$.code") == refused.code &&
         contains(json.str("$.error"), refused.mentions);
}

void check_xai() {
  const emu::Options options = timed(emu::Provider::Xai, 100, 600);
  emu::Emulator emulator(options);
  Http http;
  const std::string videos = emulator.api_url() + "/v1/videos/generations";
  const std::string images = emulator.api_url() + "/v1/images/generations";
  const std::string good =
      R"({"model": "grok-imagine-video", "prompt": "an xai fox", "duration": 1,)"
      R"( "aspect_ratio": "4:3"})";

  Response response = http.post_bearer(videos, good, nullptr);
  CHECK(response.status == 401 && Json(response.body).str("$.code") == "unauthenticated" &&
        !Json(response.body).str("$.error").empty() && !response.header("x-request-id").empty());
  CHECK(http.post_bearer(videos, good, "wrong-key").status == 401);
  CHECK(http.post_json(videos, good).status == 401);  // x-api-key is not xAI's

  const std::string model = R"("model": "grok-imagine-video", )";
  const std::string ref = R"({"url": "https://example.com/r.png"})";
  std::string eight_refs;
  for (int i = 0; i < 8; ++i) eight_refs += (i ? ", " : "") + ref;
  const BadRequest bad[] = {
      {"{not json", 400, "invalid_argument", "body"},
      {R"({"prompt": "x"})", 422, "invalid_argument", "`model`"},
      {R"({"model": "grok-imagine-video"})", 422, "invalid_argument", "`prompt`"},
      {R"({"model": "grok-imagine-video-9", "prompt": "x"})", 404, "not_found",
       "grok-imagine-video-9"},
      {"{" + model + R"("prompt": 42})", 400, "invalid_argument", "prompt"},
      {"{" + model + R"("prompt": "x", "duration": 0})", 400, "invalid_argument", "duration"},
      {"{" + model + R"("prompt": "x", "duration": 16})", 400, "invalid_argument", "duration"},
      {"{" + model + R"("prompt": "x", "duration": "8"})", 400, "invalid_argument", "duration"},
      {"{" + model + R"("prompt": "x", "aspect_ratio": "21:9"})", 400, "invalid_argument",
       "aspect_ratio"},
      {"{" + model + R"("prompt": "x", "resolution": "4k"})", 400, "invalid_argument",
       "resolution"},
      {"{" + model + R"("prompt": "x", "resolution": "1080p"})", 400, "invalid_argument", "1080p"},
      {"{" + model + R"("image": "https://example.com/a.png"})", 400, "invalid_argument", "image"},
      {"{" + model + R"("image": {"url": "ftp://example.com/a.png"}})", 400, "invalid_argument",
       "image.url"},
      {"{" + model + R"("image": {"url": "MDEyMzQ1Njc4OQ=="}})", 400, "invalid_argument",
       "image.url"},
      {"{" + model + R"("prompt": "x", "reference_images": [)" + eight_refs + "]}", 400,
       "invalid_argument", "reference_images"},
      {"{" + model + R"("prompt": "x", "image": )" + ref + R"(, "reference_images": [)" + ref +
           "]}",
       400, "invalid_argument", "reference_images"},
      {"{" + model + R"("prompt": "x", "reference_images": ["https://example.com/r.png"]})", 400,
       "invalid_argument", "reference_images[0]"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_bearer(videos, body); },
      [](const BadRequest &refused, const Response &response, const Json &json) {
        return xai_refused_as(refused, response, json) && !response.header("x-request-id").empty();
      });
  std::printf("xai 400: %s\nxai 422: %s\nxai 404: %s\n",
              http.post_bearer(videos, bad[10].body).body.c_str(),
              http.post_bearer(videos, bad[1].body).body.c_str(),
              http.post_bearer(videos, bad[3].body).body.c_str());
  CHECK(emulator.counters().submits_accepted == 0);

  // Text to video. Pending polls alternate between an empty 202 and a
  // progress body.
  response = http.post_bearer(videos, good);
  const std::string id = Json(response.body).str("$.request_id");
  CHECK(response.status == 200 && !id.empty() && !response.header("x-request-id").empty());
  emu::SubmitRecord record = emulator.submits().back();
  CHECK(record.path == "/v1/videos/generations" && record.model == "grok-imagine-video" &&
        record.request_id == id && record.image_bytes == -1 &&
        record.reference_image_bytes.empty());
  const std::string status_url = emulator.api_url() + "/v1/videos/" + id;
  const XaiPoll poll = poll_xai(http, status_url);
  CHECK(poll.empty_pending >= 1 && poll.json_pending >= 1 && poll.traced);
  CHECK(std::is_sorted(poll.progress.begin(), poll.progress.end()));
  CHECK(!poll.progress.empty() && poll.progress.front() >= 0 && poll.progress.back() <= 99 &&
        poll.progress.back() > 0);
  const Json done(poll.final.body);
  const std::string video_url = done.str("$.video.url");
  CHECK(poll.final.status == 200 && done.str("$.status") == "done" &&
        done.integer("$.progress") == 100);
  CHECK(video_url == emulator.cdn_url() + "/videos/" + id + ".mp4");
  CHECK(done.integer("$.video.duration") == 1 && done.boolean("$.video.respect_moderation") == 1);
  CHECK(done.integer("$.usage.cost_in_usd_ticks") > 0);
  std::printf("xai job: %d empty + %d progress 202s (progress %" G_GINT64_FORMAT
              " -> %" G_GINT64_FORMAT "), then %s\n",
              poll.empty_pending, poll.json_pending,
              poll.progress.empty() ? -1 : poll.progress.front(),
              poll.progress.empty() ? -1 : poll.progress.back(), poll.final.body.c_str());
  CHECK(http.request("GET", video_url, {{"Authorization", std::string("Bearer ") + kKey}}).status ==
        403);
  const Response clip = http.request("GET", video_url);
  CHECK(clip.status == 200 && clip.content_type == "video/mp4" &&
        clip.body == read_file(emulator.clip_path(id)));
  check_clip(emulator.clip_path(id), 640, 480, 1);

  // Faults in xAI's envelope; unknown and expired ids.
  emulator.add_fault({emu::Phase::Status, 503, "", 0, -1, 1});
  response = http.get_bearer(status_url);
  CHECK(response.status == 503 && Json(response.body).str("$.code") == "unavailable" &&
        !response.header("x-request-id").empty());
  emulator.add_fault({emu::Phase::Download, 502, "", 0, -1, 1});
  CHECK(http.request("GET", video_url).status == 502);
  const emu::Counters before_limit = emulator.counters();
  emulator.add_fault({emu::Phase::Submit, 429, "", 0, -1, 1});
  response = http.post_bearer(videos, good);
  CHECK(response.status == 429 && Json(response.body).str("$.code") == "resource_exhausted");
  CHECK(emulator.counters().submits_total == before_limit.submits_total + 1 &&
        emulator.counters().submits_accepted == before_limit.submits_accepted);
  response = http.get_bearer(emulator.api_url() + "/v1/videos/no-such-id");
  CHECK(response.status == 404 && Json(response.body).str("$.code") == "not_found");
  CHECK(http.get_bearer(status_url, nullptr).status == 401);
  emulator.expire(id);
  CHECK(http.get_bearer(status_url).status == 404);
  CHECK(http.request("GET", video_url).status == 404);

  // 1080p is for grok-imagine-video-1.5.
  response = http.post_bearer(
      videos,
      R"({"model": "grok-imagine-video-1.5", "prompt": "p", "resolution": "1080p", "duration": 1})");
  CHECK(response.status == 200 && emulator.submits().back().model == "grok-imagine-video-1.5");

  // Images: synchronous, held for generation_ms, JPEG on the CDN.
  std::string first_image;
  gint64 elapsed_ms = time_of([&] {
    response =
        http.post_bearer(images, R"({"prompt": "two xai cats", "n": 2, "aspect_ratio": "16:9"})");
  });
  const Json data(response.body);
  const std::string images_id = emulator.submits().back().request_id;
  CHECK(response.status == 200 && elapsed_ms >= options.generation_ms);
  CHECK(emulator.submits().back().path == "/v1/images/generations" &&
        emulator.submits().back().model == "grok-imagine-image");
  if (CHECK(data.length("$.data") == 2)) {
    std::vector<std::string> bodies;
    for (int index = 0; index < 2; ++index) {
      const std::string prefix = "$.data[" + std::to_string(index) + "]";
      const std::string url = data.str((prefix + ".url").c_str());
      CHECK(url ==
            emulator.cdn_url() + "/images/" + images_id + "-" + std::to_string(index) + ".jpeg");
      CHECK(data.str((prefix + ".mime_type").c_str()) == "image/jpeg");
      bodies.push_back(
          check_image_download(http, url, "image/jpeg", emu::image_size("1k", "16:9")));
    }
    CHECK(bodies[0] != bodies[1]);
    first_image = data.str("$.data[0].url");
    std::printf("xai images: 2 x image/jpeg %dx%d after %" G_GINT64_FORMAT
                " ms (%zu and %zu bytes)\n",
                emu::image_size("1k", "16:9").width, emu::image_size("1k", "16:9").height,
                elapsed_ms, bodies[0].size(), bodies[1].size());
  }
  response = http.post_bearer(
      images,
      R"({"prompt": "one xai cat", "model": "grok-imagine-image", "response_format": "b64_json",)"
      R"( "resolution": "2k", "aspect_ratio": "3:4"})");
  const Json b64(response.body);
  const ImageInfo inline_image = inspect_image(base64_decode(b64.str("$.data[0].b64_json")));
  CHECK(response.status == 200 && b64.length("$.data") == 1 && !b64.has("$.data[0].url"));
  CHECK(inline_image.decoded && inline_image.media_type == "image/jpeg" &&
        inline_image.width == emu::image_size("2k", "3:4").width &&
        inline_image.height == emu::image_size("2k", "3:4").height);
  std::printf("xai b64_json: image/jpeg %dx%d\n", inline_image.width, inline_image.height);
  const BadRequest bad_images[] = {
      {R"({"n": 2})", 422, "invalid_argument", "`prompt`"},
      {R"({"prompt": "p", "n": 11})", 400, "invalid_argument", "n"},
      {R"({"prompt": "p", "n": 0})", 400, "invalid_argument", "n"},
      {R"({"prompt": "p", "model": "grok-2-image"})", 404, "not_found", "grok-2-image"},
      {R"({"prompt": "p", "response_format": "png"})", 400, "invalid_argument", "response_format"},
      {R"({"prompt": "p", "resolution": "4k"})", 400, "invalid_argument", "resolution"},
      {R"({"prompt": "p", "aspect_ratio": "auto"})", 400, "invalid_argument", "aspect_ratio"},
  };
  check_refusals(
      bad_images, [&](const std::string &body) { return http.post_bearer(images, body); },
      xai_refused_as);

  // The server keeps answering while a synchronous image request is held.
  std::atomic<guint> held_status{0};
  std::thread held([&] {
    Http own_connection;
    held_status = own_connection.post_bearer(images, R"({"prompt": "held"})").status;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const gint64 meanwhile_ms = time_of(
      [&] { CHECK(http.get_bearer(emulator.api_url() + "/v1/videos/none").status == 404); });
  held.join();
  CHECK(held_status == 200 && meanwhile_ms < kResponsiveMs);

  // Input images: data: URIs are decoded, loopback URLs fetched.
  response = http.post_bearer(
      videos, "{" + model + R"("image": {"url": ")" + kTenByteDataUri + R"("}, "duration": 1})");
  CHECK(response.status == 200 && emulator.submits().back().image_bytes == 10);
  if (!first_image.empty()) {
    const gint64 first_size = static_cast<gint64>(http.request("GET", first_image).body.size());
    response = http.post_bearer(
        videos, "{" + model + R"("prompt": "refs", "duration": 1, "reference_images": [{"url": ")" +
                    kTenByteDataUri + R"("}, {"url": ")" + first_image + R"("}]})");
    record = emulator.submits().back();
    CHECK(response.status == 200 && record.image_bytes == -1 &&
          record.reference_image_bytes == std::vector<std::int64_t>({10, first_size}));
    std::printf("xai reference_images: %u, bytes {%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "}\n",
                response.status, static_cast<gint64>(record.reference_image_bytes.at(0)),
                static_cast<gint64>(record.reference_image_bytes.at(1)));
  }
  response =
      http.post_bearer(videos, "{" + model + R"("prompt": "refs", "reference_images": [{"url": ")" +
                                   emulator.cdn_url() + R"(/nothing.png"}]})");
  record = emulator.submits().back();
  CHECK(response.status == 400 &&
        contains(Json(response.body).str("$.error"), "reference_images[0].url: could not fetch"));
  CHECK(record.request_id.empty() && record.reference_image_bytes == std::vector<std::int64_t>{0});

  check_foreign_paths(http, emulator,
                      [](const Json &json) { return json.str("$.code") == "not_found"; });
  const emu::Counters counters = emulator.counters();
  std::printf("xai counters: submits %d/%d accepted, %d polls, %d downloads, %d keyed\n",
              counters.submits_accepted, counters.submits_total, counters.status_polls,
              counters.downloads, counters.cdn_requests_with_key);
}

// How xAI jobs end besides done: moderated, expired, failed.
void check_xai_endings() {
  enum class Ending { Moderated, Expired, Failed };
  for (const Ending ending : {Ending::Moderated, Ending::Expired, Ending::Failed}) {
    emu::Options options = timed(emu::Provider::Xai, 10, 150);
    options.moderate = ending == Ending::Moderated;
    options.expire_jobs = ending == Ending::Expired;
    if (ending == Ending::Failed) options.fail_detail = "the prompt was rejected";
    emu::Emulator emulator(options);
    Http http;
    const Response submitted =
        http.post_bearer(emulator.api_url() + "/v1/videos/generations",
                         R"({"model": "grok-imagine-video", "prompt": "x", "duration": 1})");
    const std::string id = Json(submitted.body).str("$.request_id");
    const XaiPoll poll = poll_xai(http, emulator.api_url() + "/v1/videos/" + id);
    const Json json(poll.final.body);
    CHECK(submitted.status == 200 && poll.final.status == 200);
    const Response images =
        http.post_bearer(emulator.api_url() + "/v1/images/generations", R"({"prompt": "x"})");
    const Json image_json(images.body);
    switch (ending) {
      case Ending::Moderated:
        CHECK(json.str("$.status") == "done" && json.has("$.video.url") &&
              json.str("$.video.url").empty() && json.boolean("$.video.respect_moderation") == 0);
        CHECK(http.request("GET", emulator.cdn_url() + "/videos/" + id + ".mp4").status == 404);
        CHECK(images.status == 200 && image_json.str("$.data[0].url").empty() &&
              image_json.boolean("$.data[0].respect_moderation") == 0);
        break;
      case Ending::Expired:
        CHECK(json.str("$.status") == "expired");
        CHECK(images.status == 200 && !image_json.str("$.data[0].url").empty());
        break;
      case Ending::Failed:
        CHECK(json.str("$.status") == "failed" && json.str("$.error.code") == "generation_failed" &&
              json.str("$.error.message") == options.fail_detail);
        CHECK(images.status == 400 && image_json.str("$.code") == "generation_failed" &&
              image_json.str("$.error") == options.fail_detail);
        break;
    }
    std::printf("xai ending: %s; images %u\n", poll.final.body.c_str(), images.status);
  }
}

// Submits an xAI video job to `path` and waits for it to end: its request
// id, "" (reported) when it was refused or did not end done.
std::string run_xai_job(Http &http, const emu::Emulator &emulator, const char *path,
                        const std::string &body) {
  const Response submitted = http.post_bearer(emulator.api_url() + path, body);
  const std::string id = Json(submitted.body).str("$.request_id");
  if (!CHECK(submitted.status == 200 && !id.empty())) {
    std::fprintf(stderr, "  %s answered %u %s\n", path, submitted.status, submitted.body.c_str());
    return "";
  }
  const XaiPoll poll = poll_xai(http, emulator.api_url() + "/v1/videos/" + id);
  return CHECK(Json(poll.final.body).str("$.status") == "done") ? id : "";
}

// Uploads `bytes` to xAI's Files API as an MP4: the file id ("" on failure).
std::string upload_xai_file(Http &http, const emu::Emulator &emulator, const std::string &bytes) {
  SoupMultipart *multipart = soup_multipart_new(SOUP_FORM_MIME_TYPE_MULTIPART);
  g_autoptr(GBytes) file = g_bytes_new(bytes.data(), bytes.size());
  soup_multipart_append_form_file(multipart, "file", "clip.mp4", "video/mp4", file);
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_MULTIPART);
  g_autoptr(GBytes) body = nullptr;
  soup_multipart_to_message(multipart, headers, &body);
  soup_multipart_free(multipart);
  gsize size = 0;
  const auto *data = static_cast<const char *>(g_bytes_get_data(body, &size));
  const Response uploaded = http.request(
      "POST", emulator.api_url() + "/v1/files", {{"Authorization", std::string("Bearer ") + kKey}},
      std::string(data, size), soup_message_headers_get_one(headers, "Content-Type"));
  CHECK(uploaded.status == 200);
  return Json(uploaded.body).str("$.id");
}

// Plays `pipeline`, whose filesink is named "sink", into a temporary file:
// the MP4 it wrote ("" reported on failure).
std::string record_mp4(GstElement *pipeline) {
  g_autofree gchar *path = nullptr;
  const int fd = g_file_open_tmp("emulator-input-XXXXXX", &path, nullptr);
  if (!CHECK(fd >= 0)) return "";
  g_close(fd, nullptr);
  {
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_object_set(sink, "location", path, nullptr);
  }
  const std::string error = play_to_eos(pipeline, 60 * GST_SECOND);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!CHECK(error.empty())) std::fprintf(stderr, "  writing an MP4: %s\n", error.c_str());
  const std::string mp4 = error.empty() ? read_file(path) : "";
  g_remove(path);
  return mp4;
}

// Drops samples until the first keyframe at or after `from`.
struct TailCut {
  GstClockTime from;
  bool reached = false;
  int dropped = 0;
};

GstPadProbeReturn cut_tail(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *cut = static_cast<TailCut *>(data);
  GstBuffer *sample = GST_PAD_PROBE_INFO_BUFFER(info);
  cut->reached = cut->reached || (GST_BUFFER_PTS(sample) >= cut->from &&
                                  !GST_BUFFER_FLAG_IS_SET(sample, GST_BUFFER_FLAG_DELTA_UNIT));
  if (cut->reached) return GST_PAD_PROBE_OK;
  ++cut->dropped;
  return GST_PAD_PROBE_DROP;
}

// The video track of the MP4 at `path` from its first keyframe at or after
// `from`, remuxed with its samples copied (as a client sends the end of a
// clip to extend it).
std::string remuxed_tail(const std::string &path, GstClockTime from) {
  std::string error;
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "filesrc name=source ! qtdemux name=demux demux.video_0 ! queue name=cut ! mux.video_0"
      " mp4mux name=mux ! filesink name=sink",
      &error);
  if (!CHECK(pipeline != nullptr)) return "";
  g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
  g_autoptr(GstElement) queue = gst_bin_get_by_name(GST_BIN(pipeline), "cut");
  g_autoptr(GstPad) queue_sink = gst_element_get_static_pad(queue, "sink");
  g_object_set(source, "location", path.c_str(), nullptr);
  TailCut cut{from};
  gst_pad_add_probe(queue_sink, GST_PAD_PROBE_TYPE_BUFFER, cut_tail, &cut, nullptr);
  const std::string tail = record_mp4(pipeline);
  CHECK(cut.dropped > 0);
  return tail;
}

// A 2 s H.264 MP4 the test encodes itself: no result of the emulator's.
std::string foreign_mp4() {
  std::string error;
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "videotestsrc pattern=smpte num-buffers=48"
      " ! video/x-raw,width=320,height=240,framerate=24/1 ! x264enc speed-preset=ultrafast"
      " key-int-max=24 ! h264parse ! mp4mux ! filesink name=sink",
      &error);
  return CHECK(pipeline != nullptr) ? record_mp4(pipeline) : "";
}

std::string mp4_data_uri(const std::string &mp4) {
  g_autofree gchar *encoded =
      g_base64_encode(reinterpret_cast<const guchar *>(mp4.data()), mp4.size());
  return std::string("data:video/mp4;base64,") + encoded;
}

// An extension's or edit's input video is traced back to the earlier job
// whose result it is, however it is sent (URL, data: URI, file_id) and when
// it is only a remux of that result's tail; a clip the emulator did not make
// traces back to none.
void check_xai_input_origin() {
  emu::Emulator emulator(timed(emu::Provider::Xai, 10, 150));
  Http http;
  const std::string first =
      run_xai_job(http, emulator, "/v1/videos/generations",
                  R"({"model": "grok-imagine-video", "prompt": "first of two", "duration": 3})");
  // The latest job: matching `first` below is by content, not recency.
  const std::string second =
      run_xai_job(http, emulator, "/v1/videos/generations",
                  R"({"model": "grok-imagine-video", "prompt": "second of two", "duration": 3})");
  if (first.empty() || second.empty()) return;
  const std::string first_url = emulator.cdn_url() + "/videos/" + first + ".mp4";
  const Response download = http.request("GET", first_url);
  CHECK(download.status == 200);

  // Extends the video `input` ({url} or {file_id}): the submit's record.
  const auto extend = [&](const std::string &input) {
    const Response response = http.post_bearer(
        emulator.api_url() + "/v1/videos/extensions",
        R"({"model": "grok-imagine-video", "prompt": "more", "duration": 2, "video": )" + input +
            "}");
    CHECK(response.status == 200);
    return emulator.submits().back();
  };
  const std::string tail = remuxed_tail(emulator.clip_path(first), GST_SECOND);
  const std::string file_id = upload_xai_file(http, emulator, download.body);
  const struct {
    const char *sent_as;
    std::string input;
    const char *video_source;
    std::string origin;
  } inputs[] = {
      {"its URL", R"({"url": ")" + first_url + R"("})", "url", first},
      {"a data: URI", R"({"url": ")" + mp4_data_uri(download.body) + R"("})", "data", first},
      {"a file_id", R"({"file_id": ")" + file_id + R"("})", "file_id", first},
      {"its tail remuxed", R"({"url": ")" + mp4_data_uri(tail) + R"("})", "data", first},
      {"a foreign clip", R"({"url": ")" + mp4_data_uri(foreign_mp4()) + R"("})", "data", ""},
  };
  for (const auto &input : inputs) {
    const emu::SubmitRecord record = extend(input.input);
    if (!CHECK(record.video_source == input.video_source &&
               record.video_from_request_id == input.origin)) {
      std::fprintf(stderr, "  %s: from %s \"%s\", expected \"%s\"\n", input.sent_as,
                   record.video_source.c_str(), record.video_from_request_id.c_str(),
                   input.origin.c_str());
    }
  }

  // An extension's result is a result too: an edit of it traces back to it.
  const std::string extended_id = run_xai_job(
      http, emulator, "/v1/videos/extensions",
      R"({"model": "grok-imagine-video", "prompt": "further", "duration": 2, "video": {"url": ")" +
          first_url + R"("}})");
  const Response edit = http.post_bearer(
      emulator.api_url() + "/v1/videos/edits",
      R"({"model": "grok-imagine-video", "prompt": "in grey", "video": {"url": ")" +
          emulator.cdn_url() + "/videos/" + extended_id + R"(.mp4"}})");
  CHECK(edit.status == 200 && emulator.submits().back().video_from_request_id == extended_id);
  std::printf(
      "xai input origin: %s's result traced as its URL, a data: URI, a file_id and a "
      "%zu-byte remuxed tail; a foreign clip to none; an edit of %s to it\n",
      first.c_str(), tail.size(), extended_id.c_str());
}

// -- AI/ML API --

// A status poll with Authorization: Bearer, repeated while `pending(status)`
// (the "$.status" of a 200 answer), for up to 60 s.
struct BearerPoll {
  Response final;
  std::vector<std::string> statuses;  // each distinct status, in order
};

BearerPoll poll_bearer(Http &http, const std::string &url,
                       const std::function<bool(const std::string &status)> &pending,
                       const std::function<void(const Json &)> &on_pending = nullptr) {
  BearerPoll poll;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    poll.final = http.get_bearer(url);
    const Json json(poll.final.body);
    const std::string status = json.str("$.status");
    if (poll.statuses.empty() || poll.statuses.back() != status) poll.statuses.push_back(status);
    if (poll.final.status != 200 || !pending(status)) break;
    if (on_pending) on_pending(json);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return poll;
}

bool aimlapi_pending(const std::string &status) {
  return status != "completed" && status != "error";
}

bool reapi_pending(const std::string &status) {
  return status == "processing";
}

void check_aimlapi() {
  const emu::Options options = timed(emu::Provider::Aimlapi, 100, 500);
  emu::Emulator emulator(options);
  Http http;
  const std::string endpoint = emulator.api_url() + "/v2/video/generations";
  const std::string model = R"("model": "x-ai/grok-imagine-video", )";
  const std::string good = "{" + model +
                           R"("prompt": "an aiml fox", "duration": 1, "resolution": "480p",)"
                           R"( "aspect_ratio": "9:16"})";

  Response response = http.post_bearer(endpoint, good, nullptr);
  CHECK(response.status == 401 && Json(response.body).str("$.error.code") == "invalid_api_key" &&
        !Json(response.body).str("$.error.message").empty());
  CHECK(http.post_bearer(endpoint, good, "wrong-key").status == 401);

  std::string eight_refs;
  for (int i = 0; i < 8; ++i) eight_refs += std::string(i ? ", " : "") + "\"https://e.com/r.png\"";
  const BadRequest bad[] = {
      {"{not json", 400, "invalid_request", "body"},
      {R"({"prompt": "x"})", 400, "invalid_request", "model"},
      {R"({"model": "x-ai/grok-imagine-video-2", "prompt": "x"})", 400, "invalid_request", "model"},
      {"{" + model + R"("duration": 2})", 400, "invalid_request", "prompt"},
      {"{" + model + R"("prompt": "x", "duration": 16})", 400, "invalid_request", "duration"},
      {"{" + model + R"("prompt": "x", "duration": "10"})", 400, "invalid_request", "duration"},
      {"{" + model + R"("prompt": "x", "resolution": "1080p"})", 400, "invalid_request",
       "resolution"},
      {"{" + model + R"("prompt": "x", "aspect_ratio": "21:9"})", 400, "invalid_request",
       "aspect_ratio"},
      {"{" + model + R"("image_url": "ftp://e.com/a.png"})", 400, "invalid_request", "image_url"},
      {"{" + model + R"("image_url": 5})", 400, "invalid_request", "image_url"},
      {"{" + model + R"("prompt": "x", "reference_images": []})", 400, "invalid_request",
       "reference_images"},
      {"{" + model + R"("prompt": "x", "reference_images": [)" + eight_refs + "]}", 400,
       "invalid_request", "reference_images"},
      {"{" + model + R"("prompt": "x", "reference_images": ["x"]})", 400, "invalid_request",
       "reference_images[0]"},
      {"{" + model +
           R"("prompt": "x", "image_url": "https://e.com/a.png", "reference_images": ["https://e.com/r.png"]})",
       400, "invalid_request", "image_url"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_bearer(endpoint, body); },
      [](const BadRequest &refused, const Response &response, const Json &json) {
        return response.status == refused.status && json.str("$.error.code") == refused.code &&
               contains(json.str("$.error.message"), refused.mentions);
      });
  std::printf("aimlapi 400: %s\n", http.post_bearer(endpoint, bad[13].body).body.c_str());
  CHECK(emulator.counters().submits_accepted == 0);

  response = http.post_bearer(endpoint, good);
  const std::string id = Json(response.body).str("$.id");
  CHECK(response.status == 200 && !id.empty() && Json(response.body).str("$.status") == "queued");
  const emu::SubmitRecord record = emulator.submits().back();
  CHECK(record.path == "/v2/video/generations" && record.model == "x-ai/grok-imagine-video" &&
        record.request_id == id);
  const std::string status_url = endpoint + "?generation_id=" + id;
  const BearerPoll poll = poll_bearer(http, status_url, aimlapi_pending);
  const Json completed(poll.final.body);
  const std::string video_url = completed.str("$.video.url");
  CHECK(poll.statuses == std::vector<std::string>({"queued", "generating", "completed"}));
  CHECK(completed.str("$.id") == id && video_url == emulator.cdn_url() + "/videos/" + id + ".mp4");
  std::printf("aimlapi job: %s, then %s\n", joined(poll.statuses).c_str(), poll.final.body.c_str());
  const Response clip = http.request("GET", video_url);
  CHECK(clip.status == 200 && clip.body == read_file(emulator.clip_path(id)));
  check_clip(emulator.clip_path(id), 480, 848, 1);

  response = http.get_bearer(endpoint);
  CHECK(response.status == 400 &&
        contains(Json(response.body).str("$.error.message"), "generation_id"));
  response = http.get_bearer(endpoint + "?generation_id=nope");
  CHECK(response.status == 404 && Json(response.body).str("$.error.code") == "not_found");
  CHECK(http.get_bearer(status_url, nullptr).status == 401);
  emulator.add_fault({emu::Phase::Status, 502, "", 0, -1, 1});
  response = http.get_bearer(status_url);
  CHECK(response.status == 502 && Json(response.body).str("$.error.message") == "Bad Gateway");

  // References by loopback URL, an image_url as data: URI.
  const gint64 clip_size = static_cast<gint64>(clip.body.size());
  response =
      http.post_bearer(endpoint, "{" + model + R"("prompt": "refs", "reference_images": [")" +
                                     video_url + R"(", ")" + video_url + R"("]})");
  CHECK(response.status == 200 && emulator.submits().back().reference_image_bytes ==
                                      std::vector<std::int64_t>({clip_size, clip_size}));
  response =
      http.post_bearer(endpoint, "{" + model + R"("image_url": ")" + kTenByteDataUri + R"("})");
  CHECK(response.status == 200 && emulator.submits().back().image_bytes == 10);

  check_foreign_paths(http, emulator, [](const Json &json) {
    return json.str("$.error.code") == "not_found" && !json.str("$.error.message").empty();
  });

  emu::Options failing_options = timed(options.provider, 10, 100);
  failing_options.fail_detail = "upstream generation error";
  emu::Emulator failing(failing_options);
  const Response submitted = http.post_bearer(failing.api_url() + "/v2/video/generations", good);
  const std::string failing_url =
      failing.api_url() + "/v2/video/generations?generation_id=" + Json(submitted.body).str("$.id");
  const Json ended(poll_bearer(http, failing_url, aimlapi_pending).final.body);
  CHECK(ended.str("$.status") == "error" &&
        ended.str("$.error.message") == failing_options.fail_detail);
}

// -- reAPI --

void check_reapi() {
  const emu::Options options = timed(emu::Provider::Reapi, 100, 500);
  emu::Emulator emulator(options);
  Http http;
  const std::string endpoint = emulator.api_url() + "/api/v1/videos/generations";
  const std::string model = R"("model": "grok-imagine-1.0-video", )";
  const std::string good =
      "{" + model + R"("prompt": "a reapi dog", "size": "1:1", "duration": 6, "quality": "480p"})";

  Response response = http.post_bearer(endpoint, good, nullptr);
  CHECK(response.status == 401 && Json(response.body).integer("$.error.code") == 10001 &&
        starts_with(Json(response.body).str("$.error.request_id"), "req_"));

  std::string eight_urls;
  for (int i = 0; i < 8; ++i) eight_urls += std::string(i ? ", " : "") + "\"https://e.com/r.png\"";
  const BadRequest bad[] = {
      {"{not json", 400, "20003", "body"},
      {R"({"prompt": "x"})", 400, "20003", "model"},
      {R"({"model": "grok-imagine-1.0-video"})", 400, "20002",
       "prompt is required when image_urls is empty"},
      {"{" + model + R"("prompt": "   "})", 400, "20002", "prompt is required"},
      {"{" + model + R"("prompt": ")" + std::string(4001, 'a') + R"("})", 400, "20007",
       "prompt exceeds 4000 characters (got 4001)"},
      {"{" + model + R"("prompt": "x", "duration": 5})", 400, "20003",
       "duration must be 6-30 seconds, got 5"},
      {"{" + model + R"("prompt": "x", "duration": 31})", 400, "20003", "duration"},
      {"{" + model + R"("prompt": "x", "duration": "6"})", 400, "20003", "duration"},
      {"{" + model + R"("prompt": "x", "size": "4:3"})", 400, "20003",
       "invalid size \"4:3\" (allowed: 16:9 / 9:16 / 1:1 / 3:2 / 2:3)"},
      {"{" + model + R"("prompt": "x", "quality": "1080p"})", 400, "20003",
       "invalid quality \"1080p\" (allowed: 480p / 720p)"},
      {"{" + model + R"("prompt": "x", "image_urls": [)" + eight_urls + "]}", 400, "20003",
       "image_urls accepts at most 7 entries, got 8"},
      {"{" + model + R"("prompt": "x", "image_urls": [")" + kTenByteDataUri + R"("]})", 400,
       "20003", "image_urls entries must be public http(s) URLs"},
      {"{" + model + R"("prompt": "x", "image_urls": "https://e.com/r.png"})", 400, "20003",
       "image_urls"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_bearer(endpoint, body); },
      [](const BadRequest &refused, const Response &response, const Json &json) {
        const std::string message = json.str("$.error.message");
        return response.status == refused.status &&
               std::to_string(json.integer("$.error.code")) == refused.code &&
               starts_with(message, "grok-imagine: ") && contains(message, refused.mentions) &&
               starts_with(json.str("$.error.request_id"), "req_");
      });
  std::printf("reapi 400: %s\n", http.post_bearer(endpoint, bad[9].body).body.c_str());
  CHECK(emulator.counters().submits_accepted == 0);

  response = http.post_bearer(endpoint, good);
  const Json accepted(response.body);
  const std::string id = accepted.str("$.id");
  CHECK(response.status == 200 && starts_with(id, "task_") && id.size() == 5 + 32 &&
        accepted.str("$.model") == "grok-imagine-1.0-video" &&
        accepted.str("$.status") == "processing" && accepted.integer("$.created_at") > 1700000000);
  const emu::SubmitRecord record = emulator.submits().back();
  CHECK(record.path == "/api/v1/videos/generations" && record.model == "grok-imagine-1.0-video" &&
        record.request_id == id);
  const std::string status_url = emulator.api_url() + "/api/v1/tasks/" + id;
  bool pending_nulls = true;  // output and error null while processing
  const BearerPoll poll = poll_bearer(http, status_url, reapi_pending, [&](const Json &json) {
    pending_nulls = pending_nulls && json.is_null("$.output") && json.is_null("$.error");
  });
  const Json completed(poll.final.body);
  const std::string video_url = completed.str("$.output.video_urls[0]");
  CHECK(poll.statuses == std::vector<std::string>({"processing", "completed"}) && pending_nulls);
  CHECK(completed.str("$.id") == id && completed.is_null("$.error") &&
        completed.integer("$.created_at") == accepted.integer("$.created_at") &&
        completed.length("$.output.video_urls") == 1);
  CHECK(video_url == emulator.cdn_url() + "/videos/" + id + ".mp4");
  std::printf("reapi task: %s, then %s\n", joined(poll.statuses).c_str(), poll.final.body.c_str());
  const Response clip = http.request("GET", video_url);
  CHECK(clip.status == 200 && clip.body == read_file(emulator.clip_path(id)));
  check_clip(emulator.clip_path(id), 480, 480, 6);

  response = http.get_bearer(emulator.api_url() + "/api/v1/tasks/task_nope");
  CHECK(response.status == 404 && Json(response.body).integer("$.error.code") == 10004);
  CHECK(http.get_bearer(status_url, nullptr).status == 401);
  emulator.add_fault({emu::Phase::Submit, 503, "", 0, -1, 1});
  response = http.post_bearer(endpoint, good);
  CHECK(response.status == 503 && Json(response.body).integer("$.error.code") == 10503);

  // image_urls: loopback http URLs stand in for public ones and are fetched;
  // the prompt is optional with them; quality in any case.
  const gint64 clip_size = static_cast<gint64>(clip.body.size());
  response = http.post_bearer(
      endpoint, "{" + model + R"("quality": "720P", "image_urls": [")" + video_url + R"("]})");
  CHECK(response.status == 200 && emulator.submits().back().image_bytes == -1 &&
        emulator.submits().back().reference_image_bytes == std::vector<std::int64_t>({clip_size}));
  response = http.post_bearer(
      endpoint, "{" + model + R"("image_urls": [")" + emulator.cdn_url() + R"(/nothing.png"]})");
  CHECK(response.status == 400 && Json(response.body).integer("$.error.code") == 20003 &&
        contains(Json(response.body).str("$.error.message"), "image_urls[0]"));

  check_foreign_paths(http, emulator,
                      [](const Json &json) { return json.integer("$.error.code") == 10004; });

  emu::Options failing_options = timed(options.provider, 10, 100);
  failing_options.fail_detail = "upstream rejected the prompt";
  emu::Emulator failing(failing_options);
  const Response submitted =
      http.post_bearer(failing.api_url() + "/api/v1/videos/generations", good);
  const std::string failing_url =
      failing.api_url() + "/api/v1/tasks/" + Json(submitted.body).str("$.id");
  const Json ended(poll_bearer(http, failing_url, reapi_pending).final.body);
  CHECK(ended.str("$.status") == "failed" && ended.is_null("$.output") &&
        ended.str("$.error.code") == "generation_failed" &&
        ended.str("$.error.message") == failing_options.fail_detail);
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  check_frame_sizes();
  check_image_sizes();

  const emu::Options options = timed(emu::Provider::Segmind, 300, 900);
  {
    emu::Emulator emulator(options);
    Http http;
    std::printf("emulator: api %s, cdn %s\n", emulator.api_url().c_str(),
                emulator.cdn_url().c_str());
    check_submit_validation(http, emulator);

    // Quotes and a backslash in the prompt: it must reach textoverlay intact.
    std::string output_url;
    PollOutcome poll;
    const std::string request_id = run_job(
        http, emulator,
        R"({"prompt": "A \"quoted\" fox \\ jumps", "duration": 2, "resolution": "480p", "aspect_ratio": "9:16"})",
        &output_url, &poll);
    std::printf("job %s: %s, slowest poll %" G_GINT64_FORMAT " ms\n", request_id.c_str(),
                joined(poll.statuses_seen).c_str(), poll.slowest_poll_ms);
    CHECK(poll.statuses_seen.size() >= 3 && poll.statuses_seen[0] == "QUEUED" &&
          poll.statuses_seen[1] == "PROCESSING");
    CHECK(poll.slowest_poll_ms < kResponsiveMs);
    const Response result = http.get_with_key(emulator.api_url() + "/v2/requests/" + request_id);
    CHECK(Json(result.body).integer("$.metrics.duration_s") == 2);

    if (!request_id.empty()) {
      check_clip(emulator.clip_path(request_id), 480, 848, 2);
      check_downloads(http, emulator, request_id, output_url);
    }

    // A bigger clip: the server stays responsive while it encodes.
    std::string wide_url;
    PollOutcome wide_poll;
    const std::string wide_id =
        run_job(http, emulator, R"({"prompt": "wide", "duration": 4, "resolution": "720p"})",
                &wide_url, &wide_poll);
    std::printf("720p job: %s, slowest poll %" G_GINT64_FORMAT " ms\n",
                joined(wide_poll.statuses_seen).c_str(), wide_poll.slowest_poll_ms);
    CHECK(wide_poll.slowest_poll_ms < kResponsiveMs);
    if (!wide_id.empty()) {
      check_clip(emulator.clip_path(wide_id), 1280, 720, 4);
      check_images(http, emulator, wide_url,
                   static_cast<gint64>(read_file(emulator.clip_path(wide_id)).size()));
    }
    if (!request_id.empty()) check_faults_and_expiry(http, emulator, request_id, output_url);

    const emu::Counters counters = emulator.counters();
    std::printf("counters: submits %d/%d accepted, %d polls, %d results, %d downloads, %d keyed\n",
                counters.submits_accepted, counters.submits_total, counters.status_polls,
                counters.result_fetches, counters.downloads, counters.cdn_requests_with_key);
  }
  check_failing_emulator();
  check_moov_placement(false);
  check_moov_placement(true);
  check_rate_limit();
  check_clip_bytes_and_stats();
  check_cdn_shaping();
  check_cdn_shared_link();
  check_segmind_preview();
  check_segmind_images();
  check_xai();
  check_xai_endings();
  check_xai_input_origin();
  check_aimlapi();
  check_reapi();

  std::printf("%s (%d failure%s)\n", failures == 0 ? "PASS" : "FAIL", failures,
              failures == 1 ? "" : "s");
  return failures == 0 ? 0 : 1;
}
