// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pacing.h"

#include <algorithm>

#include "cancellable.h"
#include "log.h"

namespace grokimagine {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Slots a little wider than the published rate: a request sent a few
// milliseconds late must not make the next one arrive early.
constexpr double kRateMargin = 1.05;

// The spacing of `requests_per_second`'s slots (0: none).
milliseconds spacing_of(double requests_per_second) {
  return requests_per_second > 0
             ? duration_cast<milliseconds>(std::chrono::duration<double, std::milli>(
                   1000 * kRateMargin / requests_per_second))
             : milliseconds(0);
}

}  // namespace

RequestPacer &RequestPacer::instance() {
  static RequestPacer budget;
  return budget;
}

std::string RequestPacer::bucket(const Provider &provider, const Endpoint &endpoint) {
  g_autofree gchar *key_hash =
      g_compute_checksum_for_string(G_CHECKSUM_SHA256, endpoint.api_key.c_str(), -1);
  return std::string(provider.name()) + " " + endpoint.api_url + " " + key_hash;
}

milliseconds RequestPacer::reserve(const std::string &bucket, double requests_per_second) {
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  auto &next_free = next_free_[bucket];
  const auto slot = std::max(now, next_free);
  // Without a published rate only a hold-off (a 429) spaces requests.
  next_free = slot + spacing_of(requests_per_second);
  return duration_cast<milliseconds>(slot - now);
}

bool RequestPacer::wait_turn(const std::string &bucket, double requests_per_second,
                             GCancellable *cancellable, SharedSchedule *shared) {
  std::optional<milliseconds> shared_wait;
  if (shared) {
    auto slot = shared->reserve_slot(bucket, spacing_of(requests_per_second));
    if (slot.ok())
      shared_wait = *slot;
    else
      GST_CAT_WARNING(grokimagine_core_debug,
                      "the fleet's request schedule is out of reach (%s): pacing this "
                      "process alone",
                      slot.error().message.c_str());
  }
  const milliseconds wait = shared_wait ? *shared_wait : reserve(bucket, requests_per_second);
  return wait.count() <= 0 ? !g_cancellable_is_cancelled(cancellable)
                           : sleep_cancellable(cancellable, wait);
}

void RequestPacer::hold_off(const std::string &bucket, Clock::time_point until,
                            SharedSchedule *shared) {
  if (shared) shared->hold_off(bucket, duration_cast<milliseconds>(until - Clock::now()));
  std::lock_guard<std::mutex> lock(mutex_);
  auto &next_free = next_free_[bucket];
  next_free = std::max(next_free, until);
}

PollSchedule::PollSchedule(const Provider &provider, milliseconds fixed, Clock::time_point start)
    : provider_(provider), fixed_(fixed), start_(start) {}

void PollSchedule::observe(const JobStatus &status, Clock::time_point now) {
  if (status.progress <= 0 || status.progress >= 100) return;
  const Sample sample{now, status.progress};
  if (!first_progress_) first_progress_ = sample;
  if (!last_progress_ || sample.progress > last_progress_->progress) last_progress_ = sample;
}

milliseconds PollSchedule::next_delay(Clock::time_point now) const {
  if (fixed_.count() > 0) return fixed_;
  PollState state{duration_cast<milliseconds>(now - start_), std::nullopt};
  // The rate from two readings, not from the submit: time spent queued at
  // progress 0 would make the job look slower than it is.
  if (first_progress_ && last_progress_ && last_progress_->progress > first_progress_->progress) {
    const double ms_per_percent =
        double(duration_cast<milliseconds>(last_progress_->when - first_progress_->when).count()) /
        (last_progress_->progress - first_progress_->progress);
    const auto finish = last_progress_->when +
                        milliseconds(gint64(ms_per_percent * (100 - last_progress_->progress)));
    state.remaining = std::max(milliseconds(0), duration_cast<milliseconds>(finish - now));
  }
  return provider_.poll_delay(state);
}

}  // namespace grokimagine
