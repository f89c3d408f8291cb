// SPDX-License-Identifier: LGPL-2.1-or-later
// Segmind: x-api-key auth, errors as {"error": "..."}.
//   POST /v2/{model}                 async submit -> {request_id, status_url, response_url}
//   GET  /v2/requests/{id}/status    QUEUED | PROCESSING | COMPLETED | FAILED (422)
//   GET  /v2/requests/{id}           the same plus `output` and `metrics`
//   POST /v1/{model}                 synchronous: holds the request, answers with the media
// Models: grok-imagine-video, grok-imagine-video-1.5-preview (image
// required, up to 720p; seed 001 documents it on v1), grok-imagine-image
// (seed 003; `output` is an array of image URLs).
#include "emulator-debug.h"
#include "emulator-internal.h"

#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

constexpr const char *kVideoModel = "grok-imagine-video";
constexpr const char *kPreviewModel = "grok-imagine-video-1.5-preview";
constexpr const char *kImageModel = "grok-imagine-image";
constexpr glong kMaxPromptChars = 4096;
constexpr gint64 kMinDuration = 1;
constexpr gint64 kMaxDuration = 15;
constexpr int kDefaultDuration = 6;
constexpr gint64 kMaxImages = 4;

const std::initializer_list<const char *> kVideoResolutions = {"480p", "720p", "1080p"};
const std::initializer_list<const char *> kPreviewResolutions = {"480p", "720p"};
const std::initializer_list<const char *> kVideoAspectRatios = {"16:9", "9:16", "1:1", "4:3",
                                                                "3:4",  "3:2",  "2:3"};
const std::initializer_list<const char *> kImageAspectRatios = {
    "1:1",    "3:4",    "4:3",  "9:16", "16:9", "2:3", "3:2",
    "9:19.5", "19.5:9", "9:20", "20:9", "1:2",  "2:1", "auto"};
const std::initializer_list<const char *> kImageModes = {"standard", "quality"};
const std::initializer_list<const char *> kImageFormats = {"jpeg", "png", "webp"};
const std::initializer_list<const char *> kImageResolutions = {"1k", "2k"};

void respond_error(SoupServerMessage *msg, guint status, const std::string &message) {
  respond(msg, status, JsonWriter().add("error", message).finish());
}

const char *status_name(JobStatus status) {
  switch (status) {
    case JobStatus::Queued:
      return "QUEUED";
    case JobStatus::Processing:
      return "PROCESSING";
    case JobStatus::Completed:
      return "COMPLETED";
    case JobStatus::Failed:
    case JobStatus::Moderated:  // content blocks surface as FAILED
    case JobStatus::Expired:
      return "FAILED";
  }
  return "FAILED";
}

// The `image` member every Segmind model takes: an http(s) URL, a
// data:image URI or bare base64 text.
bool parse_image(JsonObject *object, std::optional<ImageInput> *image, std::string *error) {
  JsonNode *node = member(object, "image");
  if (node == nullptr) return true;
  const char *kAllowed =
      "image: must be an http(s) URL, a data:image/<type>;base64,<data> URI or base64 text";
  if (!holds_string(node)) {
    *error = "image: must be a string (an http(s) URL, a data:image URI or base64 text)";
    return false;
  }
  ImageInput input;
  input.field = "image";
  switch (classify_image(json_node_get_string(node), ImageRules{}, &input)) {
    case ImageProblem::None:
      *image = input;
      return true;
    case ImageProblem::BadUrl:
      *error = std::string(kAllowed) + " (not a valid URL)";
      return false;
    case ImageProblem::BadBase64:
      *error = std::string(kAllowed) + " (invalid base64)";
      return false;
    case ImageProblem::BadDataUri:
    case ImageProblem::NotAllowed:
      *error = kAllowed;
      return false;
  }
  return false;
}

// What a submit asks for, once validated.
struct Request {
  std::optional<ImageInput> image;
  JobSpec spec;
};

