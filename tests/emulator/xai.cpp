// SPDX-License-Identifier: LGPL-2.1-or-later
// xAI's own API: Authorization: Bearer KEY; every answer carries
// x-request-id; errors as {"code": "...", "error": "message"}.
//   POST /v1/videos/generations  -> 200 {"request_id"}; 400 bad values, 422 missing fields
//   GET  /v1/videos/{id}         -> 202 while pending (an empty body or
//                                   {"status":"pending","progress":N}, alternately);
//                                   200 done | failed | expired; 404 unknown
//   POST /v1/images/generations  -> synchronous: {"data": [{url | b64_json, mime_type}]}
//   POST /v1/videos/extensions   {model grok-imagine-video, prompt, video {url | file_id},
//                                 duration 2..10}: the input (2..15 s) then new frames
//   POST /v1/videos/edits        {model, prompt, video}: the input (<= 8.7 s) restyled
//   POST /v1/files (multipart: expires_after, file) -> {id, bytes, ...};
//   GET / DELETE /v1/files/{id}; a deleted file used by a submit is refused.
// Generations also take keyframes [{image, timestamp_s}] (<= 4, within the
// clip), reference_audios [{url | file_id}] (<= 3, 1.5 only) and
// generate_audio (false: a clip without an audio track).
#include "emulator-debug.h"
#include "emulator-internal.h"

#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

constexpr const char *kVideoModel = "grok-imagine-video";
constexpr const char *kVideo15Model = "grok-imagine-video-1.5";
constexpr const char *kImageModel = "grok-imagine-image";
constexpr gint64 kMinDuration = 1;
constexpr gint64 kMaxDuration = 15;
constexpr int kDefaultDuration = 8;
constexpr const char *kDefaultVideoResolution = "480p";  // (inferred)
constexpr const char *kDefaultImageAspectRatio = "1:1";  // (inferred)
constexpr std::size_t kMaxReferenceImages = 7;
constexpr gint64 kMaxImages = 10;
// 1e10 ticks are 1 USD; a made-up $0.05 per second of video.
constexpr gint64 kTicksPerVideoSecond = 500000000;

const std::initializer_list<const char *> kAspectRatios = {"1:1", "16:9", "9:16", "4:3",
                                                           "3:4", "3:2",  "2:3"};
const std::initializer_list<const char *> kVideoResolutions = {"480p", "720p", "1080p"};
const std::initializer_list<const char *> kImageResolutions = {"1k", "2k"};
const std::initializer_list<const char *> kResponseFormats = {"url", "b64_json"};

std::string envelope(const std::string &code, const std::string &message) {
  return JsonWriter().add("code", code).add("error", message).finish();
}

// A refusal: the status and the message for the envelope.
struct Refusal {
  guint status = SOUP_STATUS_BAD_REQUEST;
  std::string code = "invalid_argument";
  std::string message;
};

Refusal bad_argument(const std::string &message) {
  return {SOUP_STATUS_BAD_REQUEST, "invalid_argument", message};
}

// What axum's JSON extractor says about a missing field, which xAI passes on.
Refusal missing_field(const char *name, const std::string &detail) {
  return {SOUP_STATUS_UNPROCESSABLE_ENTITY, "invalid_argument",
          std::string("Failed to deserialize the JSON body into the target type: missing field `") +
              name + "` (" + detail + ")"};
}

Refusal unknown_model(const std::string &model, std::initializer_list<const char *> models) {
  return {SOUP_STATUS_NOT_FOUND, "not_found",
          "The model " + model + " does not exist or your team does not have access to it (" +
              "available here: " + joined(models) + ")"};
}

void refuse(SoupServerMessage *msg, const Refusal &refusal) {
  respond(msg, refusal.status, envelope(refusal.code, refusal.message));
}

// A string member from a closed set; `value` keeps its default when absent.
bool parse_choice(JsonObject *object, const char *name, std::initializer_list<const char *> allowed,
                  std::string *value, Refusal *refusal) {
  if (JsonNode *node = member(object, name)) {
    if (!holds_string(node) || !is_one_of(json_node_get_string(node), allowed)) {
      const std::string got = holds_string(node)
                                  ? "\"" + std::string(json_node_get_string(node)) + "\""
                                  : json_type_name(node);
      *refusal = bad_argument(std::string(name) + ": must be one of " + joined(allowed) + " (got " +
                              got + ")");
      return false;
    }
    *value = json_node_get_string(node);
  }
  return true;
}

