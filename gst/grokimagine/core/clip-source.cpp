#include "clip-source.h"

namespace grokimagine {

std::optional<Error> ClipSource::prepare(const ClipSettings &settings) {
  settings_ = settings;
  provider_ = find_provider(settings.provider);
  if (!provider_)
    return invalid_setting("Property 'provider': unknown provider '" + settings.provider + "'");
  if (settings_.request.model.empty()) settings_.request.model = provider_->default_model();
  if (settings_.api_url.empty()) settings_.api_url = provider_->default_api_url();
  while (!settings_.api_url.empty() && settings_.api_url.back() == '/')
    settings_.api_url.pop_back();
  if (!g_str_has_prefix(settings_.api_url.c_str(), "http://") &&
      !g_str_has_prefix(settings_.api_url.c_str(), "https://"))
    return invalid_setting("Property 'api-url' is '" + settings_.api_url +
                           "': it must be an http:// or https:// URL");
  if (settings_.api_key.empty()) {
    const char *from_env = g_getenv(provider_->key_env());
    if (from_env) settings_.api_key = from_env;
  }
  if (settings_.api_key.empty())
    return Error{ErrorKind::NotAuthorized,
                 std::string("No API key for ") + provider_->name() +
                     ": set the api-key property or the " + provider_->key_env() +
                     " environment variable.",
                 {},
                 0};
  request_id_ = settings_.request_id;
  // A resumed job was validated when it was submitted; its settings may
  // not even be known any more.
  if (!request_id_.empty()) return std::nullopt;
  if (auto error = provider_->validate(settings_.request)) return error;
  Error error;
  auto image = resolve_image(settings_.request.image, &error);
  if (!image) return error;
  image_ = std::move(*image);
  return std::nullopt;
}

std::optional<Error> ClipSource::run(GCancellable *cancellable, const JobEvents &events) {
  Job job(*provider_, Endpoint{settings_.api_url, settings_.api_key}, settings_.timing);
  JobEvents tracked = events;
  tracked.submitted = [this, &events](const std::string &id) {
    request_id_ = id;
    if (events.submitted) events.submitted(id);
  };
  auto url = job.run(settings_.request, image_, request_id_, cancellable, tracked);
  if (auto *error = std::get_if<Error>(&url)) return *error;
  Error error;
  download_ = Download::start(std::get<std::string>(url), settings_.location, &error);
  if (!download_) return with_request_id(error, request_id_);
  return std::nullopt;
}

}  // namespace grokimagine
