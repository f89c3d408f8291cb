// SPDX-License-Identifier: LGPL-2.1-or-later
// AI/ML API (seed 002): Authorization: Bearer KEY; errors as
// {"error": {"message": "...", "code": "..."}}.
//   POST /v2/video/generations                     -> 200 {"id", "status": "queued"}
//   GET  /v2/video/generations?generation_id=ID    -> {"id", "status": queued | generating |
//                                                      completed (+ video.url) | error (+ error)}
#include "emulator-debug.h"
#include "emulator-internal.h"

#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

constexpr const char *kModel = "x-ai/grok-imagine-video";
constexpr gint64 kMinDuration = 1;
constexpr gint64 kMaxDuration = 15;
constexpr int kDefaultDuration = 10;
constexpr std::size_t kMaxReferenceImages = 7;

const std::initializer_list<const char *> kAspectRatios = {"16:9", "9:16", "1:1", "4:3",
                                                           "3:4",  "3:2",  "2:3"};
const std::initializer_list<const char *> kResolutions = {"480p", "720p"};

void respond_error(SoupServerMessage *msg, guint status, const std::string &code,
                   const std::string &message) {
  respond(msg, status,
          JsonWriter()
              .begin_object("error")
              .add("message", message)
              .add("code", code)
              .end_object()
              .finish());
}

void bad_request(SoupServerMessage *msg, const std::string &message) {
  respond_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_request", message);
}

void unauthorized(SoupServerMessage *msg) {
  respond_error(msg, SOUP_STATUS_UNAUTHORIZED, "invalid_api_key",
                "Invalid or missing API key: send Authorization: Bearer <key>");
}

const char *status_name(JobStatus status) {
  switch (status) {
    case JobStatus::Queued:
      return "queued";
    case JobStatus::Processing:
      return "generating";
    case JobStatus::Completed:
      return "completed";
    case JobStatus::Failed:
    case JobStatus::Moderated:
    case JobStatus::Expired:
      return "error";
  }
  return "error";
}

// A `uri` field: an http(s) URL or a data:image URI.
bool parse_uri(JsonNode *node, const std::string &field, ImageInput *input, std::string *error) {
  input->field = field;
  if (node == nullptr || !holds_string(node) ||
      classify_image(json_node_get_string(node), ImageRules{true, false}, input) !=
          ImageProblem::None) {
    *error = field + ": must be a URI (an http(s) URL or a data:image/<type>;base64,<data> URI)";
    return false;
  }
  return true;
}

struct Request {
  ImageInputs inputs;
  JobSpec spec;
};

bool parse_request(JsonObject *object, Request *request, std::string *error) {
  JsonNode *model = member(object, "model");
  if (model == nullptr || !holds_string(model) ||
      json_node_get_string(model) != std::string(kModel)) {
    *error = std::string("model: required, must be ") + kModel;
    return false;
  }
  if (JsonNode *image_url = member(object, "image_url")) {
    ImageInput input;
    if (!parse_uri(image_url, "image_url", &input, error)) return false;
    request->inputs.image = input;
  }
  if (JsonNode *references = member(object, "reference_images")) {
    const guint length = JSON_NODE_HOLDS_ARRAY(references)
                             ? json_array_get_length(json_node_get_array(references))
                             : 0;
    if (length < 1 || length > kMaxReferenceImages) {
      *error = "reference_images: must be an array of 1 to " + std::to_string(kMaxReferenceImages) +
               " URIs";
      return false;
    }
    JsonArray *array = json_node_get_array(references);
    for (guint index = 0; index < length; ++index) {
      ImageInput input;
      if (!parse_uri(json_array_get_element(array, index),
                     "reference_images[" + std::to_string(index) + "]", &input, error)) {
        return false;
      }
      request->inputs.references.push_back(input);
    }
  }
  if (request->inputs.image && !request->inputs.references.empty()) {
    *error = "image_url: cannot be combined with reference_images";
    return false;
  }
  std::string prompt;
  if (!parse_string_member(object, "prompt", &prompt, error)) return false;
  if (trimmed(prompt).empty() && !request->inputs.image && request->inputs.references.empty()) {
    *error =
        "prompt: required for text-to-video (when neither image_url nor reference_images "
        "is given)";
    return false;
  }
  int duration_s = kDefaultDuration;
  std::string aspect_ratio = "16:9";
  std::string resolution = "720p";
  if (!parse_integer_member(object, "duration", kMinDuration, kMaxDuration, &duration_s, error) ||
      !parse_choice_member(object, "aspect_ratio", kAspectRatios, &aspect_ratio, error) ||
      !parse_choice_member(object, "resolution", kResolutions, &resolution, error)) {
    return false;
  }
  request->spec = video_spec(kModel, prompt, duration_s, frame_size(resolution, aspect_ratio));
  return true;
}

