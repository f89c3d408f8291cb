// SPDX-License-Identifier: LGPL-2.1-or-later
#include "provider.h"

#include <algorithm>

#include "../json.h"

namespace grokimagine {

const Provider &segmind_provider();
const Provider &xai_provider();
const Provider &aimlapi_provider();
const Provider &reapi_provider();

const std::vector<const Provider *> &all_providers() {
  static const std::vector<const Provider *> table = {
      &xai_provider(),
      &segmind_provider(),
      &aimlapi_provider(),
      &reapi_provider(),
  };
  return table;
}

const std::vector<std::string> &grok_aspect_ratios() {
  static const std::vector<std::string> ratios = {"16:9", "9:16", "1:1", "4:3",
                                                  "3:4",  "3:2",  "2:3"};
  return ratios;
}

std::vector<ProviderLimits> default_video_limits() {
  std::vector<ProviderLimits> all;
  for (const Provider *provider : all_providers()) {
    const char *model = provider->default_model(MediaKind::Video);
    if (!model || !*model) continue;
    Request request;
    request.kind = MediaKind::Video;
    request.model = model;
    all.push_back({provider, provider->video_limits(request)});
  }
  return all;
}

std::string providers_that(const std::function<bool(const VideoLimits &)> &can, const char *last) {
  std::vector<std::string> names;
  for (const auto &[provider, limits] : default_video_limits())
    if (can(limits)) names.push_back(provider->name());
  return listed(names, last);
}

std::string listed(const std::vector<std::string> &words, const char *last) {
  std::string text;
  for (size_t i = 0; i < words.size(); i++)
    text += (i == 0 ? "" : i + 1 == words.size() ? last : ", ") + words[i];
  return text;
}

std::vector<DurationRange> duration_ranges() {
  std::vector<DurationRange> ranges;
  for (const Provider *provider : all_providers()) {
    // A pair, not a structured binding: a lambda may not capture one in C++17.
    const std::pair<int, int> seconds = provider->duration_range(Request{});
    auto same = std::find_if(ranges.begin(), ranges.end(), [&seconds](const DurationRange &range) {
      return range.min_s == seconds.first && range.max_s == seconds.second;
    });
    if (same == ranges.end())
      ranges.push_back({provider->name(), seconds.first, seconds.second});
    else
      same->providers += std::string(", ") + provider->name();
  }
  return ranges;
}

std::string describe_durations(const std::vector<DurationRange> &ranges, const char *unit) {
  std::string text;
  for (const DurationRange &range : ranges)
    text += (text.empty() ? "" : "; ") + range.providers + ": " + std::to_string(range.min_s) +
            " to " + std::to_string(range.max_s) + unit;
  return text;
}

std::optional<Error> Provider::check_prompt(const std::string &prompt,
                                            const std::string &what) const {
  constexpr std::size_t kUndocumentedMaxBytes = 4096;
  if (const auto limit = max_prompt_chars()) {
    const auto chars = std::size_t(g_utf8_strlen(prompt.c_str(), glong(prompt.size())));
    if (chars > *limit)
      return invalid_setting(what + " has " + std::to_string(chars) + " characters: " + name() +
                             " allows at most " + std::to_string(*limit) + ".");
  } else if (prompt.size() > kUndocumentedMaxBytes) {
    return invalid_setting(what + " has " + std::to_string(prompt.size()) + " bytes: at most " +
                           std::to_string(kUndocumentedMaxBytes) + " are sent to " + name() + ".");
  }
  return std::nullopt;
}

std::string Provider::api_url_env() const {
  g_autofree gchar *upper = g_ascii_strup(name(), -1);
  return std::string("GROKIMAGINE_") + upper + "_API_URL";
}

std::string Provider::api_url() const {
  const char *chosen = g_getenv(api_url_env().c_str());
  return chosen && *chosen ? chosen : default_api_url();
}

Result<const Provider *> provider_from_environment() {
  std::vector<const Provider *> found;
  std::string variables;
  for (const Provider *provider : all_providers()) {
    variables += (variables.empty() ? "" : ", ") + std::string(provider->key_env());
    const char *key = g_getenv(provider->key_env());
    if (key && *key) found.push_back(provider);
  }
  if (found.size() == 1) return found.front();
  if (found.empty())
    return invalid_setting(
        "Property 'provider' is auto but no API key is in the environment: "
        "set one of " +
        variables + ", or choose a provider and set api-key.");
  std::string names;
  for (const Provider *provider : found)
    names += (names.empty() ? "" : ", ") + std::string(provider->key_env());
  return invalid_setting(
      "Property 'provider' is auto but several API keys are in the "
      "environment (" +
      names + "): choose one with the provider property.");
}

Headers Provider::bearer_headers(const Endpoint &endpoint) {
  return {{"Authorization", "Bearer " + endpoint.api_key}, {"Accept", "application/json"}};
}

HttpRequest Provider::bearer_request(const Endpoint &endpoint, const std::string &path,
                                     const char *method) {
  return {method, endpoint.api_url + path, bearer_headers(endpoint), {}};
}

HttpRequest Provider::bearer_post(const Endpoint &endpoint, const std::string &path,
                                  JsonBuilder *body) {
  json_builder_end_object(body);
  return {"POST", endpoint.api_url + path, bearer_headers(endpoint), json::to_string(body)};
}

JsonBuilder *Provider::begin_job_body(const Request &request) {
  JsonBuilder *body = json_builder_new();
  json_builder_begin_object(body);
  json::add_member(body, "model", request.model);
  if (!request.prompt.empty()) json::add_member(body, "prompt", request.prompt);
  return body;
}

Error Provider::unknown_status(const std::string &word, unsigned http_status) const {
  return Error::protocol(std::string(name()) + " sent an unknown job status '" + word + "'",
                         http_status);
}

Result<JobStatus::State> Provider::state_of(const std::string &word, const StatusWords &words,
                                            unsigned http_status) const {
  for (const auto &[known, state] : words)
    if (word == known) return state;
  return unknown_status(word, http_status);
}

Result<json::NodePtr> Provider::parse_answer(const HttpResponse &response, const char *what) const {
  auto root = json::parse_object(response.body);
  if (!root.ok())
    return Error::protocol(
        std::string(name()) + " sent an unreadable " + what + " (" + root.error().message + ")",
        response.status);
  return root;
}

std::string Provider::path_segment(const std::string &id) {
  g_autofree gchar *escaped = g_uri_escape_string(id.c_str(), nullptr, FALSE);
  return escaped;
}

Result<Submitted> Provider::submitted_id(const HttpResponse &response, const char *member) const {
  auto root = json::parse_object(response.body);
  std::string id = root.ok() ? json::string_at(root->get(), member) : "";
  if (id.empty())
    return Error::protocol(
        std::string(name()) + " accepted the job but its answer names no " + member + " (" +
            (root.ok() ? std::string("no such member") : root.error().message) + ")",
        response.status);
  if (std::string problem = request_id_problem(id); !problem.empty())
    return Error::protocol(
        std::string(name()) + " accepted the job but its " + member + " cannot be used: " + problem,
        response.status);
  return Submitted{id, std::nullopt};
}

std::optional<Error> Provider::check_video(const Request &request,
                                           const VideoLimits &limits) const {
  const std::string who = name();
  const bool generate = request.operation == Operation::Generate;
  const std::string operation = operation_name(request.operation);
  if (!generate && !limits.extend_and_edit)
    return invalid_setting(
        "Property 'operation' is '" + operation + "': " + who +
        " only generates (operation=generate); extend and edit need provider=" +
        providers_that([](const VideoLimits &other) { return other.extend_and_edit; }) + ".");
  if (generate && !request.video.empty())
    return invalid_setting(
        "Property 'video' is set but 'operation' is generate: set operation=extend or "
        "operation=edit to use an input video, or unset 'video'.");
  if (!generate && request.video.empty())
    return invalid_setting("Property 'video' is empty: operation=" + operation +
                           " needs an input video (an http(s) URL, a local path, a file:// URI "
                           "or request:ID).");
  if (request.continuation_only && request.operation != Operation::Extend)
    return invalid_setting(
        "Property 'output' is 'continuation': only operation=extend makes a "
        "continuation; use output=full.");
  const bool blank_prompt = request.prompt.find_first_not_of(" \t\r\n") == std::string::npos;
  if (!generate && blank_prompt)
    return invalid_setting("Property 'prompt' is empty: operation=" + operation +
                           " needs a prompt saying what to do with the video.");
  if (!generate && (!request.image.empty() || !request.reference_images.empty() ||
                    !request.keyframes.empty() || !request.reference_audios.empty()))
    return invalid_setting(
        "Properties 'image', 'reference-images', 'keyframes' and "
        "'reference-audios' belong to operation=generate; operation=" +
        operation + " takes only 'video' and 'prompt'.");
  const size_t keyframes = request.keyframes.size();
  if (keyframes > 0 && limits.max_keyframes == 0)
    return invalid_setting(
        "Property 'keyframes': " + who + " with " + request.model +
        " takes no keyframes (provider=" +
        providers_that([](const VideoLimits &other) { return other.max_keyframes > 0; }) +
        " does).");
  if (keyframes > limits.max_keyframes)
    return invalid_setting("Property 'keyframes' has " + std::to_string(keyframes) + " entries: " +
                           who + " allows at most " + std::to_string(limits.max_keyframes) + ".");
  const size_t audios = request.reference_audios.size();
  if (audios > 0 && limits.max_reference_audios == 0)
    return invalid_setting("Property 'reference-audios': " + who + " with " + request.model +
                           " takes no reference audios (provider=xai with "
                           "grok-imagine-video-1.5 does).");
  if (audios > limits.max_reference_audios)
    return invalid_setting("Property 'reference-audios' has " + std::to_string(audios) +
                           " entries: " + who + " allows at most " +
                           std::to_string(limits.max_reference_audios) + ".");
  if (!request.generate_audio && !limits.audio_optional)
    return invalid_setting(
        "Property 'generate-audio' is false: " + who + " always makes audio (provider=" +
        providers_that([](const VideoLimits &other) { return other.audio_optional; }) +
        " can leave it out).");
  const bool has_images =
      !request.image.empty() || !request.reference_images.empty() || !request.keyframes.empty();
  if (generate && blank_prompt && !has_images)
    return invalid_setting(
        "Property 'prompt' is empty: text-to-video needs a prompt (or set 'image' for "
        "image-to-video).");
  if (auto error = check_range("duration", request.duration, limits.min_duration,
                               limits.max_duration, name()))
    return error;
  if (auto error = check_one_of("resolution", request.resolution, limits.resolutions,
                                std::string(name()) + " with " + request.model))
    return error;
  if (auto error = check_one_of("aspect-ratio", request.aspect_ratio, limits.aspect_ratios, name()))
    return error;
  const size_t references = request.reference_images.size();
  if (references > 0 && limits.max_references == 0) return no_reference_images();
  if (references > limits.max_references)
    return invalid_setting("Property 'reference-images' has " + std::to_string(references) +
                           " entries: " + name() + " allows at most " +
                           std::to_string(limits.max_references) + ".");
  if (references > 0 && !request.image.empty() && !limits.image_with_references)
    return invalid_setting(
        "Properties 'image' and 'reference-images' are both set: " + std::string(name()) +
        " takes either a first frame or reference images.");
  return std::nullopt;
}

Error Provider::no_reference_images() const {
  return invalid_setting(
      "Property 'reference-images': " + std::string(name()) +
      " takes no reference images; use 'image' for a first frame, or provider=" +
      providers_that([](const VideoLimits &other) { return other.max_references > 0; }) + ".");
}

std::optional<Error> Provider::check_model(const Request &request,
                                           const std::vector<std::string> &models) const {
  const char *kind = request.kind == MediaKind::Video ? "video" : "images";
  if (models.empty())
    return invalid_setting(std::string(name()) + " does not make " + kind +
                           ": choose another provider.");
  return check_one_of("model", request.model, models, std::string(name()) + " (" + kind + ")");
}

const Provider *find_provider(const std::string &name) {
  for (const Provider *provider : all_providers())
    if (name == provider->name()) return provider;
  return nullptr;
}

std::chrono::milliseconds Provider::poll_delay(const PollState &state) const {
  using std::chrono::milliseconds;
  if (state.remaining)
    return std::clamp(*state.remaining / 2, milliseconds(1000), milliseconds(15000));
  return std::min(milliseconds(1000) + state.elapsed / 10, milliseconds(5000));
}

Error Provider::http_error(const HttpResponse &response, Phase phase) const {
  const std::string words = json::error_message(response.body);
  const std::string status = "HTTP " + std::to_string(response.status);
  const std::string said = words.empty() ? status : status + ": " + words;
  Error error;
  error.http_status = response.status;
  switch (response.status) {
    case 401:
    case 403:
      error.kind = ErrorKind::NotAuthorized;
      error.message = std::string(name()) + " refused the API key (" + said +
                      "). Set the api-key property or the " + key_env() + " environment variable.";
      break;
    case 404:
      error.kind = ErrorKind::NotFound;
      error.message =
          phase == Phase::Submit
              ? std::string(name()) + " does not know this model or endpoint (" + said + ")."
              : std::string(name()) + " does not know this request: unknown or " + "expired (" +
                    said + ").";
      break;
    case 400:
    case 422:
      error.kind = ErrorKind::BadRequest;
      error.message = std::string(name()) + " refused the request (" + said + ").";
      break;
    case 406:
    case 402:
      error.kind = ErrorKind::InsufficientCredits;
      error.message = std::string(name()) + ": insufficient credits (" + said + ").";
      break;
    default:
      error.kind = (response.status == 429 || response.status >= 500) ? ErrorKind::Network
                                                                      : ErrorKind::Protocol;
      error.message = std::string(name()) + " answered " + said + ".";
      break;
  }
  return error;
}

}  // namespace grokimagine
