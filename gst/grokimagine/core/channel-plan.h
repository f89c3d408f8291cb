// SPDX-License-Identifier: LGPL-2.1-or-later
// The decisions of a generative channel (grokimaginechannel), without
// GStreamer: events in (a prompt, a clip ready, failed, whole on disk,
// played; the prompts' end), actions out (start these clips, play clip N,
// a frame of filler of kind K, wait, end; release these files). It owns the
// schedule (ChannelSchedule: which clip plays when) and adds the rules the
// element used to hold: the budget over all clips, a playlist that runs dry
// ends, the choice between filler and replaying what played (filler=loop),
// and which clip files may go once played. The element keeps only what
// touches GStreamer: pushing, decoding, the clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "channel-schedule.h"

namespace grokimagine {

// What covers a wait (the element's `filler`).
enum class ChannelFiller { Hold, Black, Loop };
// How clips follow each other (the element's `continuity`).
enum class ChannelContinuity { None, LastFrame, Extend };

// What the user set that decides what plays.
struct ChannelRules {
  bool live = false;
  bool loop = false;
  ChannelFiller filler = ChannelFiller::Hold;
  ChannelContinuity continuity = ChannelContinuity::None;
  unsigned lookahead = 1;
  // Prompts can come after the playlist (the text pad is linked): running
  // dry is a wait, not the end.
  bool more_prompts_may_come = false;
};

struct ChannelStep {
  enum class Kind {
    Play,    // play `clip` (from its file when `replay`)
    Filler,  // one frame of `filler`, for `reason` ("cue" or "waiting")
    Wait,    // nothing to push until something happens (a clip is ready)
    End,     // nothing will ever come: end the stream
  };
  Kind kind = Kind::Wait;
  int clip = -1;
  bool replay = false;
  // Play: the replay covers a wait (filler=loop), so it begins filler.
  bool covers_wait = false;
  ChannelFiller filler = ChannelFiller::Hold;
  const char *reason = "";
};

// Files of played clips that may go (by clip index).
struct ChannelRelease {
  std::vector<int> results;  // a clip's whole result
  std::vector<int> inputs;   // the input an extension was made from
};

class ChannelPlan {
 public:
  explicit ChannelPlan(const ChannelRules &rules);

  // ---- Events ----
  bool add_prompt(const std::string &prompt, std::optional<std::uint64_t> cue = std::nullopt);
  void end_of_prompts() { schedule_.end_of_prompts(); }
  void clip_ready(int index) { schedule_.ready(index); }
  void clip_failed(int index) { schedule_.failed(index); }
  // Its result is whole on disk: the next clip may extend it.
  void clip_whole(int index) { schedule_.whole(index); }
  // Clip `index` has played (or been replayed): the files that may go.
  ChannelRelease clip_played(int index, bool replay);

  // ---- Actions ----
  struct Start {
    int clip = -1;
    std::string prompt;
    std::optional<int> continues;  // continuity=extend: the clip it extends
  };
  // Clips whose jobs start now.
  std::vector<Start> to_start();
  // What to push at `position` (the timeline's end).
  ChannelStep next(std::uint64_t position);

  const ChannelSchedule &schedule() const { return schedule_; }
  const ChannelRules &rules() const { return rules_; }
  // The latest clip that played as itself (not a replay); -1 before any.
  int last_played() const { return last_played_; }

 private:
  ChannelRules rules_;
  ChannelSchedule schedule_;
  int last_played_ = -1;
  std::vector<int> kept_results_;  // played, kept while they may be extended
};

}  // namespace grokimagine
