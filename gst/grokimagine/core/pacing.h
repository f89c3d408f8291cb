// SPDX-License-Identifier: LGPL-2.1-or-later
// How often one job asks about its status, and how fast all jobs of one API
// key may ask anything at all. A provider's rate limit is per key, not per
// job: a hundred elements polling with one key must share it, or they trip
// it together (xAI allows about one request per second).
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "error.h"
#include "providers/provider.h"

namespace grokimagine {

// A request schedule that machines share (a store): each slot is reserved
// in one place, so that N processes together keep a key's rate.
class SharedSchedule {
 public:
  virtual ~SharedSchedule() = default;
  // Reserves `bucket`'s next slot, `spacing` after the one before (or now),
  // and says how long from now it is; an error when the store cannot say.
  virtual Result<std::chrono::milliseconds> reserve_slot(const std::string &bucket,
                                                         std::chrono::milliseconds spacing) = 0;
  // No slot of `bucket` before `delay` from now (a 429's Retry-After).
  virtual void hold_off(const std::string &bucket, std::chrono::milliseconds delay) = 0;
};

// The process-wide request pacing: every API request of every job waits for
// its key's next free slot. Media downloads (the CDN) are not budgeted.
// With a shared schedule the slots are the fleet's; when the store cannot
// say, this process's own spacing applies.
class RequestPacer {
 public:
  using Clock = std::chrono::steady_clock;

  static RequestPacer &instance();

  // The budget one provider, API host and key share. The key is hashed: the
  // table never holds the secret itself.
  static std::string bucket(const Provider &provider, const Endpoint &endpoint);

  // Reserves the bucket's next slot, `requests_per_second` apart (0: no
  // spacing), and waits for it. False when cancelled first.
  bool wait_turn(const std::string &bucket, double requests_per_second, GCancellable *cancellable,
                 SharedSchedule *shared = nullptr);
  // The provider answered 429 with Retry-After: no job of this bucket sends
  // before `until` (in the fleet too, with `shared`).
  void hold_off(const std::string &bucket, Clock::time_point until,
                SharedSchedule *shared = nullptr);

  // The wait a request of `bucket` reserved now would have (for tests).
  std::chrono::milliseconds reserve(const std::string &bucket, double requests_per_second);

 private:
  RequestPacer() = default;

  std::mutex mutex_;
  std::map<std::string, Clock::time_point> next_free_;
};

// When to poll next. Providers that report progress (xAI) are polled by how
// far from done the job looks: half the estimated remaining time, so polls
// thin out while far and tighten near the end. Others follow the provider's
// own schedule (Provider::poll_delay).
class PollSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  // `fixed`: the user's poll-interval; 0 follows the provider.
  PollSchedule(const Provider &provider, std::chrono::milliseconds fixed, Clock::time_point start);

  void observe(const JobStatus &status, Clock::time_point now);
  std::chrono::milliseconds next_delay(Clock::time_point now) const;

 private:
  struct Sample {
    Clock::time_point when;
    int progress;
  };

  const Provider &provider_;
  std::chrono::milliseconds fixed_;
  Clock::time_point start_;
  std::optional<Sample> first_progress_;
  std::optional<Sample> last_progress_;
};

}  // namespace grokimagine