class AimlapiProfile : public Profile {
 public:
  explicit AimlapiProfile(Core &core) : core_(core) {}

  void handle(SoupServerMessage *msg, const std::string &method, const char *path,
              GHashTable *query) override {
    const std::vector<std::string> segments = path_segments(path);
    const bool endpoint = segments.size() == 3 && segments[0] == "v2" && segments[1] == "video" &&
                          segments[2] == "generations";
    if (endpoint && method == SOUP_METHOD_POST) {
      core_.receive_submit(
          msg, path, std::nullopt,
          [this](PausedPtr paused, const std::string &body, std::size_t record_index) {
            process_submit(std::move(paused), body, record_index);
          });
      return;
    }
    if (endpoint && method == SOUP_METHOD_GET) {
      const char *id = query != nullptr
                           ? static_cast<const char *>(g_hash_table_lookup(query, "generation_id"))
                           : nullptr;
      const std::string generation_id = id != nullptr ? id : "";
      core_.receive_poll(msg, Phase::Status, [this, generation_id](SoupServerMessage *polled) {
        answer_poll(polled, generation_id);
      });
      return;
    }
    respond_error(msg, SOUP_STATUS_NOT_FOUND, "not_found", "Cannot " + method + " " + path);
  }

  std::string fault_body(guint status) const override {
    return JsonWriter()
        .begin_object("error")
        .add("message", status_phrase(status))
        .add("code", "http_" + std::to_string(status))
        .end_object()
        .finish();
  }

  std::optional<std::string> credential(SoupServerMessage *msg) const override {
    return bearer_key(msg);
  }

  void refuse_credential(SoupServerMessage *msg) const override { unauthorized(msg); }

 private:
  void process_submit(PausedPtr paused, const std::string &body, std::size_t record_index) {
    SoupServerMessage *msg = paused->get();
    JsonBody json;
    std::string error;
    if (!json.parse(body, &error)) {
      bad_request(msg, "body: " + error);
      return;
    }
    Request request;
    if (!parse_request(json.object(), &request, &error)) {
      bad_request(msg, error);
      return;
    }
    request.spec.id = core_.request_id(random_uuid());
    request.spec.outcome = core_.planned_outcome(false, request.spec.prompt);
    core_.accept_job(
        std::move(paused), record_index, request.inputs, request.spec,
        [](const JobSpec &spec) {
          return JsonWriter()
              .add("id", spec.id)
              .add("status", status_name(JobStatus::Queued))
              .finish();
        },
        [](PausedPtr refused, const std::string &field, const std::string &reason) {
          bad_request(refused->get(), field + ": " + reason);
        });
  }

  void answer_poll(SoupServerMessage *msg, const std::string &generation_id) {
    if (generation_id.empty()) {
      bad_request(msg, "generation_id: required query parameter");
      return;
    }
    const std::optional<JobView> view = core_.view_job(generation_id);
    if (!view) {
      respond_error(msg, SOUP_STATUS_NOT_FOUND, "not_found",
                    "Generation " + generation_id + " not found");
      return;
    }
    JsonWriter json;
    json.add("id", generation_id).add("status", status_name(view->status));
    if (view->status == JobStatus::Completed) {
      json.begin_object("video").add("url", core_.media_url(*view, 0)).end_object();
    } else if (is_terminal(view->status)) {
      json.begin_object("error")
          .add("message", view->error.empty() ? "Generation failed" : view->error)
          .end_object();
    }
    respond(msg, SOUP_STATUS_OK, json.finish());
  }

  Core &core_;
};

}  // namespace

std::unique_ptr<Profile> make_aimlapi_profile(Core &core) {
  return std::make_unique<AimlapiProfile>(core);
}

}  // namespace grokimagine::emulator
