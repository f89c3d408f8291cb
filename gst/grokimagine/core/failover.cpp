// SPDX-License-Identifier: LGPL-2.1-or-later
#include "failover.h"

#include <algorithm>

#include "log.h"

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

Result<Fallbacks> prepare_fallbacks(const JobSettings &settings, const Provider &primary) {
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
    auto error = check.prepare(fallback);
    if (error && settings.fallback_adapt && fallback.request.kind == MediaKind::Video) {
      // The one adaptation there is: the duration, into what this
      // provider makes (reapi: 6 to 30 s), when the user allowed it.
      const auto [shortest, longest] = find_provider(name)->duration_range(fallback.request);
      JobSettings adapted = fallback;
      adapted.request.duration = std::clamp(fallback.request.duration, shortest, longest);
      Generation retry;
      if (adapted.request.duration != fallback.request.duration && !retry.prepare(adapted)) {
        GST_CAT_INFO_ID(grokimagine_core_debug, log_id(settings.log_id),
                        "fallback %s: duration %d s -> %d s (fallback-adapt)", name.c_str(),
                        fallback.request.duration, adapted.request.duration);
        fallback = std::move(adapted);
        error.reset();
      }
    }
    if (error) {
      fallbacks.skipped.push_back(name + ": " + error->message);
      continue;
    }
    fallbacks.providers.push_back(std::move(fallback));
  }
  return fallbacks;
}

std::optional<Error> ProviderSequence::prepare(Generation &generation,
                                               const JobSettings &settings) {
  if (auto error = generation.prepare(settings)) return error;
  auto fallbacks = prepare_fallbacks(settings, generation.provider());
  if (auto *error = std::get_if<Error>(&fallbacks)) return *error;
  fallbacks_ = std::move(std::get<Fallbacks>(fallbacks));
  next_ = 0;
  return std::nullopt;
}

bool ProviderSequence::next(Generation &generation, const std::string &reason,
                            const std::string &request_id, const JobEvents &events) {
  if (next_ >= fallbacks_.providers.size()) return false;
  const std::string from = generation.provider().name();
  generation = Generation();
  // Prepared once already: only the environment could have changed since.
  if (auto error = generation.prepare(fallbacks_.providers[next_++])) return false;
  GST_CAT_INFO_ID(grokimagine_core_debug, log_id(generation.settings().log_id),
                  "failover: %s -> %s (%s)", from.c_str(), generation.provider().name(),
                  reason.c_str());
  if (events.failed_over)
    events.failed_over(JobEvents::Failover{from, generation.provider().name(), reason, request_id});
  return true;
}

std::optional<Error> ProviderSequence::run(Generation &generation,
                                           const std::function<std::optional<Error>()> &attempt,
                                           const JobEvents &events) {
  // A provider that failed a job lately is not tried first again.
  auto &cooldowns = ProviderCooldowns::instance();
  auto cooling = [&] {
    return cooldowns.left(generation.provider().name(), generation.settings().api_url,
                          ProviderCooldowns::Clock::now());
  };
  // Not for a job already under way (run again after a stop): it goes on.
  const bool fresh = generation.request_id().empty() && !generation.submit_in_flight();
  while (fresh && cooling().count() > 0 && next_ < fallbacks_.providers.size())
    next(generation,
         "cooling down for " + std::to_string((cooling().count() + 999) / 1000) +
             " s more after a failed job (failover-cooldown)",
         {}, events);
  while (true) {
    auto error = attempt();
    const bool kept = error && error->kind == ErrorKind::Moderated &&
                      !generation.settings().fallback_on_moderation;
    if (!error || kept || !allows_failover(*error) || next_ >= fallbacks_.providers.size())
      return error;
    const auto cooldown = generation.settings().failover_cooldown;
    if (cooldown.count() > 0)
      cooldowns.failed(generation.provider().name(), generation.settings().api_url,
                       ProviderCooldowns::Clock::now() + cooldown);
    if (!next(generation, error->message, error->request_id, events)) return error;
  }
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
