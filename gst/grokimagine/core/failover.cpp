#include "failover.h"

namespace grokimagine {

bool allows_failover(const Error &error) {
  if (error.maybe_billed) return false;
  // A job exists: only its own end (failed, moderated) says it will not be
  // billed for a clip; a poll that failed leaves a job that may still finish.
  if (!error.request_id.empty())
    return error.kind == ErrorKind::JobFailed || error.kind == ErrorKind::Moderated;
  switch (error.kind) {
    case ErrorKind::BadRequest:           // the provider refused the request as a whole
    case ErrorKind::NotAuthorized:        // its key is refused
    case ErrorKind::InsufficientCredits:  // out of credit
    case ErrorKind::Network:  // unreachable, or 429/503 until the retries gave up (not billed)
    case ErrorKind::JobFailed:
    case ErrorKind::Moderated:
      return true;
    case ErrorKind::InvalidSettings:
    case ErrorKind::NotFound:
    case ErrorKind::Expired:
    case ErrorKind::Timeout:
    case ErrorKind::Protocol:
    case ErrorKind::Io:
    case ErrorKind::Cancelled:
      return false;
  }
  return false;
}

Parsed<Fallbacks> prepare_fallbacks(const JobSettings &settings, const Provider &primary) {
  Fallbacks fallbacks;
  for (const std::string &name : settings.fallback_providers) {
    if (!find_provider(name)) {
      std::string names;
      for (const Provider *provider : all_providers())
        names += (names.empty() ? "" : ", ") + std::string(provider->name());
      return invalid_setting("Property 'fallback-providers' names '" + name +
                             "', which is not a provider (" + names + ").");
    }
    // Resuming one job: it is that job or nothing.
    if (!settings.request_id.empty()) continue;
    if (name == primary.name()) {
      fallbacks.skipped.push_back(name + ": it is the job's own provider");
      continue;
    }
    JobSettings fallback = settings;
    fallback.provider = name;
    fallback.api_key.clear();
    fallback.api_url.clear();
    fallback.fallback_providers.clear();
    Generation check;
    if (auto error = check.prepare(fallback)) {
      fallbacks.skipped.push_back(name + ": " + error->message);
      continue;
    }
    fallbacks.providers.push_back(std::move(fallback));
  }
  return fallbacks;
}

ProviderCooldowns &ProviderCooldowns::instance() {
  static ProviderCooldowns cooldowns;
  return cooldowns;
}

void ProviderCooldowns::failed(const std::string &provider, const std::string &api_url,
                               Clock::time_point until) {
  std::lock_guard<std::mutex> lock(mutex_);
  until_[provider + " " + api_url] = until;
}

std::chrono::milliseconds ProviderCooldowns::left(const std::string &provider,
                                                  const std::string &api_url,
                                                  Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = until_.find(provider + " " + api_url);
  if (found == until_.end() || found->second <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(found->second - now);
}

}  // namespace grokimagine
