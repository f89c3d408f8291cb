// SPDX-License-Identifier: LGPL-2.1-or-later
// AI/ML API: POST /v2/video/generations -> {id, status};
// GET /v2/video/generations?generation_id=ID until completed, which names
// the video in video.url (or url).
#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

const std::vector<std::string> kVideoModels = {"x-ai/grok-imagine-video"};
constexpr size_t kMaxReferences = 7;
const StatusWords kStatusWords = {
    {"queued", JobStatus::State::Pending},     {"waiting", JobStatus::State::Pending},
    {"generating", JobStatus::State::Running}, {"active", JobStatus::State::Running},
    {"processing", JobStatus::State::Running}, {"completed", JobStatus::State::Completed},
    {"error", JobStatus::State::Failed},       {"failed", JobStatus::State::Failed}};

std::string image_url(const ImageInput &image) {
  return image.url.empty() ? image.data_uri() : image.url;
}

class Aimlapi final : public Provider {
 public:
  const char *name() const override { return "aimlapi"; }
  const char *key_env() const override { return "AIMLAPI_KEY"; }
  const char *default_api_url() const override { return "https://api.aimlapi.com"; }
  const char *default_model(MediaKind kind) const override {
    return kind == MediaKind::Video ? "x-ai/grok-imagine-video" : nullptr;
  }

  std::optional<Error> validate(const Request &request) const override {
    if (auto error = check_model(
            request, request.kind == MediaKind::Video ? kVideoModels : std::vector<std::string>{}))
      return error;
    return check_video(request, video_limits(request));
  }

  VideoLimits video_limits(const Request &request) const override {
    VideoLimits limits;
    std::tie(limits.min_duration, limits.max_duration) = duration_range(request);
    limits.resolutions = {"480p", "720p"};
    limits.aspect_ratios = grok_aspect_ratios();
    limits.max_references = kMaxReferences;
    return limits;
  }

  HttpRequest submit_request(const Request &request, const Inputs &inputs,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = begin_job_body(request);
    json::add_member(body, "duration", request.duration);
    json::add_member(body, "aspect_ratio", request.aspect_ratio);
    json::add_member(body, "resolution", request.resolution);
    if (!inputs.image.empty()) {
      json::add_member(body, "image_url", image_url(inputs.image));
    }
    if (!inputs.references.empty()) {
      json_builder_set_member_name(body, "reference_images");
      json_builder_begin_array(body);
      for (const auto &reference : inputs.references)
        json_builder_add_string_value(body, image_url(reference).c_str());
      json_builder_end_array(body);
    }
    return bearer_post(endpoint, "/v2/video/generations", body);
  }

  Result<Submitted> parse_submit(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 201)
      return http_error(response, Phase::Submit);
    return submitted_id(response, "id");
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    g_autofree gchar *escaped = g_uri_escape_string(request_id.c_str(), nullptr, TRUE);
    return bearer_request(endpoint, std::string("/v2/video/generations?generation_id=") + escaped);
  }

  Result<JobStatus> parse_status(const HttpResponse &response) const override {
    if (response.status != 200) return http_error(response, Phase::Status);
    auto answer = parse_answer(response, "job status");
    if (!answer.ok()) return answer.error();
    const json::NodePtr &root = answer.value();
    JobStatus status;
    status.provider_status = json::string_at(root.get(), "status");
    auto state = state_of(status.provider_status, kStatusWords, response.status);
    if (!state.ok()) return state.error();
    status.state = *state;
    if (status.state == JobStatus::State::Completed) {
      for (const char *path : {"video.url", "url"}) {
        std::string url = json::string_at(root.get(), path);
        if (!url.empty()) {
          status.outputs.push_back({url, "video/mp4", {}});
          break;
        }
      }
    } else if (status.state == JobStatus::State::Failed) {
      status.detail = json::error_message(root.get());
    }
    return status;
  }
};

}  // namespace

const Provider &aimlapi_provider() {
  static const Aimlapi provider;
  return provider;
}

}  // namespace grokimagine
