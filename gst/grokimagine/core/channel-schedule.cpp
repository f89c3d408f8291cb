// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-schedule.h"

#include <glib.h>

#include <algorithm>
#include <cstdio>

namespace grokimagine {

bool ChannelSchedule::add(const std::string &prompt, std::optional<std::uint64_t> cue) {
  if (ended_ || prompt.find_first_not_of(" \t\r\n") == std::string::npos) return false;
  ScheduledClip clip;
  clip.index = int(clips_.size());
  clip.prompt = prompt;
  clip.cue = cue;
  clips_.push_back(std::move(clip));
  return true;
}

static bool settled(const ScheduledClip &clip) {
  return clip.state == ScheduledClip::State::Played || clip.state == ScheduledClip::State::Failed;
}

std::optional<std::size_t> ChannelSchedule::upcoming() const {
  // Played and Failed are final: the clips before the first unsettled one
  // stay settled, so a channel running for days looks at each clip once.
  while (first_unsettled_ < clips_.size() && settled(clips_[first_unsettled_])) first_unsettled_++;
  if (first_unsettled_ == clips_.size()) return std::nullopt;
  return first_unsettled_;
}

std::size_t ChannelSchedule::unplayed() const {
  const auto first = upcoming();
  if (!first) return 0;
  return std::size_t(std::count_if(clips_.begin() + std::ptrdiff_t(*first), clips_.end(),
                                   [](const ScheduledClip &clip) { return !settled(clip); }));
}

std::vector<int> ChannelSchedule::to_start() {
  std::vector<int> started;
  auto first = upcoming();
  if (!first) return started;
  // The upcoming clip plus `lookahead` after it.
  const std::size_t last = std::min(clips_.size(), *first + 1 + lookahead_);
  for (std::size_t i = *first; i < last; i++) {
    if (chained_ && i > 0) {
      // Continues the clip before it: only once that one's result is
      // whole (or it failed, and this one continues an earlier one).
      const ScheduledClip &before = clips_[i - 1];
      const bool settled = before.whole || before.state == ScheduledClip::State::Failed ||
                           before.state == ScheduledClip::State::Played;
      if (!settled) break;
    }
    if (clips_[i].state == ScheduledClip::State::Waiting) {
      clips_[i].state = ScheduledClip::State::Generating;
      started.push_back(int(i));
    }
  }
  return started;
}

void ChannelSchedule::ready(int index) {
  ScheduledClip &clip = clips_.at(std::size_t(index));
  if (clip.state == ScheduledClip::State::Generating) clip.state = ScheduledClip::State::Ready;
}

void ChannelSchedule::failed(int index) {
  clips_.at(std::size_t(index)).state = ScheduledClip::State::Failed;
}

void ChannelSchedule::played(int index) {
  ScheduledClip &clip = clips_.at(std::size_t(index));
  if (clip.state != ScheduledClip::State::Failed) clip.state = ScheduledClip::State::Played;
}

void ChannelSchedule::whole(int index) {
  clips_.at(std::size_t(index)).whole = true;
}

std::optional<int> ChannelSchedule::continues(int index) const {
  for (int i = std::min(index, int(clips_.size())) - 1; i >= 0; i--)
    if (clips_[std::size_t(i)].whole &&
        clips_[std::size_t(i)].state != ScheduledClip::State::Failed)
      return i;
  return std::nullopt;
}

ChannelSchedule::Next ChannelSchedule::next(std::uint64_t position) {
  Next next;
  if (auto first = upcoming()) {
    const ScheduledClip &clip = clips_[*first];
    if (clip.cue && *clip.cue > position) {
      // Early for its cue: filler until then, whether or not it is ready.
      next.kind = Next::Kind::Filler;
      next.until = *clip.cue;
      next.awaited = int(*first);
      return next;
    }
    if (clip.state == ScheduledClip::State::Ready) {
      next.kind = Next::Kind::Clip;
      next.clip = int(*first);
      return next;
    }
    next.kind = Next::Kind::Filler;  // generating: it is coming
    next.awaited = int(*first);
    return next;
  }
  if (loop_) {
    // Replay what has played, in order, without paying for new jobs.
    for (std::size_t tried = 0; tried < clips_.size(); tried++) {
      const std::size_t i = (replay_cursor_ + tried) % clips_.size();
      if (clips_[i].state == ScheduledClip::State::Played) {
        replay_cursor_ = i + 1;
        next.kind = Next::Kind::Clip;
        next.clip = int(i);
        next.replay = true;
        return next;
      }
    }
  }
  if (!ended_) {
    next.kind = Next::Kind::Filler;  // more prompts may come
    next.starved = true;
  }
  return next;
}

FrameSize frame_size(const std::string &resolution, const std::string &aspect_ratio) {
  // "720p" -> 720; anything unparsable falls back to the providers' 480p.
  guint64 short_side = g_ascii_strtoull(resolution.c_str(), nullptr, 10);
  if (short_side == 0 || short_side > 4320) short_side = 480;
  int ratio_a = 16;
  int ratio_b = 9;
  if (std::sscanf(aspect_ratio.c_str(), "%d:%d", &ratio_a, &ratio_b) != 2 || ratio_a <= 0 ||
      ratio_b <= 0) {
    ratio_a = 16;
    ratio_b = 9;
  }
  const int short_px = static_cast<int>(short_side);
  // Square frames have no long side to round: keep them square.
  if (ratio_a == ratio_b) return {short_px, short_px};
  const int long_px = short_px * std::max(ratio_a, ratio_b) / std::min(ratio_a, ratio_b) / 16 * 16;
  return ratio_a > ratio_b ? FrameSize{long_px, short_px} : FrameSize{short_px, long_px};
}

std::optional<std::uint64_t> extension_input_start(const std::vector<std::uint64_t> &keyframes,
                                                   std::uint64_t played_from, std::uint64_t end,
                                                   std::uint64_t min_length,
                                                   std::uint64_t max_length) {
  // Timestamps come rounded to the nanosecond from different clocks (the
  // demuxer's timescale, the frame rate): a millisecond is "at".
  constexpr std::uint64_t kSlack = 1000000;
  std::optional<std::uint64_t> before, after;
  for (std::uint64_t keyframe : keyframes) {
    if (keyframe >= end) break;
    const std::uint64_t length = end - keyframe;
    if (length < min_length || length > max_length) continue;
    if (keyframe <= played_from + kSlack)
      before = keyframe;  // the last one at or before
    else if (!after)
      after = keyframe;  // the first one past: the longest input allowed
  }
  return before ? before : after;
}

}  // namespace grokimagine
