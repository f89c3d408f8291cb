#include "provider.h"

#include "../json.h"

namespace grokimagine {

const Provider &segmind_provider();

const std::vector<const Provider *> &all_providers() {
  static const std::vector<const Provider *> table = {
      &segmind_provider(),
  };
  return table;
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
