// SPDX-License-Identifier: LGPL-2.1-or-later
// Failover between providers: when a job may be had from the next provider
// in `fallback-providers`, and which providers are cooling down after a
// failure. Money first: a job moves on only when no job whose fate is
// unknown stays behind.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "generation.h"

namespace grokimagine {

// Whether the next provider may be tried after `error`: the submit was
// refused before any job existed (credit, key, the request as a whole,
// rate limits or the network once the retries gave up) or the job ended
// failed or moderated. Never after a submit that may have been accepted
// (maybe_billed: a timeout or a 5xx after the body left), nor for what
// another provider cannot change (settings, files, a stop), nor while a
// job exists that may still finish (a poll that failed).
bool allows_failover(const Error &error);

// The fallback providers of `settings` (after `primary`), each checked as
// its own job would be, with its own key and API URL from the environment
// (never the primary's): those that can take the job, in order, and those
// left out with why. An error for a name that is no provider.
struct Fallbacks {
  std::vector<JobSettings> providers;
  std::vector<std::string> skipped;
};
Result<Fallbacks> prepare_fallbacks(const JobSettings &settings, const Provider &primary);

// A job on its provider, then on each fallback in turn while its error
// allows it (allows_failover), each at most once, starting past providers
// that cool down: the loop every source runs its generation in.
class ProviderSequence {
 public:
  // Prepares `generation` for `settings` and checks the fallbacks (those
  // that cannot take the job are left out: skipped()).
  std::optional<Error> prepare(Generation &generation, const JobSettings &settings);
  const std::vector<std::string> &skipped() const { return fallbacks_.skipped; }

  // Runs `attempt` (the job on `generation`'s provider); when its error
  // allows, `generation` is prepared for the next fallback
  // (events.failed_over) and `attempt` runs again.
  std::optional<Error> run(Generation &generation,
                           const std::function<std::optional<Error>()> &attempt,
                           const JobEvents &events);

 private:
  // `generation` moves on to the next fallback: false when none is left.
  bool next(Generation &generation, const std::string &reason, const std::string &request_id,
            const JobEvents &events);

  Fallbacks fallbacks_;
  std::size_t next_ = 0;
};

// Providers that failed a job recently, for every element of the process:
// a job starts with the first of its providers that is not cooling down.
// Keyed by provider and API URL (an emulator or a proxy is another host).
class ProviderCooldowns {
 public:
  using Clock = std::chrono::steady_clock;
  static ProviderCooldowns &instance();

  void failed(const std::string &provider, const std::string &api_url, Clock::time_point until);
  // How long `provider` at `api_url` still cools down at `now` (zero: not).
  std::chrono::milliseconds left(const std::string &provider, const std::string &api_url,
                                 Clock::time_point now) const;

 private:
  ProviderCooldowns() = default;
  mutable std::mutex mutex_;
  std::map<std::string, Clock::time_point> until_;
};

}  // namespace grokimagine
