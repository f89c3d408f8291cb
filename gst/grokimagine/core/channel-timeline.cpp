// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-timeline.h"

#include <gst/gst.h>

#include <algorithm>

namespace grokimagine {

std::uint64_t ChannelTimeline::frame_time(std::uint64_t frames) const {
  return gst_util_uint64_scale(frames, GST_SECOND * std::uint64_t(fps_d_), std::uint64_t(fps_n_));
}

std::uint64_t ChannelTimeline::sample_time(std::uint64_t samples) const {
  return gst_util_uint64_scale(samples, GST_SECOND, std::uint64_t(rate_));
}

std::uint64_t ChannelTimeline::samples_for_frames(std::uint64_t frames) const {
  return gst_util_uint64_scale(frames, std::uint64_t(rate_) * std::uint64_t(fps_d_),
                               std::uint64_t(fps_n_));
}

ChannelTimeline::Span ChannelTimeline::add_frame() {
  // Each frame's time from its index, not by adding durations: a rate like
  // 30000/1001 would otherwise drift by a nanosecond a frame.
  const std::uint64_t pts = frame_time(frames_);
  frames_++;
  return {pts, frame_time(frames_) - pts};
}

std::uint64_t ChannelTimeline::audio_missing() const {
  const std::uint64_t until = samples_for_frames(frames_);
  return until > samples_ ? until - samples_ : 0;
}

std::uint64_t ChannelTimeline::audio_to_take(std::uint64_t offered) const {
  return std::min(offered, audio_missing());
}

ChannelTimeline::Span ChannelTimeline::add_samples(std::uint64_t samples) {
  const std::uint64_t pts = sample_time(samples_);
  samples_ += samples;
  return {pts, sample_time(samples_) - pts};
}

std::uint64_t samples_before_cut(std::uint64_t pts, std::uint64_t from, int rate,
                                 std::uint64_t size) {
  if (pts >= from) return 0;
  return std::min(size, gst_util_uint64_scale_round(from - pts, std::uint64_t(rate), GST_SECOND));
}

}  // namespace grokimagine
