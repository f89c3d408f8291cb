// SPDX-License-Identifier: LGPL-2.1-or-later
// The schedule of a generative channel (grokimaginechannel), without
// GStreamer: which prompts exist, which clips to generate now (lookahead),
// which clip plays next, where on the timeline, and when filler must cover
// a wait. The element feeds it events (a prompt queued, a clip ready, a clip
// failed, a clip played) and asks it what comes next; all times are
// nanoseconds of the channel's timeline (its running time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grokimagine {

struct ScheduledClip {
  enum class State { Waiting, Generating, Ready, Played, Failed };
  int index = 0;
  std::string prompt;
  // A cue: the clip should start at this time (a subtitle-like script).
  std::optional<std::uint64_t> cue;
  State state = State::Waiting;
  // Its result is whole on disk: a chained clip can continue it.
  bool whole = false;
};

class ChannelSchedule {
 public:
  // `lookahead`: clips generated ahead of the one playing; `loop`: replay
  // what has played once the prompts run out; `chained`: each clip continues
  // the one before it (an extension), so it starts only once every clip
  // before it has a whole result or has failed.
  ChannelSchedule(unsigned lookahead, bool loop, bool chained = false)
      : lookahead_(lookahead), loop_(loop), chained_(chained) {}

  // Appends a clip; false (and nothing added) for an empty prompt or after
  // the end of the prompts.
  bool add(const std::string &prompt, std::optional<std::uint64_t> cue = std::nullopt);
  // No prompt will come any more (the text pad's EOS, or the end of a
  // fixed playlist).
  void end_of_prompts() { ended_ = true; }
  bool prompts_ended() const { return ended_; }

  // Clips to start generating now: the next ones that are not yet, up to
  // `lookahead` past the one playing (or about to play). Marks them
  // Generating.
  std::vector<int> to_start();
  void ready(int index);
  void failed(int index);
  void played(int index);
  void whole(int index);
  // Chained: the clip `index` continues, the latest one before it with a
  // whole result; none when every one before it failed (or it is first).
  std::optional<int> continues(int index) const;

  struct Next {
    enum class Kind {
      Clip,    // play `clip` now
      Filler,  // cover until `until` (a cue), or until a clip is ready (`until` 0)
      End,     // nothing will come: end the stream
    };
    Kind kind = Kind::End;
    int clip = -1;
    std::uint64_t until = 0;
    bool replay = false;  // `clip` has played before (loop)
    // Filler because no clip is coming at all yet (no prompt left to play).
    bool starved = false;
    // Filler: the clip the wait is for (generating, or early for its cue);
    // -1 when none is coming yet.
    int awaited = -1;
  };
  // What to play at `position` (where the timeline is). Live channels and
  // cues cover a not-ready clip with filler; otherwise the caller waits for
  // it (Filler with until 0 means "wait or cover, the clip is coming").
  Next next(std::uint64_t position);

  const ScheduledClip &clip(int index) const { return clips_.at(std::size_t(index)); }
  std::size_t size() const { return clips_.size(); }
  // Clips neither played nor failed: what is queued.
  std::size_t unplayed() const;

 private:
  // The first clip not yet played, failed or replayed past.
  std::optional<std::size_t> upcoming() const;

  unsigned lookahead_;
  bool loop_;
  bool chained_;
  bool ended_ = false;
  std::vector<ScheduledClip> clips_;
  std::size_t replay_cursor_ = 0;            // the next played clip to replay (loop)
  mutable std::size_t first_unsettled_ = 0;  // every clip before it played or failed
};

// The default frame of a channel for a job's resolution and aspect ratio,
// as the providers make it: the short side is the resolution, the long
// side the short side times the ratio, rounded down to a multiple of 16
// (480p 16:9 -> 848x480, 9:16 -> 480x848, 1:1 -> 480x480).
struct FrameSize {
  int width;
  int height;
};
FrameSize frame_size(const std::string &resolution, const std::string &aspect_ratio);

// Where an extension's input starts in the result it continues (times in
// nanoseconds; `keyframes` in increasing order, `end` the result's end):
// the last keyframe at or before `played_from`, so that the input is what
// played of it (plus what precedes it back to a keyframe: samples are
// copied, not re-encoded); a later keyframe while that input would be
// longer than `max_length`. None when no keyframe makes an input of
// `min_length` to `max_length`.
std::optional<std::uint64_t> extension_input_start(const std::vector<std::uint64_t> &keyframes,
                                                   std::uint64_t played_from, std::uint64_t end,
                                                   std::uint64_t min_length,
                                                   std::uint64_t max_length);

}  // namespace grokimagine
