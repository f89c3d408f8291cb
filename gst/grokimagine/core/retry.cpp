// SPDX-License-Identifier: LGPL-2.1-or-later
#include "retry.h"

#include <glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <optional>

namespace grokimagine {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kBackoffCap{30000};
// A server may ask for more than our own cap, but not for ever.
constexpr milliseconds kRetryAfterCap{60000};

// Retry-After is either delay-seconds or an HTTP date (RFC 9110 10.2.3).
std::optional<milliseconds> parse_retry_after(const std::string &value) {
  if (value.empty()) return std::nullopt;
  if (g_ascii_isdigit(value[0])) {
    gint64 seconds = g_ascii_strtoll(value.c_str(), nullptr, 10);
    if (seconds <= 0) return std::nullopt;
    return std::min(milliseconds(std::min<gint64>(seconds, G_MAXINT32) * 1000), kRetryAfterCap);
  }
  g_autoptr(GDateTime) when = soup_date_time_new_from_http_string(value.c_str());
  if (!when) return std::nullopt;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  const GTimeSpan us = g_date_time_difference(when, now);
  if (us <= 0) return std::nullopt;
  return std::min(milliseconds(us / 1000), kRetryAfterCap);
}

}  // namespace

bool http_status_is_transient(unsigned status) {
  return status == 0 || status == 429 || (status >= 500 && status <= 504 && status != 501);
}

ErrorKind media_status_kind(unsigned status) {
  if (status == 404 || status == 410) return ErrorKind::NotFound;
  if (status == 401 || status == 403) return ErrorKind::NotAuthorized;
  return http_status_is_transient(status) ? ErrorKind::Network : ErrorKind::Protocol;
}

RetryPolicy::RetryPolicy(const JobTiming &timing, Clock::time_point deadline)
    : timing_(timing), deadline_(deadline) {
  timing_.max_attempts = std::max(timing_.max_attempts, 1);
}

milliseconds RetryPolicy::request_timeout(Clock::time_point now) const {
  milliseconds limit = std::chrono::duration_cast<milliseconds>(timing_.request_timeout);
  if (deadline_ != kNoDeadline)
    limit = std::min(limit, std::chrono::duration_cast<milliseconds>(deadline_ - now));
  return std::max(limit, milliseconds(1));
}

milliseconds RetryPolicy::backoff(int failures, const std::string &retry_after) const {
  if (auto asked = parse_retry_after(retry_after)) return *asked;
  const int doublings = std::clamp(failures - 1, 0, 6);
  const milliseconds base = std::min(timing_.retry_backoff * (1 << doublings), kBackoffCap);
  return milliseconds(g_random_int_range(int(base.count() / 2), int(base.count()) + 1));
}

RetryPolicy::Decision RetryPolicy::after_failure(int failures, const std::string &retry_after,
                                                 Clock::time_point now) const {
  const milliseconds wait = backoff(failures, retry_after);
  if (deadline_ != kNoDeadline && now + wait >= deadline_)
    return {
        Verdict::OutOfTime, wait,
        "the timeout of " + std::to_string(timing_.timeout.count()) + " s ran out while retrying"};
  if (failures >= timing_.max_attempts)
    return {Verdict::OutOfAttempts, wait,
            "(gave up after " + std::to_string(failures) + " attempts)"};
  return {Verdict::Retry, wait, {}};
}

}  // namespace grokimagine
