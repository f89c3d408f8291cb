// Segmind's asynchronous v2 API: POST /v2/{model} -> request_id;
// GET /v2/requests/{id}/status until COMPLETED or FAILED (served as HTTP
// 422 with the detail); GET /v2/requests/{id} names the video in `output`.
#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

const std::vector<std::string> kModels = {"grok-imagine-video"};
const std::vector<std::string> kResolutions = {"480p", "720p", "1080p"};
const std::vector<std::string> kAspectRatios = {"16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"};

// `output` has been seen as a URL string, a list of them, or an object.
std::string output_url(JsonNode *root) {
  JsonNode *output = json::node_at(root, "output");
  if (!output) return {};
  if (JSON_NODE_HOLDS_VALUE(output) && json_node_get_value_type(output) == G_TYPE_STRING)
    return json_node_get_string(output);
  if (JSON_NODE_HOLDS_ARRAY(output)) {
    JsonArray *items = json_node_get_array(output);
    if (json_array_get_length(items) == 0) return {};
    JsonNode *first = json_array_get_element(items, 0);
    if (JSON_NODE_HOLDS_VALUE(first) && json_node_get_value_type(first) == G_TYPE_STRING)
      return json_node_get_string(first);
    return {};
  }
  for (const char *member : {"url", "video_url", "video"}) {
    std::string url = json::string_at(output, member);
    if (!url.empty()) return url;
  }
  return {};
}

class Segmind final : public Provider {
 public:
  const char *name() const override { return "segmind"; }
  const char *key_env() const override { return "SEGMIND_API_KEY"; }
  const char *default_api_url() const override { return "https://api.segmind.com"; }
  const char *default_model() const override { return "grok-imagine-video"; }

  std::optional<Error> validate(const VideoRequest &request) const override {
    if (auto error = check_one_of("model", request.model, kModels, name())) return error;
    if (request.prompt.empty() && request.image.empty())
      return invalid_setting(
          "Property 'prompt' is empty: text-to-video needs a prompt (or set 'image' for "
          "image-to-video).");
    if (auto error = check_range("duration", request.duration, 1, 15, name())) return error;
    if (auto error = check_one_of("resolution", request.resolution, kResolutions, name()))
      return error;
    return check_one_of("aspect-ratio", request.aspect_ratio, kAspectRatios, name());
  }

  HttpRequest submit_request(const VideoRequest &request, const ImageInput &image,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = json_builder_new();
    json_builder_begin_object(body);
    if (!request.prompt.empty()) {
      json_builder_set_member_name(body, "prompt");
      json_builder_add_string_value(body, request.prompt.c_str());
    }
    json_builder_set_member_name(body, "duration");
    json_builder_add_int_value(body, request.duration);
    json_builder_set_member_name(body, "resolution");
    json_builder_add_string_value(body, request.resolution.c_str());
    json_builder_set_member_name(body, "aspect_ratio");
    json_builder_add_string_value(body, request.aspect_ratio.c_str());
    if (!image.empty()) {
      // Segmind takes a URL or plain base64.
      json_builder_set_member_name(body, "image");
      json_builder_add_string_value(body,
                                    image.url.empty() ? image.base64().c_str() : image.url.c_str());
    }
    json_builder_end_object(body);
    return {"POST", endpoint.api_url + "/v2/" + request.model, auth(endpoint),
            json::to_string(body)};
  }

  Parsed<std::string> parse_submit(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 201 && response.status != 202)
      return http_error(response, Phase::Submit);
    std::string why;
    json::NodePtr root = json::parse_object(response.body, &why);
    std::string id = root ? json::string_at(root.get(), "request_id") : "";
    if (id.empty())
      return Error{ErrorKind::Protocol,
                   "segmind accepted the job but its answer names no request_id (" +
                       (root ? std::string("no request_id member") : why) + ")",
                   {},
                   response.status};
    return id;
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    return {"GET", endpoint.api_url + "/v2/requests/" + request_id + "/status", auth(endpoint), {}};
  }

  Parsed<JobStatus> parse_status(const HttpResponse &response) const override {
    return parse_job(response, Phase::Status);
  }

  std::optional<HttpRequest> result_request(const std::string &request_id,
                                            const Endpoint &endpoint) const override {
    return HttpRequest{"GET", endpoint.api_url + "/v2/requests/" + request_id, auth(endpoint), {}};
  }

  Parsed<JobStatus> parse_result(const HttpResponse &response) const override {
    return parse_job(response, Phase::Result);
  }

 private:
  static Headers auth(const Endpoint &endpoint) {
    return {{"x-api-key", endpoint.api_key}, {"Accept", "application/json"}};
  }

  Parsed<JobStatus> parse_job(const HttpResponse &response, Phase phase) const {
    if (response.status != 200 && response.status != 422) return http_error(response, phase);
    std::string why;
    json::NodePtr root = json::parse_object(response.body, &why);
    if (!root)
      return Error{ErrorKind::Protocol,
                   "segmind sent an unreadable job status (" + why + ")",
                   {},
                   response.status};
    JobStatus status;
    status.provider_status = json::string_at(root.get(), "status");
    if (response.status == 422 || status.provider_status == "FAILED") {
      status.state = JobStatus::State::Failed;
      status.provider_status = "FAILED";
      status.detail = json::error_message(root.get());
      return status;
    }
    if (status.provider_status == "QUEUED")
      status.state = JobStatus::State::Pending;
    else if (status.provider_status == "COMPLETED")
      status.state = JobStatus::State::Completed;
    else if (status.provider_status == "PROCESSING" || status.provider_status == "IN_PROGRESS")
      status.state = JobStatus::State::Running;
    else
      return Error{ErrorKind::Protocol,
                   "segmind sent an unknown job status '" + status.provider_status + "'",
                   {},
                   response.status};
    status.video_url = output_url(root.get());
    return status;
  }
};

}  // namespace

const Provider &segmind_provider() {
  static const Segmind provider;
  return provider;
}

}  // namespace grokimagine
