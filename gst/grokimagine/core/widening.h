// SPDX-License-Identifier: LGPL-2.1-or-later
// How many connections a download uses. Most users sit behind one access
// link that every connection shares: there, connections that start together
// split it while the decoder waits for the head of the clip, and more of
// them bring nothing. Where a CDN caps each connection instead, each one
// more raises the total. So a clip first comes over one connection (the
// bytes the decoder waits for get the whole link); once the first frame's
// bytes are here, more connections are tried (the probes: three at once,
// then three times as many again: each step costs a round trip and a
// window, so the ramp takes one where doubling took two) and kept only as
// far as the total rate rose with them: measured, not assumed. Pure: the
// download feeds it times and byte counts.
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
  // How many of them are the probes on trial.
  unsigned probes() const { return width_ - before_; }
  bool settled() const { return settled_; }

  // The first connection's body began, `latency` after it was asked for:
  // its rate counts from here.
  void first_bytes(Clock::time_point now, std::uint64_t received,
                   std::chrono::milliseconds latency);
  // The first frame's bytes are here: true when probes should open (the
  // width is then larger).
  bool head_done(Clock::time_point now, std::uint64_t received);
  // The first frame's bytes are `left` short: true when probes should open
  // already, because a new connection's first byte (a round trip away, as
  // the first connection's was) would come after the head's last one at
  // the rate measured so far. So the probes begin as the head ends: it
  // keeps the whole link, and the round trip is not waited for after it.
  // Called as the head's bytes come, it is also what measures them: the
  // first call past the first burst (kBurst) moves the measure's start
  // there, and says false.
  bool head_ending(Clock::time_point now, std::uint64_t received, std::uint64_t left);
  // What one connection brings in one round trip, as last measured: the
  // lead a part that goes on has over a new one taking the rest, whose
  // first byte comes a round trip later (0 before any measure).
  std::uint64_t round_trip_bytes() const;
  // The probes' first bytes came, `latency` after they were asked for: the
  // rate with them counts from here. judge() may accept them after
  // early_window() and decides after window().
  void probes_answered(Clock::time_point now, std::uint64_t received,
                       std::chrono::milliseconds latency);
  std::chrono::milliseconds early_window() const;
  std::chrono::milliseconds window() const;

  enum class Verdict {
    Undecided,  // early: no gain yet, measuring on until window()
    Widen,      // the probes paid: they stay, and more are tried (width() grows)
    Enough,     // the probes paid and the width is the most allowed
    Some,       // some of them paid (a link that fills before them all): that
                // many stay (width() is smaller), the others go, no more tried
    Drop,       // the probes did not pay: they go (width() as before), no more tried
  };
  // `final`: the window is over (a probe that has not paid by then does not).
  Verdict judge(Clock::time_point now, std::uint64_t received, bool final);
  // The two rates the last verdict compared, for the log.
  std::string rates() const;

  // The shortest windows a step is measured over: a few pacing ticks of a
  // shaped link; half a round trip (early) or three (TCP's ramp) of a real
  // one. Early, only probes that bring most of what a per-connection cap
  // gives are kept: a short window may catch a shared link's burst (and a
  // shorter one, measured, missed the gain of a probe that had it).
  static constexpr std::chrono::milliseconds kMinEarlyWindow{50};
  // What comes in this long after a body begins may be a burst.
  static constexpr std::chrono::milliseconds kBurst{10};
  static constexpr std::chrono::milliseconds kMinWindow{150};
  static constexpr std::chrono::milliseconds kMaxWindow{1000};

 private:
  double rate_since(Clock::time_point now, std::uint64_t received) const;
  void step();
  // Each step multiplies the width by this, within the most allowed.
  static constexpr unsigned kStepFactor = 4;

  unsigned most_;
  unsigned width_ = 1;
  unsigned before_ = 1;  // the width before the probes on trial
  bool settled_ = false;
  bool past_burst_ = false;  // the head's rate counts from after its first burst
  std::chrono::milliseconds latency_{0};
  Clock::time_point mark_time_;  // where the rate being measured began
  std::uint64_t mark_bytes_ = 0;
  double rate_before_ = -1;    // bytes/s without the probes (< 0: not measured yet)
  double per_connection_ = 0;  // bytes/s of one connection, as last measured
  double rate_with_ = 0;       // bytes/s with them
  double compared_ = 0;        // the rate without them the last verdict compared with
};

}  // namespace grokimagine
