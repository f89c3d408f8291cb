// How many connections a download uses. Most users sit behind one access
// link that every connection shares: there, connections that start together
// split it while the decoder waits for the head of the clip, and more of
// them bring nothing. Where a CDN caps each connection instead, each one
// more raises the total. So a clip first comes over one connection (the
// bytes the decoder waits for get the whole link); once the first frame's
// bytes are here, one more connection at a time is tried (the probe) and
// kept only when the total rate rose with it: measured, not assumed.
// Pure: the download feeds it times and byte counts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace grokimagine {

class Widening {
 public:
  using Clock = std::chrono::steady_clock;

  // `connections`: the most the user allows (the `connections` property).
  explicit Widening(unsigned connections) : most_(connections) {}

  // Connections the download may keep busy now (parts for a seek ahead or
  // a moov at the end come on top).
  unsigned width() const { return width_; }
  bool settled() const { return settled_; }

  // The first connection's body began: its rate counts from here.
  void first_bytes(Clock::time_point now, std::uint64_t received);
  // The first frame's bytes are here: true when a probe should open (the
  // width is then one more).
  bool head_done();
  // The probe's first bytes came, `latency` after it was asked for: the
  // rate with it counts from here, over the window returned.
  std::chrono::milliseconds probe_answered(Clock::time_point now, std::uint64_t received,
                                           std::chrono::milliseconds latency);

  enum class Verdict {
    Widen,   // the probe paid: it stays and one more is tried (width() + 1)
    Enough,  // the probe paid and the width is the most allowed
    Drop,    // the probe did not pay: it goes (width() - 1), no more are tried
  };
  Verdict judge(Clock::time_point now, std::uint64_t received);
  // The two rates the last verdict compared, for the log.
  std::string rates() const;

  // The shortest window a probe is measured over (a few pacing ticks of a
  // shaped link, a few round trips of a real one: 3 latencies if longer).
  static constexpr std::chrono::milliseconds kMinWindow{150};
  static constexpr std::chrono::milliseconds kMaxWindow{1000};

 private:
  double rate_since(Clock::time_point now, std::uint64_t received) const;

  unsigned most_;
  unsigned width_ = 1;
  bool settled_ = false;
  Clock::time_point mark_time_;  // where the rate being measured began
  std::uint64_t mark_bytes_ = 0;
  double rate_before_ = -1;  // bytes/s without the probe (< 0: not measured yet)
  double rate_with_ = 0;     // bytes/s with it
  double compared_ = 0;      // the rate without it the last verdict compared with
};

}  // namespace grokimagine
