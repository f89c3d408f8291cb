// SPDX-License-Identifier: LGPL-2.1-or-later
// The one retry policy every request follows, API and media alike: how many
// attempts, how long to wait between them, how long one may take, and the
// deadline none may pass. Callers decide *whether* a failure may be retried
// (a submit only where the provider cannot have taken it, a POST whose answer
// is the clip never); the policy decides *when* and *until when*.
#pragma once

#include <chrono>
#include <string>

#include "error.h"

namespace grokimagine {

// How a job's requests are timed, from the job's properties (poll-interval,
// timeout, retries, retry-backoff, request-timeout).
struct JobTiming {
  // Fixed time between status requests; 0 follows the provider's schedule.
  std::chrono::milliseconds poll_interval{0};
  std::chrono::seconds timeout{900};             // overall deadline, from submit to video URL
  int max_attempts = 6;                          // per request, for transient failures
  std::chrono::milliseconds retry_backoff{500};  // before the first retry, then doubled
  std::chrono::seconds request_timeout{30};      // one API request, answer included
};

// An HTTP answer worth asking again for, by every request: none at all (0:
// the transport failed), 429 (rate limited) or a server error that may pass
// (500 to 504; 501 and 505 and up say the request will never work).
bool http_status_is_transient(unsigned status);
// What a media URL's (a clip's, an image's) HTTP error status means:
// 404/410 NotFound (the link expired), 401/403 NotAuthorized, transient
// ones Network, anything else Protocol.
ErrorKind media_status_kind(unsigned status);

class RetryPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

  // From the job's properties: `retries` (timing.max_attempts - 1),
  // `retry-backoff`, `request-timeout`; `deadline` is the job's overall one
  // where it applies (kNoDeadline for a CDN download, which the stall rule
  // and the attempt count bound instead).
  explicit RetryPolicy(const JobTiming &timing, Clock::time_point deadline = kNoDeadline);

  int max_attempts() const { return timing_.max_attempts; }
  Clock::time_point deadline() const { return deadline_; }
  const JobTiming &timing() const { return timing_; }

  // What one attempt may take: request-timeout, cut short by the deadline
  // (at least 1 ms, so that a passed deadline still fails the request).
  std::chrono::milliseconds request_timeout(Clock::time_point now = Clock::now()) const;

  // The wait before the retry that follows `failures` (>= 1) failed attempts
  // in a row: the server's Retry-After (seconds or an HTTP date, at most
  // 60 s) when it sent one, else retry-backoff doubled per failure, capped
  // at 30 s, jittered over its upper half so that many jobs failing together
  // do not retry in lockstep.
  std::chrono::milliseconds backoff(int failures, const std::string &retry_after) const;

  enum class Verdict { Retry, OutOfAttempts, OutOfTime };
  struct Decision {
    Verdict verdict;
    std::chrono::milliseconds wait;  // before the retry (also computed when giving up)
    // Why not, for the error message: "(gave up after 3 attempts)" or
    // "the timeout of 900 s ran out while retrying"; empty for Retry.
    std::string reason;
  };
  // After `failures` failed attempts in a row (a retryable failure each).
  Decision after_failure(int failures, const std::string &retry_after,
                         Clock::time_point now = Clock::now()) const;

 private:
  JobTiming timing_;
  Clock::time_point deadline_;
};

}  // namespace grokimagine
