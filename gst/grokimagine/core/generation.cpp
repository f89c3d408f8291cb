#include "generation.h"

#include "log.h"

namespace grokimagine {

namespace {

// The key must not cross a network in clear text: plain http is for
// loopback (the emulator, a local proxy) unless the user says otherwise.
std::optional<Error> check_transport(const JobSettings &settings) {
  if (!g_str_has_prefix(settings.api_url.c_str(), "http://") || settings.allow_insecure_http)
    return std::nullopt;
  g_autoptr(GUri) uri = g_uri_parse(settings.api_url.c_str(), G_URI_FLAGS_NONE, nullptr);
  const std::string host = uri && g_uri_get_host(uri) ? g_uri_get_host(uri) : "";
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host.c_str());
  if (host == "localhost" || (address && g_inet_address_get_is_loopback(address)))
    return std::nullopt;
  return invalid_setting("Property 'api-url' is '" + settings.api_url +
                         "': plain http to a remote host would send the API key unencrypted. "
                         "Use https, or set allow-insecure-http=true if you know why.");
}

}  // namespace

std::optional<Error> Generation::prepare(const JobSettings &settings) {
  init_logging();
  settings_ = settings;
  if (settings.provider == "auto") {
    auto found = provider_from_environment();
    if (auto *error = std::get_if<Error>(&found)) return *error;
    provider_ = std::get<const Provider *>(found);
  } else {
    provider_ = find_provider(settings.provider);
  }
  if (!provider_)
    return invalid_setting("Property 'provider': unknown provider '" + settings.provider + "'");
  Request &request = settings_.request;
  const char *default_model = provider_->default_model(request.kind);
  if (request.model.empty() && default_model) request.model = default_model;
  if (settings_.api_url.empty()) settings_.api_url = provider_->default_api_url();
  while (!settings_.api_url.empty() && settings_.api_url.back() == '/')
    settings_.api_url.pop_back();
  if (!g_str_has_prefix(settings_.api_url.c_str(), "http://") &&
      !g_str_has_prefix(settings_.api_url.c_str(), "https://"))
    return invalid_setting("Property 'api-url' is '" + settings_.api_url +
                           "': it must be an http:// or https:// URL");
  if (auto error = check_transport(settings_)) return error;
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
  if (!request_id_.empty() && answers_with_media())
    return invalid_setting("Property 'request-id' is set, but " + request.model + " on " +
                           provider_->name() + " is synchronous: there is no job to resume.");
  // A resumed job was validated when it was submitted; its settings may
  // not even be known any more.
  if (!request_id_.empty()) return std::nullopt;
  if (auto error = provider_->validate(request)) return error;
  Error error;
  auto inputs = resolve_inputs(request, &error);
  if (!inputs) return error;
  inputs_ = std::move(*inputs);
  return std::nullopt;
}

Parsed<std::vector<Output>> Generation::run(GCancellable *cancellable, const JobEvents &events) {
  Job job(*provider_, endpoint(), settings_.timing);
  JobEvents tracked = events;
  tracked.submitted = [this, &events](const std::string &id) {
    request_id_ = id;
    if (events.submitted) events.submitted(id);
  };
  return job.run(settings_.request, inputs_, request_id_, cancellable, tracked);
}

}  // namespace grokimagine
