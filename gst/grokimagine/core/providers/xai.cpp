// SPDX-License-Identifier: LGPL-2.1-or-later
// xAI's own API: POST /videos/generations -> request_id; GET /videos/{id}
// answers 202 while pending (the body may be empty), then done, failed or
// expired. A `done` whose video is withheld by moderation is not a clip.
// Images are synchronous: POST /images/generations answers with the data.
// Extensions (POST /videos/extensions) and edits (POST /videos/edits) take
// an input video and are polled the same way. Local inputs too large for
// inline go to the Files API (POST /files) and are named by file_id.
#include "../json.h"
#include "provider.h"

namespace grokimagine {

namespace {

const std::vector<std::string> kVideoModels = {"grok-imagine-video", "grok-imagine-video-1.5"};
const std::vector<std::string> kImageModels = {"grok-imagine-image"};
// Images list 1:1 first (the image property's blurb does too).
const std::vector<std::string> kImageAspectRatios = {"1:1", "16:9", "9:16", "4:3",
                                                     "3:4", "3:2",  "2:3"};
const std::vector<std::string> kImageResolutions = {"1k", "2k"};
constexpr int kMaxReferences = 7;
constexpr size_t kMaxKeyframes = 4;
constexpr size_t kMaxReferenceAudios = 3;
// Extensions: the input 2..15 s, the new part 2..10 s; edits: at most 8.7 s.
constexpr double kMinExtendInput = 2, kMaxExtendInput = 15, kMaxEditInput = 8.7;
// Uploaded inputs expire by themselves after a day, should the delete
// after the job never come (a crash).
constexpr const char *kUploadExpiresAfter = "86400";
// An empty status (a 202 with a body but no word) is still pending.
const StatusWords kStatusWords = {{"done", JobStatus::State::Completed},
                                  {"failed", JobStatus::State::Failed},
                                  {"expired", JobStatus::State::Expired},
                                  {"pending", JobStatus::State::Pending},
                                  {"", JobStatus::State::Pending}};

// An uploaded input is named by its file_id; before the upload (the
// journal's fingerprint) by its content, which is what the id stands for.
void add_file_object(JsonBuilder *body, const UploadInput &upload) {
  json_builder_begin_object(body);
  if (upload.file_id.empty())
    json::add_member(body, "file_id", "sha256:" + upload.sha256);
  else
    json::add_member(body, "file_id", upload.file_id);
  json_builder_end_object(body);
}

void add_url_object(JsonBuilder *body, const std::string &url) {
  json_builder_begin_object(body);
  json::add_member(body, "url", url);
  json_builder_end_object(body);
}

void add_input(JsonBuilder *body, const ImageInput &input) {
  if (input.upload)
    add_file_object(body, *input.upload);
  else
    add_url_object(body, input.url.empty() ? input.data_uri() : input.url);
}

std::string format_seconds(double seconds) {
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(text, sizeof text, "%.2f", seconds);
  return text;
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

  // An extension adds 2 to 10 s.
  std::pair<int, int> duration_range(const Request &request) const override {
    return request.operation == Operation::Extend ? std::pair<int, int>{2, 10}
                                                  : std::pair<int, int>{1, 15};
  }

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
      return check_one_of("aspect-ratio", request.aspect_ratio, kImageAspectRatios, name());
    }
    if (auto error = check_model(request, kVideoModels)) return error;
    const bool v15 = request.model == "grok-imagine-video-1.5";
    const bool extend = request.operation == Operation::Extend;
    if (extend && v15)
      return invalid_setting(
          "Property 'model' is 'grok-imagine-video-1.5': xai extends videos with "
          "grok-imagine-video only.");
    if (auto error = check_video(request, video_limits(request))) return error;
    for (const auto &entry : request.keyframes) {
      auto keyframe = parse_keyframe(entry);
      if (!keyframe.ok()) return keyframe.error();
      if (keyframe->time_s > request.duration)
        return invalid_setting("Property 'keyframes': '" + entry + "' is at " +
                               format_seconds(keyframe->time_s) + " s, past the end of a " +
                               std::to_string(request.duration) +
                               " s clip: xai pins keyframes from 0 to the clip's duration.");
    }
    return std::nullopt;
  }

