// SPDX-License-Identifier: LGPL-2.1-or-later
// Segmind's asynchronous v2 API: POST /v2/{model} -> request_id;
// GET /v2/requests/{id}/status until COMPLETED or FAILED (served as HTTP
// 422 with the detail); GET /v2/requests/{id} names the media in `output`.
// grok-imagine-video-1.5-preview is synchronous: POST /v1/{model} answers,
// once generated, with the MP4 itself.
#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

constexpr const char *kPreviewModel = "grok-imagine-video-1.5-preview";
const std::vector<std::string> kVideoModels = {"grok-imagine-video", kPreviewModel};
const std::vector<std::string> kPreviewResolutions = {"480p", "720p"};
const std::vector<std::string> kImageModels = {"grok-imagine-image"};
const std::vector<std::string> kResolutions = {"480p", "720p", "1080p"};
const std::vector<std::string> kImageResolutions = {"1k", "2k"};
const std::vector<std::string> kImageAspectRatios = {"1:1",  "3:4", "4:3",    "9:16",   "16:9",
                                                     "2:3",  "3:2", "9:19.5", "19.5:9", "9:20",
                                                     "20:9", "1:2", "2:1",    "auto"};
const std::vector<std::string> kImageFormats = {"jpeg", "png", "webp"};
const std::vector<std::string> kImageModes = {"standard", "quality"};
// FAILED comes as HTTP 422, with the detail.
const StatusWords kStatusWords = {{"QUEUED", JobStatus::State::Pending},
                                  {"PROCESSING", JobStatus::State::Running},
                                  {"IN_PROGRESS", JobStatus::State::Running},
                                  {"COMPLETED", JobStatus::State::Completed},
                                  {"FAILED", JobStatus::State::Failed}};

std::string url_in(JsonNode *node) {
  if (!node) return {};
  if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
    return json_node_get_string(node);
  for (const char *member : {"url", "video_url", "image_url"}) {
    std::string url = json::string_at(node, member);
    if (!url.empty()) return url;
  }
  return {};
}

// `output` has been seen as a URL string, a list of them, or an object.
std::vector<Output> outputs_in(JsonNode *root) {
  std::vector<Output> outputs;
  JsonNode *output = json::node_at(root, "output");
  if (output && JSON_NODE_HOLDS_ARRAY(output)) {
    JsonArray *items = json_node_get_array(output);
    for (guint i = 0; i < json_array_get_length(items); i++) {
      std::string url = url_in(json_array_get_element(items, i));
      if (!url.empty()) outputs.push_back({url, {}, {}});
    }
  } else if (std::string url = url_in(output); !url.empty()) {
    outputs.push_back({url, {}, {}});
  }
  return outputs;
}

class Segmind final : public Provider {
 public:
  const char *name() const override { return "segmind"; }
  const char *key_env() const override { return "SEGMIND_API_KEY"; }
  const char *default_api_url() const override { return "https://api.segmind.com"; }
  const char *default_model(MediaKind kind) const override {
    return kind == MediaKind::Video ? "grok-imagine-video" : "grok-imagine-image";
  }

  std::optional<Error> validate(const Request &request) const override {
    if (!request.reference_images.empty()) return no_reference_images();
    if (request.kind == MediaKind::Image) return validate_image(request);
    if (auto error = check_model(request, kVideoModels)) return error;
    if (request.model == kPreviewModel) return validate_preview(request);
    return check_video(request, video_limits(request));
  }

  // No reference images, and no first frame with them.
  VideoLimits video_limits(const Request &request) const override {
    VideoLimits limits;
    std::tie(limits.min_duration, limits.max_duration) = duration_range(request);
    limits.resolutions = request.model == kPreviewModel ? kPreviewResolutions : kResolutions;
    limits.aspect_ratios = grok_aspect_ratios();
    return limits;
  }