bool parse_integer(JsonObject *object, const char *name, gint64 min, gint64 max, int *value,
                   Refusal *refusal) {
  if (JsonNode *node = member(object, name)) {
    const bool integer = holds_integer(node);
    const gint64 number = integer ? json_node_get_int(node) : 0;
    if (!integer || number < min || number > max) {
      *refusal = bad_argument(std::string(name) + ": must be an integer from " +
                              std::to_string(min) + " to " + std::to_string(max) + " (got " +
                              (integer ? std::to_string(number) : json_type_name(node)) + ")");
      return false;
    }
    *value = static_cast<int>(number);
  }
  return true;
}

// The Files API's files, for submits naming one by file_id (server thread;
// the map itself is the core's, under its mutex).
thread_local Core *t_core = nullptr;

// The stored file of `id`; a refusal naming `field` when unknown or deleted.
std::optional<FileRecord> stored_file(const std::string &id, const std::string &field,
                                      Refusal *refusal) {
  std::lock_guard<std::mutex> lock(t_core->mutex);
  const auto found = t_core->files.find(id);
  if (found == t_core->files.end() || found->second.deleted) {
    *refusal = bad_argument(field + ": file " + id + " not found" +
                            (found != t_core->files.end() ? " (it was deleted)" : ""));
    return std::nullopt;
  }
  return found->second;
}

// {"url": "https://... | data:image/...;base64,..."} or {"file_id": ...} as `field`.
bool parse_image_object(JsonNode *node, const std::string &field, ImageInput *input,
                        Refusal *refusal) {
  JsonNode *file_id =
      JSON_NODE_HOLDS_OBJECT(node) ? member(json_node_get_object(node), "file_id") : nullptr;
  if (file_id != nullptr && holds_string(file_id)) {
    auto file = stored_file(json_node_get_string(file_id), field + ".file_id", refusal);
    if (!file) return false;
    input->field = field + ".file_id";
    input->kind = ImageInput::Kind::Inline;
    input->inline_bytes = file->bytes;
    return true;
  }
  JsonNode *url =
      JSON_NODE_HOLDS_OBJECT(node) ? member(json_node_get_object(node), "url") : nullptr;
  if (url == nullptr || !holds_string(url)) {
    *refusal = bad_argument(field + ": must be an object {\"url\": \"<http(s) URL or " +
                            "data:image/<type>;base64,<data>>\"}");
    return false;
  }
  input->field = field + ".url";
  if (classify_image(json_node_get_string(url), ImageRules{true, false}, input) !=
      ImageProblem::None) {
    *refusal = bad_argument(input->field +
                            ": must be an http(s) URL or a data:image/<type>;base64,<data> URI");
    return false;
  }
  return true;
}

// The prompt member: absent or null is "", anything else must be a string.
bool parse_prompt(JsonObject *object, std::string *prompt, Refusal *refusal) {
  if (JsonNode *node = member(object, "prompt")) {
    if (!holds_string(node)) {
      *refusal = bad_argument("prompt: must be a string (got " + json_type_name(node) + ")");
      return false;
    }
    *prompt = json_node_get_string(node);
  }
  return true;
}

struct VideoRequest {
  ImageInputs inputs;
  JobSpec spec;
  int keyframes = -1;
  bool audio = true;
};