// grok-imagine-video and grok-imagine-video-1.5-preview.
bool parse_video(const std::string &model, JsonObject *object, Request *request,
                 std::string *error) {
  const bool preview = model == kPreviewModel;
  std::string prompt;
  int duration_s = kDefaultDuration;
  std::string resolution = "480p";
  std::string aspect_ratio = "16:9";
  if (!parse_image(object, &request->image, error)) return false;
  if (preview && !request->image) {
    *error = "image: required (an http(s) URL, a data:image URI or base64 text)";
    return false;
  }
  if (!parse_string_member(object, "prompt", &prompt, error)) return false;
  if (trimmed(prompt).empty() && (preview || !request->image)) {
    *error = preview ? "prompt: required (a non-empty string)"
                     : "prompt: required (a non-empty string) unless image is given";
    return false;
  }
  const glong prompt_chars = g_utf8_strlen(prompt.c_str(), -1);
  if (prompt_chars > kMaxPromptChars) {
    *error = "prompt: must be at most " + std::to_string(kMaxPromptChars) + " characters (got " +
             std::to_string(prompt_chars) + ")";
    return false;
  }
  if (!parse_integer_member(object, "duration", kMinDuration, kMaxDuration, &duration_s, error) ||
      !parse_choice_member(object, "resolution", preview ? kPreviewResolutions : kVideoResolutions,
                           &resolution, error) ||
      !parse_choice_member(object, "aspect_ratio", kVideoAspectRatios, &aspect_ratio, error)) {
    return false;
  }
  request->spec = video_spec(model, prompt, duration_s, frame_size(resolution, aspect_ratio));
  return true;
}

// grok-imagine-image (seed 003).
bool parse_images(JsonObject *object, Request *request, std::string *error) {
  std::string prompt;
  std::string mode = "standard";
  int count = 1;
  std::string format = "png";
  std::string resolution = "2k";
  std::string aspect_ratio = "16:9";
  if (!parse_string_member(object, "prompt", &prompt, error)) return false;
  if (trimmed(prompt).empty()) {
    *error = "prompt: required (a non-empty string)";
    return false;
  }
  if (!parse_image(object, &request->image, error) ||
      !parse_choice_member(object, "mode", kImageModes, &mode, error) ||
      !parse_integer_member(object, "n", 1, kMaxImages, &count, error) ||
      !parse_choice_member(object, "output_format", kImageFormats, &format, error) ||
      !parse_choice_member(object, "resolution", kImageResolutions, &resolution, error) ||
      !parse_choice_member(object, "aspect_ratio", kImageAspectRatios, &aspect_ratio, error)) {
    return false;
  }
  request->spec.kind = MediaKind::Images;
  request->spec.prompt = prompt;
  request->spec.count = count;
  request->spec.format = format == "jpeg"   ? ImageFormat::Jpeg
                         : format == "webp" ? ImageFormat::Webp
                                            : ImageFormat::Png;
  request->spec.size = image_size(resolution, aspect_ratio);
  return true;
}

class SegmindProfile : public Profile {
 public:
  explicit SegmindProfile(Core &core) : core_(core) {}

  void handle(SoupServerMessage *msg, const std::string &method, const char *path,
              GHashTable *) override {
    const std::vector<std::string> segments = path_segments(path);
    if (method == SOUP_METHOD_POST && segments.size() == 2 &&
        (segments[0] == "v2" || segments[0] == "v1")) {
      const std::string model = segments[1];
      const bool sync = segments[0] == "v1";
      core_.receive_submit(
          msg, path, model,
          [this, model, sync](PausedPtr paused, const std::string &body, std::size_t record_index) {
            process_submit(std::move(paused), model, body, record_index, sync);
          });
      return;
    }
    if (method == SOUP_METHOD_GET && segments.size() == 4 && segments[0] == "v2" &&
        segments[1] == "requests" && segments[3] == "status") {
      const std::string request_id = segments[2];
      core_.receive_poll(msg, Phase::Status, [this, request_id](SoupServerMessage *polled) {
        answer_job(polled, request_id, false);
      });
      return;
    }
    if (method == SOUP_METHOD_GET && segments.size() == 3 && segments[0] == "v2" &&
        segments[1] == "requests") {
      const std::string request_id = segments[2];
      core_.receive_poll(msg, Phase::Result, [this, request_id](SoupServerMessage *fetched) {
        answer_job(fetched, request_id, true);
      });
      return;
    }
    respond_error(msg, SOUP_STATUS_NOT_FOUND, "Not found");
  }

  std::string fault_body(guint status) const override {
    return JsonWriter().add("error", status_phrase(status)).finish();
  }

  std::optional<std::string> credential(SoupServerMessage *msg) const override {
    return api_key_header(msg);
  }

  void refuse_credential(SoupServerMessage *msg) const override {
    respond_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  }

