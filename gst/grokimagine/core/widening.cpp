// SPDX-License-Identifier: LGPL-2.1-or-later
#include "widening.h"

#include <algorithm>
#include <cstdio>

namespace grokimagine {

void Widening::first_bytes(Clock::time_point now, std::uint64_t received,
                           std::chrono::milliseconds latency) {
  mark_time_ = now;
  mark_bytes_ = received;
  latency_ = latency;
}

std::uint64_t Widening::round_trip_bytes() const {
  return std::uint64_t(per_connection_ * std::chrono::duration<double>(latency_).count());
}

// Three probes per connection, within the most allowed: where the CDN caps
// each connection the ramp is one step (a round trip and an early window)
// where doubling took two; behind a shared link they are measured and let
// go all the same.
void Widening::step() {
  before_ = width_;
  width_ = std::min(most_, kStepFactor * width_);
}

bool Widening::head_done(Clock::time_point now, std::uint64_t received) {
  if (settled_ || width_ > 1) return false;
  per_connection_ = rate_since(now, received);
  if (most_ <= 1) {
    settled_ = true;
    return false;
  }
  step();
  return true;
}

bool Widening::head_ending(Clock::time_point now, std::uint64_t received, std::uint64_t left) {
  if (settled_ || width_ > 1 || latency_.count() <= 0) return false;
  // The first bytes may come as a burst (what a link buffered while the
  // request waited): the rate counts from a little after them, and over a
  // few pacing ticks at least.
  if (!past_burst_) {
    if (now - mark_time_ < kBurst) return false;
    past_burst_ = true;
    mark_time_ = now;
    mark_bytes_ = received;
    return false;
  }
  if (now - mark_time_ < kMinEarlyWindow / 2) return false;
  const double seconds = std::chrono::duration<double>(latency_).count();
  if (rate_since(now, received) * seconds < double(left)) return false;
  return head_done(now, received);
}

double Widening::rate_since(Clock::time_point now, std::uint64_t received) const {
  const double seconds = std::chrono::duration<double>(now - mark_time_).count();
  // Under a millisecond measures nothing: no rate to compare.
  return seconds < 0.001 ? 0 : double(received - mark_bytes_) / seconds;
}

void Widening::probes_answered(Clock::time_point now, std::uint64_t received,
                               std::chrono::milliseconds latency) {
  // The first probe compares with the first connection's rate up to now
  // (its round trip included: the first connection had the link alone
  // meanwhile); later ones with the rate the last verdict measured.
  if (rate_before_ < 0) rate_before_ = rate_since(now, received);
  latency_ = latency;
  mark_time_ = now;
  mark_bytes_ = received;
}

std::chrono::milliseconds Widening::early_window() const {
  return std::clamp(latency_ / 2, kMinEarlyWindow, kMaxWindow);
}

std::chrono::milliseconds Widening::window() const {
  return std::clamp(3 * latency_, kMinWindow, kMaxWindow);
}

Widening::Verdict Widening::judge(Clock::time_point now, std::uint64_t received, bool final) {
  rate_with_ = rate_since(now, received);
  compared_ = rate_before_;
  // Under per-connection caps the probes multiply the rate by width/before;
  // under one shared bottleneck they leave it as it was. They pay when they
  // bring at least half of that gain (early: most of it).
  const double needed = 1.0 + (final ? 0.5 : 0.8) * double(width_ - before_) / double(before_);
  if (rate_before_ > 0 && rate_with_ >= rate_before_ * needed) {
    per_connection_ = rate_with_ / width_;
    if (width_ >= most_) {
      settled_ = true;
      return Verdict::Enough;
    }
    rate_before_ = rate_with_;
    step();
    return Verdict::Widen;
  }
  if (!final) return Verdict::Undecided;
  settled_ = true;
  // A link that fills before every probe: as many connections as the rate
  // with them is worth at the rate of one before (two where it doubled).
  const double one = rate_before_ > 0 ? rate_before_ / before_ : 0;
  const auto worth = one > 0 ? unsigned(rate_with_ / one + 0.5) : 0u;
  if (worth > before_) {
    width_ = std::min(worth, width_);
    per_connection_ = rate_with_ / width_;
    return Verdict::Some;
  }
  per_connection_ = rate_with_ / before_;  // they only shared it
  width_ = before_;
  return Verdict::Drop;
}

std::string Widening::rates() const {
  char text[96];
  std::snprintf(text, sizeof text, "%.2f MB/s with them, %.2f MB/s without", rate_with_ / 1e6,
                std::max(compared_, 0.0) / 1e6);
  return text;
}

}  // namespace grokimagine
