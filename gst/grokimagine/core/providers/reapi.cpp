// SPDX-License-Identifier: LGPL-2.1-or-later
// reAPI: POST /api/v1/videos/generations -> {id, status};
// GET /api/v1/tasks/{id} until completed (output.video_urls) or failed
// (error {code, message}). Image inputs must be public http(s) URLs.
#include <algorithm>

#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

const std::vector<std::string> kVideoModels = {"grok-imagine-1.0-video"};
const std::vector<std::string> kSizes = {"16:9", "9:16", "1:1", "3:2", "2:3"};
const std::vector<std::string> kQualities = {"480p", "720p"};
constexpr size_t kMaxPromptChars = 4000;
constexpr size_t kMaxImages = 7;
const StatusWords kStatusWords = {{"pending", JobStatus::State::Pending},
                                  {"queued", JobStatus::State::Pending},
                                  {"processing", JobStatus::State::Running},
                                  {"completed", JobStatus::State::Completed},
                                  {"failed", JobStatus::State::Failed}};

bool is_http_url(const std::string &value) {
  return g_str_has_prefix(value.c_str(), "http://") || g_str_has_prefix(value.c_str(), "https://");
}

// reAPI's validation errors carry a numeric code worth showing: 20002
// (prompt missing), 20003 (a bad field), 20007 (prompt too long).
std::string coded_message(const std::string &body) {
  auto root = json::parse_object(body);
  if (!root.ok()) return {};
  auto code = json::number_at(root->get(), "error.code");
  std::string message = json::string_at(root->get(), "error.message");
  if (!code) return message;
  // %g: the code is read from the network and may not fit an integer.
  g_autofree gchar *shown = g_strdup_printf("%.15g", *code);
  return std::string("code ") + shown + ": " + message;
}

class Reapi final : public Provider {
 public:
  const char *name() const override { return "reapi"; }
  const char *key_env() const override { return "REAPI_KEY"; }
  // Result URLs live 7 days.
  std::chrono::seconds retention() const override { return std::chrono::hours(24 * 7); }
  const char *default_api_url() const override { return "https://reapi.ai"; }
  const char *default_model(MediaKind kind) const override {
    return kind == MediaKind::Video ? "grok-imagine-1.0-video" : nullptr;
  }
  // reAPI's advice: every 5 s for 5 minutes, then back off toward a minute.
  std::chrono::milliseconds poll_delay(const PollState &state) const override {
    using std::chrono::milliseconds;
    const milliseconds steady{5000}, steady_for{300000}, ceiling{60000};
    if (state.elapsed < steady_for) return steady;
    return std::min(ceiling, steady + (state.elapsed - steady_for) / 5);
  }

  std::optional<std::size_t> max_prompt_chars() const override { return kMaxPromptChars; }

  std::pair<int, int> duration_range(const Request &) const override { return {6, 30}; }

  std::optional<Error> validate(const Request &request) const override {
    if (auto error = check_model(
            request, request.kind == MediaKind::Video ? kVideoModels : std::vector<std::string>{}))
      return error;
    if (auto error = check_video(request, video_limits(request))) return error;
    std::vector<std::pair<const char *, std::string>> images;
    if (!request.image.empty()) images.emplace_back("image", request.image);
    for (const auto &reference : request.reference_images)
      images.emplace_back("reference-images", reference);
    if (images.size() > kMaxImages)
      return invalid_setting("Properties 'image' and 'reference-images' name " +
                             std::to_string(images.size()) +
                             " images: reapi allows at most 7 in all.");
    for (const auto &[property, value] : images)
      if (!is_http_url(value))
        return invalid_setting("Property '" + std::string(property) + "' is '" + value +
                               "': reapi needs a public http(s) URL (no local files or data: "
                               "URIs); upload the image and pass its URL.");
    return std::nullopt;
  }

  VideoLimits video_limits(const Request &request) const override {
    VideoLimits limits;
    std::tie(limits.min_duration, limits.max_duration) = duration_range(request);
    limits.resolutions = kQualities;
    limits.aspect_ratios = kSizes;
    limits.max_references = kMaxImages;
    limits.image_with_references = true;
    return limits;
  }

  HttpRequest submit_request(const Request &request, const Inputs &inputs,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = begin_job_body(request);
    json::add_member(body, "size", request.aspect_ratio);
    json::add_member(body, "duration", request.duration);
    json::add_member(body, "quality", request.resolution);
    if (!inputs.image.empty() || !inputs.references.empty()) {
      json_builder_set_member_name(body, "image_urls");
      json_builder_begin_array(body);
      if (!inputs.image.empty()) json_builder_add_string_value(body, inputs.image.url.c_str());
      for (const auto &reference : inputs.references)
        json_builder_add_string_value(body, reference.url.c_str());
      json_builder_end_array(body);
    }
    return bearer_post(endpoint, "/api/v1/videos/generations", body);
  }

  Result<Submitted> parse_submit(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 201)
      return coded_error(response, Phase::Submit);
    return submitted_id(response, "id");
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    return bearer_request(endpoint, "/api/v1/tasks/" + path_segment(request_id));
  }

  Result<JobStatus> parse_status(const HttpResponse &response) const override {
    if (response.status != 200) return coded_error(response, Phase::Status);
    auto answer = parse_answer(response, "task status");
    if (!answer.ok()) return answer.error();
    const json::NodePtr &root = answer.value();
    JobStatus status;
    status.provider_status = json::string_at(root.get(), "status");
    auto state = state_of(status.provider_status, kStatusWords, response.status);
    if (!state.ok()) return state.error();
    status.state = *state;
    if (status.state == JobStatus::State::Completed) {
      JsonNode *urls = json::node_at(root.get(), "output.video_urls");
      if (urls && JSON_NODE_HOLDS_ARRAY(urls)) {
        JsonArray *items = json_node_get_array(urls);
        for (guint i = 0; i < json_array_get_length(items); i++) {
          JsonNode *item = json_array_get_element(items, i);
          if (JSON_NODE_HOLDS_VALUE(item) && json_node_get_value_type(item) == G_TYPE_STRING)
            status.outputs.push_back({json_node_get_string(item), "video/mp4", {}});
        }
      }
    } else if (status.state == JobStatus::State::Failed) {
      status.detail = coded_message(response.body);
    }
    return status;
  }

 private:
  Error coded_error(const HttpResponse &response, Phase phase) const {
    Error error = http_error(response, phase);
    std::string coded = coded_message(response.body);
    if (!coded.empty() && error.kind == ErrorKind::BadRequest)
      error.message = "reapi refused the request (HTTP " + std::to_string(response.status) + ", " +
                      coded + ").";
    return error;
  }
};

}  // namespace

const Provider &reapi_provider() {
  static const Reapi provider;
  return provider;
}

}  // namespace grokimagine
