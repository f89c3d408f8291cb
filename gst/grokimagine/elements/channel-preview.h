// SPDX-License-Identifier: LGPL-2.1-or-later
// Stills on a channel's output: the operator's slate (filler=slate), and
// previews (filler=preview): while a clip is generating, a still of its
// prompt made by the provider's image model (seconds instead of minutes),
// shown with a slow pan until the clip is ready.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "buffer-ptr.h"
#include "channel-decoding.h"
#include "core/generation.h"

// Decodes the encoded image `data` (of `mime_type`) into one raw frame of
// `raw` caps (a fixed size, no framerate), scaled with its shape kept and
// black borders added. An error saying why on failure, after 10 s, or once
// `cancellable` (may be null) fires.
grokimagine::Result<BufferPtr> decode_still(const std::string &data, const std::string &mime_type,
                                            GstCaps *raw, GCancellable *cancellable);

// filler=preview: the job of clip's still: the channel's settings (its
// provider, key, journal, fallbacks) asking the image model for one image of
// `prompt` in the channel's aspect ratio. The channel keeps the budget, as
// for its clips.
grokimagine::JobSettings preview_settings(const grokimagine::JobSettings &channel,
                                          const std::string &prompt);

// The still of one clip, made on a thread of its own that wakes the
// channel when it is done (or failed). Dropping it cancels the job's waits
// (a submit that has left stays in the journal) and joins the thread.
class ChannelPreview {
 public:
  // What the thread leaves, under the events lock.
  struct Result {
    BufferPtr still;    // the frame to pan over (still_info); null on failure
    std::string error;  // why there is no still
    std::string request_id;
    double cost_usd = 0;  // what this run paid for it (0: paid before, or nothing sent)
  };

  ChannelPreview(std::shared_ptr<ChannelEvents> events, grokimagine::JobSettings settings,
                 const ChannelFormat &format);
  ~ChannelPreview();
  ChannelPreview(const ChannelPreview &) = delete;
  ChannelPreview &operator=(const ChannelPreview &) = delete;

  // ---- Under the events lock ----
  const std::optional<Result> &result() const { return *result_; }
  // Its result, once, to take note of (its cost, its message).
  bool noted() const { return noted_; }
  bool news() {
    if (!result_->has_value() || noted_) return false;
    noted_ = true;
    return true;
  }

  // One output frame of the still (result().still), `shown` into the
  // preview: a window of the output's size panning slowly across it. A
  // buffer of its own (from a pool: one is written per output frame).
  GstBuffer *frame(GstClockTime shown) const;

 private:
  std::shared_ptr<ChannelEvents> events_;
  GstVideoInfo still_info_{}, frame_info_{};
  grokimagine::GObjectPtr<GCancellable> cancellable_;
  grokimagine::GObjectPtr<GstBufferPool> frames_;  // of frame_info_
  std::shared_ptr<std::optional<Result>> result_ = std::make_shared<std::optional<Result>>();
  bool noted_ = false;
  std::thread maker_;
};
