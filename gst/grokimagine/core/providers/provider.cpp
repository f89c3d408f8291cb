#include "provider.h"

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

Parsed<const Provider *> provider_from_environment() {
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