  VideoLimits video_limits(const Request &request) const override {
    const bool v15 = request.model == "grok-imagine-video-1.5";
    VideoLimits limits;
    std::tie(limits.min_duration, limits.max_duration) = duration_range(request);
    limits.resolutions = v15 ? std::vector<std::string>{"480p", "720p", "1080p"}
                             : std::vector<std::string>{"480p", "720p"};
    limits.aspect_ratios = grok_aspect_ratios();
    limits.max_references = kMaxReferences;
    limits.extend_and_edit = true;
    limits.max_keyframes = kMaxKeyframes;
    // Reference audios (inferred): grok-imagine-video-1.5 only.
    limits.max_reference_audios = v15 ? kMaxReferenceAudios : 0;
    limits.audio_optional = true;
    return limits;
  }

  std::optional<InputRange> extension_input() const override {
    return InputRange{kMinExtendInput, kMaxExtendInput};
  }

  std::optional<Error> check_inputs(const Request &request, const Inputs &inputs) const override {
    const double seconds = inputs.video.duration_s;
    if (seconds < 0) return std::nullopt;  // a URL: xai judges it
    const std::string got = "Property 'video' is " + format_seconds(seconds) + " s long: ";
    if (request.operation == Operation::Extend &&
        (seconds < kMinExtendInput - 0.05 || seconds > kMaxExtendInput + 0.05))
      return invalid_setting(got + "xai extends videos of 2 to 15 s.");
    if (request.operation == Operation::Edit && seconds > kMaxEditInput + 0.01)
      return invalid_setting(got + "xai edits videos of at most 8.7 s.");
    return std::nullopt;
  }

  bool has_files_api() const override { return true; }

  HttpRequest upload_request(const std::string &bytes, const std::string &mime_type,
                             const Endpoint &endpoint) const override {
    g_autofree gchar *nonce = g_uuid_string_random();
    const std::string boundary = std::string("grokimagine-") + nonce;
    const std::string extension = g_str_has_prefix(mime_type.c_str(), "video/")   ? "mp4"
                                  : g_str_has_prefix(mime_type.c_str(), "audio/") ? "audio"
                                                                                  : "image";
    std::string body;
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"expires_after\"\r\n\r\n" +
            kUploadExpiresAfter + "\r\n";
    body += "--" + boundary +
            "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"input." + extension +
            "\"\r\nContent-Type: " + mime_type + "\r\n\r\n";
    body += bytes;
    body += "\r\n--" + boundary + "--\r\n";
    HttpRequest request{"POST", endpoint.api_url + "/files", bearer_headers(endpoint),
                        std::move(body)};
    request.content_type = "multipart/form-data; boundary=" + boundary;
    return request;
  }