bool parse_video(JsonObject *object, VideoRequest *request, Refusal *refusal) {
  JsonNode *model = member(object, "model");
  if (model == nullptr) {
    *refusal = missing_field("model", std::string("one of ") + kVideoModel + ", " + kVideo15Model);
    return false;
  }
  if (!holds_string(model)) {
    *refusal = bad_argument("model: must be a string (got " + json_type_name(model) + ")");
    return false;
  }
  const std::string model_name = json_node_get_string(model);
  if (!is_one_of(model_name, {kVideoModel, kVideo15Model})) {
    *refusal = unknown_model(model_name, {kVideoModel, kVideo15Model});
    return false;
  }

  if (JsonNode *image = member(object, "image")) {
    ImageInput input;
    if (!parse_image_object(image, "image", &input, refusal)) return false;
    request->inputs.image = input;
  }
  if (JsonNode *references = member(object, "reference_images")) {
    if (!JSON_NODE_HOLDS_ARRAY(references)) {
      *refusal = bad_argument("reference_images: must be an array of {\"url\": ...} objects");
      return false;
    }
    JsonArray *array = json_node_get_array(references);
    const guint length = json_array_get_length(array);
    if (length > kMaxReferenceImages) {
      *refusal = bad_argument("reference_images: at most " + std::to_string(kMaxReferenceImages) +
                              " images (got " + std::to_string(length) + ")");
      return false;
    }
    for (guint index = 0; index < length; ++index) {
      ImageInput input;
      if (!parse_image_object(json_array_get_element(array, index),
                              "reference_images[" + std::to_string(index) + "]", &input, refusal)) {
        return false;
      }
      request->inputs.references.push_back(input);
    }
  }
  if (request->inputs.image && !request->inputs.references.empty()) {
    *refusal = bad_argument(
        "image and reference_images: give one or the other (image-to-video or "
        "reference-to-video), not both");
    return false;
  }
  const bool has_images = request->inputs.image || !request->inputs.references.empty();

  std::string prompt;
  if (!parse_prompt(object, &prompt, refusal)) return false;
  if (trimmed(prompt).empty() && !has_images) {
    *refusal = missing_field("prompt", "required unless image or reference_images is given");
    return false;
  }
  int duration_s = kDefaultDuration;
  std::string aspect_ratio = "16:9";
  std::string resolution = kDefaultVideoResolution;
  if (!parse_integer(object, "duration", kMinDuration, kMaxDuration, &duration_s, refusal) ||
      !parse_choice(object, "aspect_ratio", kAspectRatios, &aspect_ratio, refusal) ||
      !parse_choice(object, "resolution", kVideoResolutions, &resolution, refusal)) {
    return false;
  }
  if (resolution == "1080p" && model_name != kVideo15Model) {
    *refusal = bad_argument(std::string("resolution: 1080p needs ") + kVideo15Model + "; " +
                            model_name + " takes 480p, 720p");
    return false;
  }
  if (JsonNode *keyframes = member(object, "keyframes")) {
    if (!JSON_NODE_HOLDS_ARRAY(keyframes)) {
      *refusal = bad_argument("keyframes: must be an array of {image, timestamp_s} objects");
      return false;
    }
    JsonArray *array = json_node_get_array(keyframes);
    const guint length = json_array_get_length(array);
    if (length > 4) {
      *refusal = bad_argument("keyframes: at most 4 (got " + std::to_string(length) + ")");
      return false;
    }
    for (guint index = 0; index < length; ++index) {
      const std::string field = "keyframes[" + std::to_string(index) + "]";
      JsonNode *item = json_array_get_element(array, index);
      JsonObject *keyframe = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : nullptr;
      JsonNode *image = keyframe ? member(keyframe, "image") : nullptr;
      JsonNode *time = keyframe ? member(keyframe, "timestamp_s") : nullptr;
      ImageInput input;
      if (image == nullptr || !parse_image_object(image, field + ".image", &input, refusal)) {
        if (image == nullptr) *refusal = bad_argument(field + ".image: missing");
        return false;
      }
      const double seconds = time && JSON_NODE_HOLDS_VALUE(time) ? json_node_get_double(time) : -1;
      if (seconds < 0 || seconds > duration_s) {
        *refusal = bad_argument(field + ".timestamp_s: must be within the clip (0 to " +
                                std::to_string(duration_s) + " s)");
        return false;
      }
    }
    request->keyframes = int(length);
  }
  if (JsonNode *audios = member(object, "reference_audios")) {
    if (model_name != kVideo15Model) {
      *refusal = bad_argument(std::string("reference_audios: needs ") + kVideo15Model);
      return false;
    }
    const guint length =
        JSON_NODE_HOLDS_ARRAY(audios) ? json_array_get_length(json_node_get_array(audios)) : 99;
    if (length > 3) {
      *refusal = bad_argument("reference_audios: an array of at most 3 {url | file_id}");
      return false;
    }
  }
  if (JsonNode *audio = member(object, "generate_audio")) {
    if (!JSON_NODE_HOLDS_VALUE(audio) || json_node_get_value_type(audio) != G_TYPE_BOOLEAN) {
      *refusal = bad_argument("generate_audio: must be a boolean");
      return false;
    }
    request->audio = json_node_get_boolean(audio);
  }
  request->spec = video_spec(model_name, prompt, duration_s, frame_size(resolution, aspect_ratio));
  request->spec.audio = request->audio;
  return true;
}

