// xAI's own API: POST /videos/generations -> request_id; GET /videos/{id}
// answers 202 while pending (the body may be empty), then done, failed or
// expired. A `done` whose video is withheld by moderation is not a clip.
// Images are synchronous: POST /images/generations answers with the data.
#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

const std::vector<std::string> kVideoModels = {"grok-imagine-video", "grok-imagine-video-1.5"};
const std::vector<std::string> kImageModels = {"grok-imagine-image"};
const std::vector<std::string> kAspectRatios = {"1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"};
const std::vector<std::string> kImageResolutions = {"1k", "2k"};
constexpr int kMaxReferences = 7;

std::string image_url(const ImageInput &image) {
  return image.url.empty() ? image.data_uri() : image.url;
}

void add_url_object(JsonBuilder *body, const std::string &url) {
  json_builder_begin_object(body);
  json::add_member(body, "url", url);
  json_builder_end_object(body);
}

class Xai final : public Provider {
 public:
  const char *name() const override { return "xai"; }
  const char *key_env() const override { return "XAI_API_KEY"; }
  const char *default_api_url() const override { return "https://api.x.ai/v1"; }
  const char *default_model(MediaKind kind) const override {
    return kind == MediaKind::Video ? "grok-imagine-video" : "grok-imagine-image";
  }
  // "About 1 request/s for video models, 429 beyond."
  double requests_per_second() const override { return 1.0; }
  // Video URLs live 24 hours.
  std::chrono::seconds retention() const override { return std::chrono::hours(24); }

  std::optional<Error> validate(const Request &request) const override {
    if (request.kind == MediaKind::Image) {
      if (auto error = check_model(request, kImageModels)) return error;
      if (request.prompt.empty())
        return invalid_setting("Property 'prompt' is empty: xai needs a prompt for images.");
      if (!request.image.empty())
        return invalid_setting("Property 'image': xai does not edit images here; unset it.");
      if (auto error = check_range("n", request.count, 1, 10, name())) return error;
      if (auto error = check_one_of("resolution", request.resolution, kImageResolutions, name()))
        return error;
      return check_one_of("aspect-ratio", request.aspect_ratio, kAspectRatios, name());
    }
    if (auto error = check_model(request, kVideoModels)) return error;
    const bool v15 = request.model == "grok-imagine-video-1.5";
    const VideoLimits limits{1,
                             15,
                             v15 ? std::vector<std::string>{"480p", "720p", "1080p"}
                                 : std::vector<std::string>{"480p", "720p"},
                             kAspectRatios,
                             kMaxReferences,
                             false};
    return check_video(request, limits);
  }

  HttpRequest submit_request(const Request &request, const Inputs &inputs,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = json_builder_new();
    json_builder_begin_object(body);
    json::add_member(body, "model", request.model);
    if (!request.prompt.empty()) {
      json::add_member(body, "prompt", request.prompt);
    }
    json::add_member(body, "aspect_ratio", request.aspect_ratio);
    json::add_member(body, "resolution", request.resolution);
    if (request.kind == MediaKind::Image) {
      json::add_member(body, "n", request.count);
      json::add_member(body, "response_format", "url");
      json_builder_end_object(body);
      return {"POST", endpoint.api_url + "/images/generations", bearer_headers(endpoint),
              json::to_string(body)};
    }
    json::add_member(body, "duration", request.duration);
    if (!inputs.image.empty()) {
      json_builder_set_member_name(body, "image");
      add_url_object(body, image_url(inputs.image));
    }
    if (!inputs.references.empty()) {
      json_builder_set_member_name(body, "reference_images");
      json_builder_begin_array(body);
      for (const auto &reference : inputs.references) add_url_object(body, image_url(reference));
      json_builder_end_array(body);
    }
    json_builder_end_object(body);
    return {"POST", endpoint.api_url + "/videos/generations", bearer_headers(endpoint),
            json::to_string(body)};
  }

