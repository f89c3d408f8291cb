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
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "channel-schedule.h"
#include "error.h"

namespace grokimagine {

// What covers a wait (the element's `filler`). Preview: a still of the
// awaited clip's prompt, made by the provider's image model with the clip
// (Hold until it is there).
enum class ChannelFiller { Hold, Black, Loop, Slate, Preview };
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
  // US dollars all clips may cost (0: no limit), what the price table
  // expects one clip to cost, and what was spent before this run.
  double budget_usd = 0;
  double clip_estimate_usd = 0;
  // filler=preview: what the still made with each clip is expected to cost.
  double preview_estimate_usd = 0;
  double spent_before_usd = 0;
  // Prompts queued and not yet played, at most (0: no limit).
  std::size_t max_queued = 0;
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
  // Filler: the clip the wait is for (its preview covers it); -1 for none.
  int awaited = -1;
};

// Files of played clips that may go (by clip index).
struct ChannelRelease {
  std::vector<int> results;  // a clip's whole result
  std::vector<int> inputs;   // the input an extension was made from
};

// Why a prompt is refused when `max_queued` prompts wait to play.
std::string queue_full(std::size_t max_queued);

class ChannelPlan {
 public:
  explicit ChannelPlan(const ChannelRules &rules);

  // ---- Events ----
  // Queues a prompt; why not (a few words, for a warning naming the
  // prompt) for an empty one, after the prompts' end, or past max_queued.
  std::optional<Error> add_prompt(const std::string &prompt,
                                  std::optional<std::uint64_t> cue = std::nullopt);
  void end_of_prompts() { schedule_.end_of_prompts(); }
  void clip_ready(int index) { schedule_.ready(index); }
  void clip_failed(int index) { schedule_.failed(index); }
  // Its result is whole on disk: the next clip may extend it.
  void clip_whole(int index) { schedule_.whole(index); }
  // Clip `index` has played (or been replayed): the files that may go.
  ChannelRelease clip_played(int index, bool replay);
  // What the provider reported clip `index` cost.
  void clip_cost(int index, double usd);
  // Clip `index`'s job was paid by an earlier run (resumed, or replayed
  // from the cache): it costs this run nothing.
  void clip_paid_before(int index);
  // filler=preview: what the still of clip `index` cost this run (0 when
  // it was paid before, or refused before its submit).
  void preview_cost(int index, double usd);

  // ---- Actions ----
  struct Start {
    int clip = -1;
    std::string prompt;
    std::optional<int> continues;  // continuity=extend: the clip it extends
  };
  // Clips whose jobs start now. A clip that would take what is committed
  // past the budget is not started, nor any after it: the budget is
  // reached, and no prompt is taken any more.
  std::vector<Start> to_start();
  // What to push at `position` (the timeline's end).
  ChannelStep next(std::uint64_t position);

  const ChannelSchedule &schedule() const { return schedule_; }
  const ChannelRules &rules() const { return rules_; }
  // The latest clip that played as itself (not a replay); -1 before any.
  int last_played() const { return last_played_; }
  bool budget_reached() const { return budget_reached_; }
  // What the clips started so far cost (with what was spent before): the
  // provider's figure for those that reported one, the expected cost for
  // those in flight.
  double committed_usd() const;

 private:
  struct ClipCost {
    std::optional<double> reported;
    bool paid_before = false;
    std::optional<double> preview;  // filler=preview: the still's cost, once known
  };
  // What a clip is expected to cost before it reports: the price table's
  // estimate, or more once a clip reported more (every clip is the same
  // job but for its prompt).
  double expected_clip_usd() const;
  // What each clip's still is expected to cost (filler=preview; else 0).
  double expected_preview_usd() const;

  ChannelRules rules_;
  ChannelSchedule schedule_;
  int last_played_ = -1;
  std::vector<int> kept_results_;    // played, kept while they may be extended
  std::map<int, ClipCost> started_;  // by clip index
  double highest_reported_usd_ = 0;
  bool budget_reached_ = false;
};

}  // namespace grokimagine