// The input video of an extension or edit, as a file of the emulator's:
// a file_id, a data: URI, one of the emulator's own results, or a loopback
// http URL fetched now. Its size and length are read by prerolling it, the
// emulator result it ends like (the same last video sample) by demuxing it.
struct InputVideo {
  std::string path;
  std::string source;  // "file_id", "data", "url"
  int width = 0, height = 0;
  double seconds = 0;
  std::string from_request_id;  // SubmitRecord::video_from_request_id
};

bool fetch_to_file(const std::string &url, const std::string &path, std::string *why) {
  g_autoptr(SoupSession) session = soup_session_new();
  g_autoptr(SoupMessage) message = soup_message_new("GET", url.c_str());
  if (message == nullptr) {
    *why = "not a valid URL";
    return false;
  }
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) body = soup_session_send_and_read(session, message, nullptr, &error);
  if (body == nullptr || soup_message_get_status(message) != SOUP_STATUS_OK) {
    *why = error ? error->message : "HTTP " + std::to_string(soup_message_get_status(message));
    return false;
  }
  gsize size = 0;
  const auto *data = static_cast<const gchar *>(g_bytes_get_data(body, &size));
  return g_file_set_contents(path.c_str(), data, gssize(size), nullptr);
}

bool parse_input_video(JsonObject *object, InputVideo *video, Refusal *refusal) {
  JsonNode *node = member(object, "video");
  JsonObject *input = node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : nullptr;
  if (input == nullptr) {
    *refusal = missing_field("video", "an object {url} or {file_id}");
    return false;
  }
  JsonNode *file_id = member(input, "file_id");
  JsonNode *url = member(input, "url");
  if (file_id && holds_string(file_id)) {
    auto file = stored_file(json_node_get_string(file_id), "video.file_id", refusal);
    if (!file) return false;
    video->path = file->path;
    video->source = "file_id";
  } else if (url && holds_string(url)) {
    const std::string text = json_node_get_string(url);
    video->path = t_core->scratch_path("input-" + random_hex() + ".mp4");
    std::string why;
    if (starts_with(text, "data:video/")) {
      video->source = "data";
      const auto comma = text.find(',');
      gsize length = 0;
      g_autofree guchar *bytes =
          comma == std::string::npos ? nullptr : g_base64_decode(text.c_str() + comma + 1, &length);
      if (length == 0 ||
          !g_file_set_contents(video->path.c_str(), reinterpret_cast<const gchar *>(bytes),
                               gssize(length), nullptr)) {
        *refusal = bad_argument("video.url: a data: URI must be data:video/mp4;base64,<data>");
        return false;
      }
    } else if (starts_with(text, "http://") || starts_with(text, "https://")) {
      video->source = "url";
      // One of this emulator's results (request:ID resolved by the client).
      const std::string ours = t_core->cdn_url + "/videos/";
      if (starts_with(text, ours.c_str()) && ends_with(text, ".mp4")) {
        const std::string id = text.substr(ours.size(), text.size() - ours.size() - 4);
        video->path = t_core->finished_clip(id);
        if (video->path.empty()) {
          *refusal = bad_argument("video.url: no such video");
          return false;
        }
      } else if (!fetch_to_file(text, video->path, &why)) {
        *refusal = bad_argument("video.url: could not fetch the video (" + why + ")");
        return false;
      }
    } else {
      *refusal = bad_argument("video.url: must be an http(s) URL or a data:video/mp4 URI");
      return false;
    }
  } else {
    *refusal = bad_argument("video: must be an object {\"url\": ...} or {\"file_id\": ...}");
    return false;
  }
  std::string why;
  if (!probe_clip(video->path, &video->width, &video->height, &video->seconds, &why)) {
    *refusal = bad_argument("video: " + why);
    return false;
  }
  video->from_request_id = t_core->video_job_ending_like(video->path);
  return true;
}

struct ImagesRequest {
  JobSpec spec;
  bool base64 = false;  // response_format b64_json
};

