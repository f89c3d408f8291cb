// SPDX-License-Identifier: LGPL-2.1-or-later
// The timeline of a generative channel (grokimaginechannel), without
// GStreamer elements: video at one frame rate, audio at one sample rate,
// and how much of each the channel has pushed. After every frame the audio
// is brought to exactly where that frame ends (cut when a clip's audio
// reaches past it, silence when it falls short), so that neither stream runs
// ahead and every seam between clips is exact to a sample. All times are
// nanoseconds from the timeline's start.
#pragma once

#include <cstdint>

namespace grokimagine {

class ChannelTimeline {
 public:
  ChannelTimeline(int fps_n, int fps_d, int rate) : fps_n_(fps_n), fps_d_(fps_d), rate_(rate) {}

  // Where frame `frames` starts (the end of the one before it).
  std::uint64_t frame_time(std::uint64_t frames) const;
  // Where sample `samples` starts.
  std::uint64_t sample_time(std::uint64_t samples) const;
  // The audio sample at which the video's frame `frames` starts.
  std::uint64_t samples_for_frames(std::uint64_t frames) const;

  std::uint64_t frames() const { return frames_; }
  std::uint64_t samples() const { return samples_; }
  // Where the next frame goes: the end of what has been pushed.
  std::uint64_t position() const { return frame_time(frames_); }

  struct Span {
    std::uint64_t pts = 0;
    std::uint64_t duration = 0;
  };
  // Counts one frame pushed; where it goes.
  Span add_frame();

  // Audio of `offered` samples arrives for the frames pushed so far: how
  // many of them play now. What is left waits for the next frame (or, at
  // the end of a clip, is dropped).
  std::uint64_t audio_to_take(std::uint64_t offered) const;
  // The audio still missing under the frames pushed: silence fills it when
  // a clip has no more (or no) audio, and under filler.
  std::uint64_t audio_missing() const;
  // Counts `samples` of audio pushed; where they go.
  Span add_samples(std::uint64_t samples);

 private:
  int fps_n_;
  int fps_d_;
  int rate_;
  std::uint64_t frames_ = 0;
  std::uint64_t samples_ = 0;
};

// The audio cut at the start of a clip's own part (an extension's file
// begins with the input it extends, which has played): how many samples of
// a decoded buffer starting at `pts` come before `from`, rounded to the
// nearest sample; at most `size` (the whole buffer).
std::uint64_t samples_before_cut(std::uint64_t pts, std::uint64_t from, int rate,
                                 std::uint64_t size);

}  // namespace grokimagine
