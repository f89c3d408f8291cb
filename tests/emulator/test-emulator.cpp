// Self-check of the emulator: drives it over HTTP the way the plugin will
// (submit, poll, fetch the result, download from the CDN), then checks the
// clip with GStreamer. Prints what it saw; exits non-zero on any failure.
#include "emulator.h"
#include "glib-ptr.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
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
};

// Blocking HTTP client (libsoup's sync API works without a main loop).
class Http {
 public:
  Http() : session_(soup_session_new()) {
    soup_session_set_proxy_resolver(session_.get(), nullptr);
  }

  Response request(const char *method, const std::string &url, const Headers &headers = {},
                   const std::string &body = "") {
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
      soup_message_set_request_body_from_bytes(message.get(), "application/json", bytes);
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

 private:
  GObjectPtr<SoupSession> session_;
};

// A string or integer member of a JSON object body ("" / -1 if absent).
std::string json_string(const std::string &text, const char *name) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), nullptr))
    return "";
  JsonNode *root = json_parser_get_root(parser);
  if (root == nullptr || !JSON_NODE_HOLDS_OBJECT(root)) return "";
  JsonObject *object = json_node_get_object(root);
  JsonNode *node = json_object_get_member(object, name);
  if (node == nullptr || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return "";
  return json_node_get_string(node);
}

gint64 json_metrics_duration(const std::string &text) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), nullptr))
    return -1;
  g_autoptr(JsonPath) path = json_path_new();
  if (!json_path_compile(path, "$.metrics.duration_s", nullptr)) return -1;
  g_autoptr(JsonNode) matches = json_path_match(path, json_parser_get_root(parser));
  JsonArray *array = json_node_get_array(matches);
  if (json_array_get_length(array) != 1) return -1;
  return json_array_get_int_element(array, 0);
}

std::string read_file(const std::string &path) {
  g_autofree gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &contents, &length, nullptr)) return "";
  return std::string(contents, length);
}

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

ClipInfo inspect_clip(const std::string &path) {
  ClipInfo info;
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "filesrc name=source ! qtdemux name=demux"
      " demux.video_0 ! queue ! h264parse name=video_parse ! avdec_h264"
      " ! fakesink name=video_sink sync=false"
      " demux.audio_0 ! queue ! aacparse name=audio_parse ! avdec_aac"
      " ! fakesink name=audio_sink sync=false",
      &error);
  if (pipeline == nullptr) {
    info.error = error->message;
    return info;
  }
  if (g_object_is_floating(pipeline)) gst_object_ref_sink(pipeline);
  {
    g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
    g_object_set(source, "location", path.c_str(), nullptr);
  }
  StreamTally video;
  StreamTally audio;
  tally_sink(pipeline, "video_sink", &video);
  tally_sink(pipeline, "audio_sink", &audio);

  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr) {
    info.error = "timed out";
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) play_error = nullptr;
    gst_message_parse_error(message, &play_error, nullptr);
    info.error = play_error->message;
  } else {
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

// Submits, waits for COMPLETED, fetches the result; returns the request id
// ("" on failure) and fills `output_url`.
std::string run_job(Http &http, emu::Emulator &emulator, const std::string &body,
                    std::string *output_url, PollOutcome *poll = nullptr) {
  const Response submitted = http.post_json(emulator.api_url() + "/v2/grok-imagine-video", body);
  if (!CHECK(submitted.status == 200)) {
    std::fprintf(stderr, "  submit answered %u %s\n", submitted.status, submitted.body.c_str());
    return "";
  }
  const std::string request_id = json_string(submitted.body, "request_id");
  CHECK(!request_id.empty());
  CHECK(json_string(submitted.body, "status") == "QUEUED");
  const std::string response_url = emulator.api_url() + "/v2/requests/" + request_id;
  CHECK(json_string(submitted.body, "status_url") == response_url + "/status");
  CHECK(json_string(submitted.body, "response_url") == response_url);
  const PollOutcome outcome = poll_until_done(http, json_string(submitted.body, "status_url"));
  if (poll != nullptr) *poll = outcome;
  if (!CHECK(outcome.final_status == "COMPLETED")) return "";
  const Response result = http.get_with_key(response_url);
  CHECK(result.status == 200);
  CHECK(json_string(result.body, "status") == "COMPLETED");
  *output_url = json_string(result.body, "output");
  CHECK(*output_url == emulator.cdn_url() + "/videos/" + request_id + ".mp4");
  return request_id;
}

void check_frame_sizes() {
  struct Expected {
    const char *resolution;
    const char *aspect_ratio;
    int width;
    int height;
  };
  const Expected table[] = {
      {"480p", "16:9", 848, 480}, {"480p", "9:16", 480, 848},  {"480p", "1:1", 480, 480},
      {"480p", "4:3", 640, 480},  {"480p", "3:2", 720, 480},   {"720p", "16:9", 1280, 720},
      {"720p", "1:1", 720, 720},  {"720p", "9:16", 720, 1280}, {"1080p", "16:9", 1920, 1080},
      {"480p", "3:4", 480, 640},  {"480p", "2:3", 480, 720},
  };
  for (const Expected &expected : table) {
    const emu::FrameSize size = emu::frame_size(expected.resolution, expected.aspect_ratio);
    if (!CHECK(size.width == expected.width && size.height == expected.height)) {
      std::fprintf(stderr, "  frame_size(%s, %s) = %dx%d, want %dx%d\n", expected.resolution,
                   expected.aspect_ratio, size.width, size.height, expected.width, expected.height);
    }
  }
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
  emu::Options options;
  options.queued_ms = 20;
  options.generation_ms = 150;
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
}

void check_moov_placement(bool moov_at_end) {
  emu::Options options;
  options.queued_ms = 10;
  options.generation_ms = 50;
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

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  check_frame_sizes();

  emu::Options options;
  options.queued_ms = 300;
  options.generation_ms = 900;
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
    CHECK(json_metrics_duration(result.body) == 2);

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

  std::printf("%s (%d failure%s)\n", failures == 0 ? "PASS" : "FAIL", failures,
              failures == 1 ? "" : "s");
  return failures == 0 ? 0 : 1;
}
