// SPDX-License-Identifier: LGPL-2.1-or-later
// AI/ML API: POST /v2/video/generations -> {id, status};
// GET /v2/video/generations?generation_id=ID until completed, which names
// the video in video.url (or url).
#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

const std::vector<std::string> kVideoModels = {"x-ai/grok-imagine-video"};
const std::vector<std::string> kAspectRatios = {"16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"};

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
    const auto [shortest, longest] = duration_range(request);
    return check_video(request, {shortest, longest, {"480p", "720p"}, kAspectRatios, 7, false});
  }

  HttpRequest submit_request(const Request &request, const Inputs &inputs,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = json_builder_new();
    json_builder_begin_object(body);
    json::add_member(body, "model", request.model);
    if (!request.prompt.empty()) {
      json::add_member(body, "prompt", request.prompt);
    }
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
    json_builder_end_object(body);
    return {"POST", endpoint.api_url + "/v2/video/generations", bearer_headers(endpoint),
            json::to_string(body)};
  }

  Result<Submitted> parse_submit(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 201)
      return http_error(response, Phase::Submit);
    return submitted_id(response, "id");
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    g_autofree gchar *escaped = g_uri_escape_string(request_id.c_str(), nullptr, TRUE);
    return {"GET",
            endpoint.api_url + "/v2/video/generations?generation_id=" + escaped,
            bearer_headers(endpoint),
            {}};
  }

  Result<JobStatus> parse_status(const HttpResponse &response) const override {
    if (response.status != 200) return http_error(response, Phase::Status);
    std::string why;
    json::NodePtr root = json::parse_object(response.body, &why);
    if (!root)
      return Error::protocol("aimlapi sent an unreadable job status (" + why + ")",
                             response.status);
    JobStatus status;
    const std::string word = json::string_at(root.get(), "status");
    status.provider_status = word;
    if (word == "queued" || word == "waiting") {
      status.state = JobStatus::State::Pending;
    } else if (word == "generating" || word == "active" || word == "processing") {
      status.state = JobStatus::State::Running;
    } else if (word == "completed") {
      status.state = JobStatus::State::Completed;
      for (const char *path : {"video.url", "url"}) {
        std::string url = json::string_at(root.get(), path);
        if (!url.empty()) {
          status.outputs.push_back({url, "video/mp4", {}});
          break;
        }
      }
    } else if (word == "error" || word == "failed") {
      status.state = JobStatus::State::Failed;
      status.detail = json::error_message(root.get());
    } else {
      return unknown_status(word, response.status);
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
