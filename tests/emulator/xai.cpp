// xAI's own API: Authorization: Bearer KEY; every answer carries
// x-request-id; errors as {"code": "...", "error": "message"}.
//   POST /v1/videos/generations  -> 200 {"request_id"}; 400 bad values, 422 missing fields
//   GET  /v1/videos/{id}         -> 202 while pending (an empty body or
//                                   {"status":"pending","progress":N}, alternately);
//                                   200 done | failed | expired; 404 unknown
//   POST /v1/images/generations  -> synchronous: {"data": [{url | b64_json, mime_type}]}
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

// {"url": "https://... | data:image/...;base64,..."} as `field`.
bool parse_image_object(JsonNode *node, const std::string &field, ImageInput *input,
                        Refusal *refusal) {
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
  request->spec = video_spec(model_name, prompt, duration_s, frame_size(resolution, aspect_ratio));
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
  void submit_video(PausedPtr paused, const std::string &body, std::size_t record_index) {
    VideoRequest request;
    if (!parse_body(paused->get(), body, parse_video, &request)) return;
    request.spec.id = random_uuid();
    request.spec.outcome = core_.planned_outcome(true);
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
    request.spec.id = random_uuid();
    // A synchronous answer has nothing left to expire.
    const Outcome outcome = core_.planned_outcome(true);
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
      case JobStatus::Completed:
        json.add("status", "done")
            .add("progress", static_cast<gint64>(100))
            .add("model", view->model)
            .begin_object("video")
            .add("url", core_.media_url(*view, 0))
            .add("duration", static_cast<gint64>(view->duration_s))
            .add_bool("respect_moderation", true)
            .end_object()
            .begin_object("usage")
            .add("cost_in_usd_ticks", view->duration_s * kTicksPerVideoSecond)
            .end_object();
        break;
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