  Parsed<Submitted> parse_submit(const HttpResponse &response) const override {
    if (response.status != 200) return http_error(response, Phase::Submit);
    std::string why;
    json::NodePtr root = json::parse_object(response.body, &why);
    if (!root)
      return Error{
          ErrorKind::Protocol, "xai sent an unreadable answer (" + why + ")", {}, response.status};
    if (JsonNode *data = json::node_at(root.get(), "data")) return finished_images(data, response);
    return submitted_id(response, "request_id");
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    return {"GET",
            endpoint.api_url + "/videos/" + path_segment(request_id),
            bearer_headers(endpoint),
            {}};
  }

  Parsed<JobStatus> parse_status(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 202)
      return http_error(response, Phase::Status);
    JobStatus status;
    status.state = JobStatus::State::Pending;
    status.provider_status = "pending";
    // 202 with an empty body is a plain "not yet".
    if (response.status == 202 && response.body.find_first_not_of(" \r\n\t") == std::string::npos)
      return status;
    std::string why;
    json::NodePtr root = json::parse_object(response.body, &why);
    if (!root)
      return Error{ErrorKind::Protocol,
                   "xai sent an unreadable job status (" + why + ")",
                   {},
                   response.status};
    if (auto progress = json::number_at(root.get(), "progress"))
      status.progress = int(CLAMP(*progress, 0.0, 100.0));
    // A status that is there but not a word (7, null) is not "pending": it
    // is an answer we cannot read, as for every other provider.
    JsonNode *status_node = json::node_at(root.get(), "status");
    if (status_node && !(JSON_NODE_HOLDS_VALUE(status_node) &&
                         json_node_get_value_type(status_node) == G_TYPE_STRING))
      return Error{
          ErrorKind::Protocol, "xai sent a job status that is not a word", {}, response.status};
    std::string word = json::string_at(root.get(), "status");
    if (!word.empty()) status.provider_status = word;
    // 1e10 ticks are one US dollar.
    if (auto ticks = json::number_at(root.get(), "usage.cost_in_usd_ticks"))
      if (*ticks >= 0) status.cost_usd = *ticks / 1e10;
    if (word == "done") {
      std::string url = json::string_at(root.get(), "video.url");
      JsonNode *moderation = json::node_at(root.get(), "video.respect_moderation");
      bool withheld = moderation && JSON_NODE_HOLDS_VALUE(moderation) &&
                      json_node_get_value_type(moderation) == G_TYPE_BOOLEAN &&
                      !json_node_get_boolean(moderation);
      if (withheld || url.empty()) {
        status.state = JobStatus::State::Moderated;
        status.detail = withheld ? "respect_moderation is false" : "no video URL was given";
        return status;
      }
      status.state = JobStatus::State::Completed;
      status.outputs.push_back({url, "video/mp4", {}});
    } else if (word == "failed") {
      status.state = JobStatus::State::Failed;
      status.detail = json::error_message(root.get());
    } else if (word == "expired") {
      status.state = JobStatus::State::Expired;
    } else if (word == "pending" || word.empty()) {
      status.state = status.progress > 0 ? JobStatus::State::Running : JobStatus::State::Pending;
    } else {
      return unknown_status(word, response.status);
    }
    return status;
  }

 private:
  Parsed<Submitted> finished_images(JsonNode *data, const HttpResponse &response) const {
    JobStatus status;
    status.state = JobStatus::State::Completed;
    status.provider_status = "done";
    if (JSON_NODE_HOLDS_ARRAY(data)) {
      JsonArray *items = json_node_get_array(data);
      for (guint i = 0; i < json_array_get_length(items); i++) {
        JsonNode *item = json_array_get_element(items, i);
        Output output{json::string_at(item, "url"), json::string_at(item, "mime_type"), {}};
        std::string encoded = json::string_at(item, "b64_json");
        if (!encoded.empty()) {
          gsize length = 0;
          g_autofree guchar *bytes = g_base64_decode(encoded.c_str(), &length);
          output.data.assign(reinterpret_cast<char *>(bytes), length);
        }
        if (!output.url.empty() || !output.data.empty()) status.outputs.push_back(output);
      }
    }
    // Synchronous: the job's id is the request's.
    return Submitted{response.header("x-request-id"), status};
  }
};

}  // namespace

const Provider &xai_provider() {
  static const Xai provider;
  return provider;
}

}  // namespace grokimagine