bool parse_images(JsonObject *object, ImagesRequest *request, Refusal *refusal) {
  std::string prompt;
  if (!parse_prompt(object, &prompt, refusal)) return false;
  if (trimmed(prompt).empty()) {
    *refusal = missing_field("prompt", "a non-empty string");
    return false;
  }
  std::string model = kImageModel;
  if (JsonNode *node = member(object, "model")) {
    if (!holds_string(node)) {
      *refusal = bad_argument("model: must be a string (got " + json_type_name(node) + ")");
      return false;
    }
    model = json_node_get_string(node);
    if (model != kImageModel) {
      *refusal = unknown_model(model, {kImageModel});
      return false;
    }
  }
  int count = 1;
  std::string aspect_ratio = kDefaultImageAspectRatio;
  std::string resolution = "1k";
  std::string response_format = "url";
  if (!parse_integer(object, "n", 1, kMaxImages, &count, refusal) ||
      !parse_choice(object, "aspect_ratio", kAspectRatios, &aspect_ratio, refusal) ||
      !parse_choice(object, "resolution", kImageResolutions, &resolution, refusal) ||
      !parse_choice(object, "response_format", kResponseFormats, &response_format, refusal)) {
    return false;
  }
  request->spec.model = model;
  request->spec.kind = MediaKind::Images;
  request->spec.prompt = prompt;
  request->spec.count = count;
  request->spec.format = ImageFormat::Jpeg;  // xAI's images are JPEG
  request->spec.size = image_size(resolution, aspect_ratio);
  request->base64 = response_format == "b64_json";
  return true;
}

// A submit's body: a JSON object that `parse` accepts into `request`. Else
// refuses the request and returns false.
template <typename Request>
bool parse_body(SoupServerMessage *msg, const std::string &body,
                bool (*parse)(JsonObject *, Request *, Refusal *), Request *request) {
  JsonBody json;
  std::string error;
  if (!json.parse(body, &error)) {
    refuse(msg, bad_argument("body: " + error));
    return false;
  }
  Refusal refusal;
  if (!parse(json.object(), request, &refusal)) {
    refuse(msg, refusal);
    return false;
  }
  return true;
}

class XaiProfile : public Profile {
 public:
  explicit XaiProfile(Core &core) : core_(core) {}

