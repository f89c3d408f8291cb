// SPDX-License-Identifier: LGPL-2.1-or-later
// What the emulator's own suites (check-*.cpp beside this file) share: they
// drive it over HTTP the way the plugin will (submit, poll, fetch the result,
// download from the CDN), then check the clips and images with GStreamer.
// The checks here fail the running GstCheck test (fail_unless) and print
// what they saw.
#pragma once

#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "emulator.h"
#include "glib-ptr.h"

namespace emulator_checks {

namespace emu = grokimagine::emulator;
using emu::GObjectPtr;

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
  Http();

  Response request(const char *method, const std::string &url, const Headers &headers = {},
                   const std::string &body = "", const char *body_type = "application/json");

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

std::string read_file(const std::string &path);

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
std::string json_string(const std::string &text, const char *name);

bool contains(const std::string &text, const std::string &part);
bool starts_with(const std::string &text, const std::string &prefix);
bool ends_with(const std::string &text, const std::string &suffix);
std::string base64_decode(const std::string &text);

// A data: URI of 10 bytes ("0123456789").
constexpr const char *kTenByteDataUri = "data:image/png;base64,MDEyMzQ1Njc4OQ==";

struct PollOutcome {
  std::string final_status;
  guint final_http = 0;
  std::vector<std::string> statuses_seen;  // each distinct status, in order
  gint64 slowest_poll_ms = 0;
  std::string final_body;
};

// Polls a Segmind status URL until the job ends (or 60 s).
PollOutcome poll_until_done(Http &http, const std::string &status_url);

std::string joined(const std::vector<std::string> &items);

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

ClipInfo inspect_clip(const std::string &path);

// A pipeline from a gst-launch description (a plain reference), or null
// with `error` filled.
GstElement *parse_pipeline(const char *description, std::string *error);

// Plays `pipeline` to EOS, waiting at most `timeout`: "" when it got there,
// else what went wrong. The caller reads the negotiated caps, then stops it.
std::string play_to_eos(GstElement *pipeline, GstClockTime timeout);

// What GStreamer finds in an encoded image. (The queue makes typefind work
// in push mode; pulled through by decodebin it would not type anything.)
struct ImageInfo {
  bool decoded = false;
  std::string error;
  std::string media_type;  // as typefind sees it: "image/png", ...
  int width = 0;
  int height = 0;
};

ImageInfo inspect_image(const std::string &bytes);

// Downloads an image from the CDN and checks its type, size and decoding.
// Returns its bytes.
std::string check_image_download(Http &http, const std::string &url, const char *content_type,
                                 emu::FrameSize size);

// A GET on a raw socket, to see exactly what the server sends and that it
// closes. Reads until EOF (or a 5 s stall).
struct RawResponse {
  std::string head;
  std::string body;
  goffset announced_length = -1;
  bool closed = false;
};

RawResponse raw_get(const std::string &base_url, const std::string &path,
                    const std::string &extra_headers = "");

// Options for a test's emulator: the API it speaks and how long its jobs
// take.
emu::Options timed(emu::Provider provider, unsigned queued_ms, unsigned generation_ms);

// A Segmind v2 job: the submit's answer and how its polls went.
struct SegmindJob {
  Response submitted;
  PollOutcome poll;
};

// Submits `body` to Segmind's v2 `model` and polls the job until it ends.
// The test fails (the answer reported) when the submit is refused.
SegmindJob run_segmind_job(Http &http, emu::Emulator &emulator, const char *model,
                           const std::string &body);

// Submits, waits for COMPLETED, fetches the result; returns the request id
// and fills `output_url` (and `poll`, when given).
std::string run_job(Http &http, emu::Emulator &emulator, const std::string &body,
                    std::string *output_url, PollOutcome *poll = nullptr);

// Plays the clip at `path` and checks it is H.264 `width`x`height` at
// 24 fps and AAC 48 kHz stereo, both `duration_s` long.
void check_clip(const std::string &path, int width, int height, int duration_s);

// The CDN serving a finished job's clip: never with the key, whole, HEAD,
// ranges, a dropped connection (also on a ranged request, then resumed) and
// an error fault.
void check_downloads(Http &http, emu::Emulator &emulator, const std::string &request_id,
                     const std::string &output_url);

const char *provider_name(emu::Provider provider);

// A profile answers 404 (in its own envelope) to the other providers'
// paths, and counts no submit for them.
void check_foreign_paths(Http &http, emu::Emulator &emulator,
                         const std::function<bool(const Json &)> &is_not_found);

// A request answered while another one is held (sync generation, fault
// delay): how long it took.
gint64 time_of(const std::function<void()> &request);

// Posts each body of a table of refused requests with `post`; `refused_as`
// judges each answer. Fails on (and prints) the first body answered
// otherwise.
template <typename Table, typename Post, typename Judge>
void check_refusals(const Table &table, Post &&post, Judge &&refused_as) {
  for (const auto &refused : table) {
    const std::string body = refused.body;
    const Response response = post(body);
    fail_unless(refused_as(refused, response, Json(response.body)), "%.200s answered %u %s",
                body.c_str(), response.status, response.body.c_str());
  }
}

// A request the Bearer providers (xAI, AI/ML API, reAPI) refuse.
struct BadRequest {
  std::string body;
  guint status;
  std::string code;  // the envelope's code (xAI: string; reAPI: number as text)
  std::string mentions;
};

// A status poll with Authorization: Bearer, repeated while `pending(status)`
// (the "$.status" of a 200 answer), for up to 60 s.
struct BearerPoll {
  Response final;
  std::vector<std::string> statuses;  // each distinct status, in order
};

BearerPoll poll_bearer(Http &http, const std::string &url,
                       const std::function<bool(const std::string &status)> &pending,
                       const std::function<void(const Json &)> &on_pending = nullptr);

}  // namespace emulator_checks