  HttpRequest submit_request(const Request &request, const Inputs &inputs,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = json_builder_new();
    json_builder_begin_object(body);
    if (!request.prompt.empty()) {
      json::add_member(body, "prompt", request.prompt);
    }
    if (request.kind == MediaKind::Video) {
      json::add_member(body, "duration", request.duration);
    } else {
      json::add_member(body, "n", request.count);
      json::add_member(body, "output_format", request.output_format);
      json::add_member(body, "mode", request.mode);
    }
    json::add_member(body, "resolution", request.resolution);
    json::add_member(body, "aspect_ratio", request.aspect_ratio);
    if (!inputs.image.empty()) {
      // Segmind takes a URL or plain base64.
      json::add_member(body, "image",
                       inputs.image.url.empty() ? inputs.image.base64().c_str() : inputs.image.url);
    }
    json_builder_end_object(body);
    const char *api = answers_with_media(request) ? "/v1/" : "/v2/";
    return {"POST", endpoint.api_url + api + request.model, auth(endpoint), json::to_string(body)};
  }

  bool answers_with_media(const Request &request) const override {
    return request.kind == MediaKind::Video && request.model == kPreviewModel;
  }

  Result<Submitted> parse_submit(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 201 && response.status != 202)
      return http_error(response, Phase::Submit);
    return submitted_id(response, "request_id");
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    return {"GET",
            endpoint.api_url + "/v2/requests/" + path_segment(request_id) + "/status",
            auth(endpoint),
            {}};
  }

  Result<JobStatus> parse_status(const HttpResponse &response) const override {
    return parse_job(response, Phase::Status);
  }

  std::optional<HttpRequest> result_request(const std::string &request_id,
                                            const Endpoint &endpoint) const override {
    return HttpRequest{
        "GET", endpoint.api_url + "/v2/requests/" + path_segment(request_id), auth(endpoint), {}};
  }

  Result<JobStatus> parse_result(const HttpResponse &response) const override {
    return parse_job(response, Phase::Result);
  }

 private:
  std::optional<Error> validate_preview(const Request &request) const {
    const std::string who = std::string(name()) + " with " + kPreviewModel;
    if (request.image.empty())
      return invalid_setting("Property 'image' is empty: " + who +
                             " animates an image, so it needs one.");
    if (request.prompt.empty())
      return invalid_setting("Property 'prompt' is empty: " + who + " needs a prompt.");
    return check_video(request, video_limits(request));
  }

  std::optional<Error> validate_image(const Request &request) const {
    if (auto error = check_model(request, kImageModels)) return error;
    if (request.prompt.empty())
      return invalid_setting("Property 'prompt' is empty: segmind needs a prompt for images.");
    if (auto error = check_range("n", request.count, 1, 4, name())) return error;
    if (auto error = check_one_of("resolution", request.resolution, kImageResolutions, name()))
      return error;
    if (auto error = check_one_of("aspect-ratio", request.aspect_ratio, kImageAspectRatios, name()))
      return error;
    if (auto error = check_one_of("output-format", request.output_format, kImageFormats, name()))
      return error;
    return check_one_of("mode", request.mode, kImageModes, name());
  }

  static Headers auth(const Endpoint &endpoint) {
    return {{"x-api-key", endpoint.api_key}, {"Accept", "application/json"}};
  }

  Result<JobStatus> parse_job(const HttpResponse &response, Phase phase) const {
    if (response.status != 200 && response.status != 422) return http_error(response, phase);
    auto answer = parse_answer(response, "job status");
    if (!answer.ok()) return answer.error();
    const json::NodePtr &root = answer.value();
    JobStatus status;
    status.provider_status =
        response.status == 422 ? "FAILED" : json::string_at(root.get(), "status");
    auto state = state_of(status.provider_status, kStatusWords, response.status);
    if (!state.ok()) return state.error();
    status.state = *state;
    if (status.state == JobStatus::State::Failed) {
      status.detail = json::error_message(root.get());
      return status;
    }
    status.outputs = outputs_in(root.get());
    return status;
  }
};

}  // namespace

const Provider &segmind_provider() {
  static const Segmind provider;
  return provider;
}

}  // namespace grokimagine