  Result<std::string> parse_upload(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 201) return http_error(response, Phase::Files);
    auto root = json::parse_object(response.body);
    std::string id = root.ok() ? json::string_at(root->get(), "id") : "";
    if (id.empty() || !request_id_problem(id).empty())
      return Error::protocol("xai accepted the upload but its answer names no usable file id",
                             response.status);
    return id;
  }

  HttpRequest delete_file_request(const std::string &file_id,
                                  const Endpoint &endpoint) const override {
    return bearer_request(endpoint, "/files/" + path_segment(file_id), "DELETE");
  }

  HttpRequest submit_request(const Request &request, const Inputs &inputs,
                             const Endpoint &endpoint) const override {
    g_autoptr(JsonBuilder) body = begin_job_body(request);
    if (request.kind == MediaKind::Video && request.operation != Operation::Generate)
      return video_request(request, inputs, endpoint);
    json::add_member(body, "aspect_ratio", request.aspect_ratio);
    json::add_member(body, "resolution", request.resolution);
    if (request.kind == MediaKind::Image) {
      json::add_member(body, "n", request.count);
      json::add_member(body, "response_format", "url");
      return bearer_post(endpoint, "/images/generations", body);
    }
    json::add_member(body, "duration", request.duration);
    if (!inputs.image.empty()) {
      json_builder_set_member_name(body, "image");
      add_input(body, inputs.image);
    }
    if (!inputs.references.empty()) {
      json_builder_set_member_name(body, "reference_images");
      json_builder_begin_array(body);
      for (const auto &reference : inputs.references) add_input(body, reference);
      json_builder_end_array(body);
    }
    if (!inputs.keyframes.empty()) {
      json_builder_set_member_name(body, "keyframes");
      json_builder_begin_array(body);
      for (size_t i = 0; i < inputs.keyframes.size() && i < request.keyframes.size(); i++) {
        auto keyframe = parse_keyframe(request.keyframes[i]);
        json_builder_begin_object(body);
        json_builder_set_member_name(body, "image");
        add_input(body, inputs.keyframes[i]);
        json_builder_set_member_name(body, "timestamp_s");
        json_builder_add_double_value(body, keyframe.ok() ? keyframe->time_s : 0);
        json_builder_end_object(body);
      }
      json_builder_end_array(body);
    }
    if (!inputs.audios.empty()) {
      json_builder_set_member_name(body, "reference_audios");
      json_builder_begin_array(body);
      for (const auto &audio : inputs.audios) add_input(body, audio);
      json_builder_end_array(body);
    }
    if (!request.generate_audio) {
      json_builder_set_member_name(body, "generate_audio");
      json_builder_add_boolean_value(body, FALSE);
    }
    return bearer_post(endpoint, "/videos/generations", body);
  }

  // POST /videos/extensions or /videos/edits: the model, the prompt and the
  // input video (the result keeps the input's aspect ratio).
  HttpRequest video_request(const Request &request, const Inputs &inputs,
                            const Endpoint &endpoint) const {
    g_autoptr(JsonBuilder) body = json_builder_new();
    json_builder_begin_object(body);
    json::add_member(body, "model", request.model);
    json::add_member(body, "prompt", request.prompt);
    json_builder_set_member_name(body, "video");
    const VideoInput &video = inputs.video;
    if (video.upload)
      add_file_object(body, *video.upload);
    else
      // request:ID until resolved (the journal's fingerprint), then its URL.
      add_url_object(body, !video.url.empty() ? video.url : "request:" + video.request_id);
    const bool extend = request.operation == Operation::Extend;
    if (extend) json::add_member(body, "duration", request.duration);
    return bearer_post(endpoint, extend ? "/videos/extensions" : "/videos/edits", body);
  }

  Result<Submitted> parse_submit(const HttpResponse &response) const override {
    if (response.status == 404) {
      // Most often a base URL without /v1 (an emulator's or a proxy's
      // address copied as printed), where no route matches.
      Error error = http_error(response, Phase::Submit);
      error.message +=
          " xAI's routes are under /v1: api-url ends in /v1, as https://api.x.ai/v1 does.";
      return error;
    }
    if (response.status != 200) return http_error(response, Phase::Submit);
    auto root = parse_answer(response, "answer");
    if (!root.ok()) return root.error();
    if (JsonNode *data = json::node_at(root->get(), "data")) return finished_images(data, response);
    return submitted_id(response, "request_id");
  }

  HttpRequest status_request(const std::string &request_id,
                             const Endpoint &endpoint) const override {
    return bearer_request(endpoint, "/videos/" + path_segment(request_id));
  }

  Result<JobStatus> parse_status(const HttpResponse &response) const override {
    if (response.status != 200 && response.status != 202)
      return http_error(response, Phase::Status);
    JobStatus status;
    status.state = JobStatus::State::Pending;
    status.provider_status = "pending";
    // 202 with an empty body is a plain "not yet".
    if (response.status == 202 && response.body.find_first_not_of(" \r\n\t") == std::string::npos)
      return status;
    auto answer = parse_answer(response, "job status");
    if (!answer.ok()) return answer.error();
    const json::NodePtr &root = answer.value();
    if (auto progress = json::number_at(root.get(), "progress"))
      status.progress = int(CLAMP(*progress, 0.0, 100.0));
    // A status that is there but not a word (7, null) is not "pending": it
    // is an answer we cannot read, as for every other provider.
    JsonNode *status_node = json::node_at(root.get(), "status");
    if (status_node && !(JSON_NODE_HOLDS_VALUE(status_node) &&
                         json_node_get_value_type(status_node) == G_TYPE_STRING))
      return Error::protocol("xai sent a job status that is not a word", response.status);
    std::string word = json::string_at(root.get(), "status");
    if (!word.empty()) status.provider_status = word;
    // 1e10 ticks are one US dollar.
    if (auto ticks = json::number_at(root.get(), "usage.cost_in_usd_ticks"))
      if (*ticks >= 0) status.cost_usd = *ticks / 1e10;
    auto state = state_of(word, kStatusWords, response.status);
    if (!state.ok()) return state.error();
    status.state = *state;
    if (status.state == JobStatus::State::Completed) {
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
      status.outputs.push_back({url, "video/mp4", {}});
      if (auto seconds = json::number_at(root.get(), "video.duration"))
        if (*seconds > 0) status.video_duration_s = *seconds;
    } else if (status.state == JobStatus::State::Failed) {
      status.detail = json::error_message(root.get());
    } else if (status.state == JobStatus::State::Pending && status.progress > 0) {
      status.state = JobStatus::State::Running;
    }
    return status;
  }

 private:
  Result<Submitted> finished_images(JsonNode *data, const HttpResponse &response) const {
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
