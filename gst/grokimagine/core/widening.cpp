#include "widening.h"

#include <algorithm>
#include <cstdio>

namespace grokimagine {

void Widening::first_bytes(Clock::time_point now, std::uint64_t received) {
  mark_time_ = now;
  mark_bytes_ = received;
}

bool Widening::head_done() {
  if (settled_ || width_ > 1) return false;
  if (most_ <= 1) {
    settled_ = true;
    return false;
  }
  width_ = 2;
  return true;
}

double Widening::rate_since(Clock::time_point now, std::uint64_t received) const {
  const double seconds = std::chrono::duration<double>(now - mark_time_).count();
  // Under a millisecond measures nothing: no rate to compare.
  return seconds < 0.001 ? 0 : double(received - mark_bytes_) / seconds;
}

std::chrono::milliseconds Widening::probe_answered(Clock::time_point now, std::uint64_t received,
                                                   std::chrono::milliseconds latency) {
  // The first probe compares with the first connection's rate up to now
  // (its round trip included: the first connection had the link alone
  // meanwhile); later ones with the rate the last verdict measured.
  if (rate_before_ < 0) rate_before_ = rate_since(now, received);
  mark_time_ = now;
  mark_bytes_ = received;
  return std::clamp(3 * latency, kMinWindow, kMaxWindow);
}

Widening::Verdict Widening::judge(Clock::time_point now, std::uint64_t received) {
  rate_with_ = rate_since(now, received);
  compared_ = rate_before_;
  // One more connection under per-connection caps gives width/(width-1)
  // times the rate; under one shared bottleneck, the same rate. It pays
  // when the gain is at least half the first.
  const double needed = 1.0 + 0.5 / double(width_ - 1);
  if (rate_before_ > 0 && rate_with_ >= rate_before_ * needed) {
    if (width_ >= most_) {
      settled_ = true;
      return Verdict::Enough;
    }
    rate_before_ = rate_with_;
    width_++;
    return Verdict::Widen;
  }
  width_--;
  settled_ = true;
  return Verdict::Drop;
}

std::string Widening::rates() const {
  char text[96];
  std::snprintf(text, sizeof text, "%.2f MB/s with it, %.2f MB/s without", rate_with_ / 1e6,
                std::max(compared_, 0.0) / 1e6);
  return text;
}

}  // namespace grokimagine