 private:
  void process_submit(PausedPtr paused, const std::string &model, const std::string &body,
                      std::size_t record_index, bool sync) {
    SoupServerMessage *msg = paused->get();
    if (!is_one_of(model, {kVideoModel, kPreviewModel, kImageModel})) {
      respond_error(msg, SOUP_STATUS_NOT_FOUND, "Model not found");
      return;
    }
    JsonBody json;
    std::string error;
    if (!json.parse(body, &error)) {
      respond_error(msg, SOUP_STATUS_BAD_REQUEST, "body: " + error);
      return;
    }
    Request request;
    const bool parsed = model == kImageModel ? parse_images(json.object(), &request, &error)
                                             : parse_video(model, json.object(), &request, &error);
    if (!parsed) {
      respond_error(msg, SOUP_STATUS_BAD_REQUEST, error);
      return;
    }
    request.spec.id = core_.request_id(random_uuid());
    request.spec.model = model;
    request.spec.outcome = core_.planned_outcome(false, request.spec.prompt);
    ImageInputs inputs;
    inputs.image = request.image;
    core_.resolve_images(
        std::move(paused), record_index, inputs,
        [this, spec = request.spec, record_index, sync](PausedPtr resolved, const ImageBytes &) {
          accept(std::move(resolved), record_index, spec, sync);
        },
        [](PausedPtr refused, const std::string &field, const std::string &reason) {
          respond_error(refused->get(), SOUP_STATUS_BAD_REQUEST, field + ": " + reason);
        });
  }

  void accept(PausedPtr paused, std::size_t record_index, const JobSpec &spec, bool sync) {
    core_.create_job(record_index, spec);
    if (sync) {
      core_.when_finished(std::move(paused), spec.id,
                          [this](PausedPtr finished, const std::optional<JobView> &view) {
                            answer_sync(finished->get(), view);
                          });
      return;
    }
    const std::string response_url = core_.api_url + "/v2/requests/" + spec.id;
    respond(paused->get(), SOUP_STATUS_OK,
            JsonWriter()
                .add("request_id", spec.id)
                .add("status", status_name(JobStatus::Queued))
                .add("status_url", response_url + "/status")
                .add("response_url", response_url)
                .finish());
  }

  // POST /v1/{model}: the media itself (the first image for image models).
  void answer_sync(SoupServerMessage *msg, const std::optional<JobView> &view) {
    if (!view) {
      respond_error(msg, SOUP_STATUS_NOT_FOUND, "Request not found or expired");
      return;
    }
    if (view->status != JobStatus::Completed) {
      respond_error(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
                    view->error.empty() ? "Generation failed" : view->error);
      return;
    }
    GBytes *media = core_.mapped_file(view->media_paths.at(0));
    if (media == nullptr) {
      respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Media unreadable");
      return;
    }
    respond_bytes(
        msg, SOUP_STATUS_OK,
        view->kind == MediaKind::Video ? kVideoContentType : image_content_type(view->format),
        media);
  }

  void answer_job(SoupServerMessage *msg, const std::string &request_id, bool with_output) {
    const std::optional<JobView> view = core_.view_job(request_id);
    if (!view) {
      respond_error(msg, SOUP_STATUS_NOT_FOUND, "Request not found or expired");
      return;
    }
    JsonWriter json;
    json.add("request_id", request_id).add("status", status_name(view->status));
    if (is_terminal(view->status) && view->status != JobStatus::Completed) {
      json.add("error", view->error.empty() ? "Generation failed" : view->error);
      respond(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, json.finish());
      return;
    }
    if (with_output && view->status == JobStatus::Completed) {
      if (view->kind == MediaKind::Video) {
        json.add("output", core_.media_url(*view, 0))
            .begin_object("metrics")
            .add("duration_s", static_cast<gint64>(view->duration_s))
            .end_object();
      } else {
        json.begin_array("output");
        for (int index = 0; index < view->count; ++index) {
          json.add_element(core_.media_url(*view, index));
        }
        json.end_array()
            .begin_object("metrics")
            .add_double("inference_time", core_.options.generation_ms / 1000.0)
            .end_object();
      }
    }
    respond(msg, SOUP_STATUS_OK, json.finish());
  }

  Core &core_;
};

}  // namespace

std::unique_ptr<Profile> make_segmind_profile(Core &core) {
  return std::make_unique<SegmindProfile>(core);
}

}  // namespace grokimagine::emulator