  void handle(SoupServerMessage *msg, const std::string &method, const char *path,
              GHashTable *) override {
    g_autofree gchar *trace_id = g_uuid_string_random();
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "x-request-id",
                                 trace_id);
    const std::vector<std::string> segments = path_segments(path);
    const bool v1 = segments.size() == 3 && segments[0] == "v1";
    if (method == SOUP_METHOD_POST && v1 && segments[2] == "generations" &&
        (segments[1] == "videos" || segments[1] == "images")) {
      const bool images = segments[1] == "images";
      core_.receive_submit(
          msg, path, std::nullopt,
          [this, images](PausedPtr paused, const std::string &body, std::size_t record_index) {
            if (images) {
              submit_images(std::move(paused), body, record_index);
            } else {
              submit_video(std::move(paused), body, record_index);
            }
          });
      return;
    }
    if (method == SOUP_METHOD_POST && v1 && segments[1] == "videos" &&
        (segments[2] == "extensions" || segments[2] == "edits")) {
      const bool extend = segments[2] == "extensions";
      core_.receive_submit(
          msg, path, std::nullopt,
          [this, extend](PausedPtr paused, const std::string &body, std::size_t record_index) {
            submit_input_video(std::move(paused), body, record_index, extend);
          });
      return;
    }
    if (segments.size() >= 2 && segments[0] == "v1" && segments[1] == "files") {
      if (!core_.admit(msg)) return;
      if (method == SOUP_METHOD_POST && segments.size() == 2) {
        upload(msg);
      } else if (segments.size() == 3 &&
                 (method == SOUP_METHOD_GET || method == SOUP_METHOD_DELETE)) {
        file(msg, segments[2], method == SOUP_METHOD_DELETE);
      } else {
        refuse(msg, {SOUP_STATUS_NOT_FOUND, "not_found", "No route for " + method + " " + path});
      }
      return;
    }
    if (method == SOUP_METHOD_GET && v1 && segments[1] == "videos") {
      const std::string request_id = segments[2];
      core_.receive_poll(msg, Phase::Status, [this, request_id](SoupServerMessage *polled) {
        answer_poll(polled, request_id);
      });
      return;
    }
    refuse(msg, {SOUP_STATUS_NOT_FOUND, "not_found", "No route for " + method + " " + path});
  }

  std::string fault_body(guint status) const override {
    const char *code = "unknown";
    switch (status) {
      case SOUP_STATUS_BAD_REQUEST:
      case SOUP_STATUS_UNPROCESSABLE_ENTITY:
        code = "invalid_argument";
        break;
      case SOUP_STATUS_UNAUTHORIZED:
        code = "unauthenticated";
        break;
      case SOUP_STATUS_FORBIDDEN:
        code = "permission_denied";
        break;
      case SOUP_STATUS_NOT_FOUND:
        code = "not_found";
        break;
      case kStatusTooManyRequests:
        code = "resource_exhausted";
        break;
      case SOUP_STATUS_INTERNAL_SERVER_ERROR:
        code = "internal";
        break;
      case SOUP_STATUS_BAD_GATEWAY:
      case SOUP_STATUS_SERVICE_UNAVAILABLE:
        code = "unavailable";
        break;
      case SOUP_STATUS_GATEWAY_TIMEOUT:
        code = "deadline_exceeded";
        break;
      default:
        break;
    }
    return envelope(code, status_phrase(status));
  }

  std::optional<std::string> credential(SoupServerMessage *msg) const override {
    return bearer_key(msg);
  }

  void refuse_credential(SoupServerMessage *msg) const override {
    refuse(msg, {SOUP_STATUS_UNAUTHORIZED, "unauthenticated",
                 "Incorrect or missing API key: send Authorization: Bearer <key>"});
  }

 private:
  void upload(SoupServerMessage *msg) {
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
    SoupMultipart *multipart =
        soup_multipart_new_from_message(soup_server_message_get_request_headers(msg), bytes);
    if (multipart == nullptr) {
      refuse(msg, bad_argument("body: must be multipart/form-data with a 'file' part"));
      return;
    }
    FileRecord record;
    bool found = false;
    for (int index = 0; index < soup_multipart_get_length(multipart); ++index) {
      SoupMessageHeaders *headers = nullptr;
      GBytes *part = nullptr;
      if (!soup_multipart_get_part(multipart, index, &headers, &part)) continue;
      GHashTable *params = nullptr;
      if (!soup_message_headers_get_content_disposition(headers, nullptr, &params)) continue;
      const char *name = static_cast<const char *>(g_hash_table_lookup(params, "name"));
      if (name && g_str_equal(name, "file")) {
        found = true;
        const char *type = soup_message_headers_get_content_type(headers, nullptr);
        record.content_type = type ? type : "";
        record.id = "file-" + random_hex();
        record.path = core_.scratch_path(record.id);
        gsize size = 0;
        const auto *data = static_cast<const gchar *>(g_bytes_get_data(part, &size));
        record.bytes = gint64(size);
        g_file_set_contents(record.path.c_str(), data, gssize(size), nullptr);
      }
      g_hash_table_destroy(params);
    }
    soup_multipart_free(multipart);
    if (!found) {
      refuse(msg, missing_field("file", "the file to upload"));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(core_.mutex);
      core_.files[record.id] = record;
      core_.file_order.push_back(record.id);
      ++core_.counters.uploads;
    }
    respond(msg, SOUP_STATUS_OK, file_json(record));
  }

  static std::string file_json(const FileRecord &record) {
    return JsonWriter()
        .add("id", record.id)
        .add("object", "file")
        .add("filename", "upload")
        .add("bytes", gint64(record.bytes))
        .finish();
  }

  void file(SoupServerMessage *msg, const std::string &id, bool remove) {
    FileRecord record;
    {
      std::lock_guard<std::mutex> lock(core_.mutex);
      auto found = core_.files.find(id);
      if (found == core_.files.end() || found->second.deleted) {
        refuse(msg, {SOUP_STATUS_NOT_FOUND, "not_found", "No file with id " + id});
        return;
      }
      if (remove) {
        found->second.deleted = true;
        ++core_.counters.file_deletes;
      }
      record = found->second;
    }
    if (remove)
      respond(msg, SOUP_STATUS_OK, JsonWriter().add("id", id).add_bool("deleted", true).finish());
    else
      respond(msg, SOUP_STATUS_OK, file_json(record));
  }

  void submit_input_video(PausedPtr paused, const std::string &body, std::size_t record_index,
                          bool extend) {
    t_core = &core_;
    JsonBody json;
    std::string error;
    if (!json.parse(body, &error)) {
      refuse(paused->get(), bad_argument("body: " + error));
      return;
    }
    JsonObject *object = json.object();
    Refusal refusal;
    JsonNode *model = member(object, "model");
    const std::string model_name = model && holds_string(model) ? json_node_get_string(model) : "";
    if (model_name.empty()) {
      refuse(paused->get(), missing_field("model", kVideoModel));
      return;
    }
    if (extend ? model_name != kVideoModel : !is_one_of(model_name, {kVideoModel, kVideo15Model})) {
      refuse(paused->get(), extend ? unknown_model(model_name, {kVideoModel})
                                   : unknown_model(model_name, {kVideoModel, kVideo15Model}));
      return;
    }
    std::string prompt;
    if (!parse_prompt(object, &prompt, &refusal)) {
      refuse(paused->get(), refusal);
      return;
    }
    if (trimmed(prompt).empty()) {
      refuse(paused->get(), missing_field("prompt", "what to do with the video"));
      return;
    }
    int duration_s = 6;
    if (extend && !parse_integer(object, "duration", 2, 10, &duration_s, &refusal)) {
      refuse(paused->get(), refusal);
      return;
    }
    InputVideo video;
    if (!parse_input_video(object, &video, &refusal)) {
      refuse(paused->get(), refusal);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(core_.mutex);
      core_.submit_records[record_index].video_source = video.source;
      core_.submit_records[record_index].video_seconds = video.seconds;
      core_.submit_records[record_index].video_from_request_id = video.from_request_id;
    }
    if (extend && (video.seconds < 2 - 0.05 || video.seconds > 15 + 0.05)) {
      refuse(paused->get(), bad_argument("video: an extension takes a video of 2 to 15 s (got " +
                                         std::to_string(video.seconds) + " s)"));
      return;
    }
    if (!extend && video.seconds > 8.7 + 0.01) {
      refuse(paused->get(), bad_argument("video: an edit takes a video of at most 8.7 s (got " +
                                         std::to_string(video.seconds) + " s)"));
      return;
    }
    JobSpec spec = video_spec(model_name, prompt, extend ? duration_s : 0,
                              FrameSize{video.width, video.height});
    spec.input_path = video.path;
    spec.input_seconds = video.seconds;
    spec.restyle = !extend;
    spec.id = core_.request_id(random_uuid());
    spec.outcome = core_.planned_outcome(true, spec.prompt);
    core_.create_job(record_index, spec);
    respond(paused->get(), SOUP_STATUS_OK, JsonWriter().add("request_id", spec.id).finish());
  }

  void submit_video(PausedPtr paused, const std::string &body, std::size_t record_index) {
    t_core = &core_;
    VideoRequest request;
    if (!parse_body(paused->get(), body, parse_video, &request)) return;
    {
      std::lock_guard<std::mutex> lock(core_.mutex);
      core_.submit_records[record_index].keyframes = request.keyframes;
      core_.submit_records[record_index].generate_audio = request.audio;
    }
    request.spec.id = core_.request_id(random_uuid());
    request.spec.outcome = core_.planned_outcome(true, request.spec.prompt);
    core_.accept_job(
        std::move(paused), record_index, request.inputs, request.spec,
        [](const JobSpec &spec) { return JsonWriter().add("request_id", spec.id).finish(); },
        [](PausedPtr refused, const std::string &field, const std::string &reason) {
          refuse(refused->get(), bad_argument(field + ": " + reason));
        });
  }

  void submit_images(PausedPtr paused, const std::string &body, std::size_t record_index) {
    ImagesRequest request;
    if (!parse_body(paused->get(), body, parse_images, &request)) return;
    request.spec.id = core_.request_id(random_uuid());
    // A synchronous answer has nothing left to expire.
    const Outcome outcome = core_.planned_outcome(true, request.spec.prompt);
    request.spec.outcome = outcome == Outcome::Expire ? Outcome::Complete : outcome;
    core_.create_job(record_index, request.spec);
    const bool base64 = request.base64;
    core_.when_finished(std::move(paused), request.spec.id,
                        [this, base64](PausedPtr finished, const std::optional<JobView> &view) {
                          answer_images(finished->get(), view, base64);
                        });
  }

  void answer_images(SoupServerMessage *msg, const std::optional<JobView> &view, bool base64) {
    if (!view) {
      refuse(msg, {SOUP_STATUS_NOT_FOUND, "not_found", "The request expired"});
      return;
    }
    if (view->status == JobStatus::Failed) {
      refuse(msg, {SOUP_STATUS_BAD_REQUEST, "generation_failed", view->error});
      return;
    }
    const bool moderated = view->status == JobStatus::Moderated;
    JsonWriter json;
    json.begin_array("data");
    for (int index = 0; index < view->count; ++index) {
      json.begin_element_object();
      if (base64) {
        std::string encoded;
        if (!moderated) {
          GBytes *image = core_.mapped_file(view->media_paths.at(index));
          if (image == nullptr) {
            refuse(msg, {SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "Image unreadable"});
            return;
          }
          gsize size = 0;
          const auto *data = static_cast<const guchar *>(g_bytes_get_data(image, &size));
          g_autofree gchar *text = g_base64_encode(data, size);
          encoded = text;
        }
        json.add("b64_json", encoded);
      } else {
        json.add("url", moderated ? "" : core_.media_url(*view, index));
      }
      json.add("mime_type", image_content_type(view->format))
          .add_bool("respect_moderation", !moderated)
          .end_object();
    }
    json.end_array();
    respond(msg, SOUP_STATUS_OK, json.finish());
  }

  void answer_poll(SoupServerMessage *msg, const std::string &request_id) {
    const std::optional<JobView> view = core_.view_job(request_id);
    if (!view || view->kind != MediaKind::Video) {
      refuse(msg, {SOUP_STATUS_NOT_FOUND, "not_found",
                   "No video generation request with id " + request_id});
      return;
    }
    const int poll = core_.count_job_poll(request_id);
    JsonWriter json;
    switch (view->status) {
      case JobStatus::Queued:
      case JobStatus::Processing: {
        // Clients must take both for "pending".
        if (poll % 2 == 1) {
          respond_empty(msg, SOUP_STATUS_ACCEPTED);
          return;
        }
        const gint64 generation_ms = std::max<gint64>(1, core_.options.generation_ms);
        const gint64 progress = std::min<gint64>(99, view->elapsed_ms * 100 / generation_ms);
        json.add("status", "pending").add("progress", progress);
        respond(msg, SOUP_STATUS_ACCEPTED, json.finish());
        return;
      }
      case JobStatus::Completed: {
        // Seconds of the whole result: a whole number for a generation, the
        // input's (plus the new part) for an edit or extension.
        const double seconds =
            view->restyle ? view->input_seconds : view->duration_s + view->input_seconds;
        json.add("status", "done")
            .add("progress", static_cast<gint64>(100))
            .add("model", view->model)
            .begin_object("video")
            .add("url", core_.media_url(*view, 0));
        if (view->input_seconds > 0)
          json.add_double("duration", seconds);
        else
          json.add("duration", static_cast<gint64>(view->duration_s));
        json.add_bool("respect_moderation", true)
            .end_object()
            .begin_object("usage")
            .add("cost_in_usd_ticks",
                 static_cast<gint64>(seconds * kTicksPerVideoSecond * core_.options.cost_scale))
            .end_object();
        break;
      }
      case JobStatus::Moderated:
        json.add("status", "done")
            .add("progress", static_cast<gint64>(100))
            .add("model", view->model)
            .begin_object("video")
            .add("url", "")
            .add_bool("respect_moderation", false)
            .end_object();
        break;
      case JobStatus::Expired:
        json.add("status", "expired");
        break;
      case JobStatus::Failed:
        json.add("status", "failed")
            .begin_object("error")
            .add("code", "generation_failed")
            .add("message", view->error)
            .end_object();
        break;
    }
    respond(msg, SOUP_STATUS_OK, json.finish());
  }

  Core &core_;
};

}  // namespace

std::unique_ptr<Profile> make_xai_profile(Core &core) {
  return std::make_unique<XaiProfile>(core);
}

}  // namespace grokimagine::emulator
