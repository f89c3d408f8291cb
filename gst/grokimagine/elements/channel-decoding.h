// SPDX-License-Identifier: LGPL-2.1-or-later
// The channel's decoding, shared by its clips in turn, as playbin3 reuses
// its decoders from one item to the next: per stream kind, a bin
// "decoding-video" (or -audio) holding queue ! decoder ! convert !
// scale/resample ! capsfilter into the channel's fixed raw format, with a
// videorate before the capsfilter for a clip of another frame rate.
// A clip's parsed streams wait at its gates (pads of the clip's own) until
// the channel feeds the clip: then its samples go through the chain, and
// what comes out fills the clip's queues. Between two clips the chain is
// flushed, so that nothing of one clip (a frame in the decoder, the frame
// videorate holds) reaches the next: the seams stay exact, and no decoder,
// converter or thread is made per clip.
#pragma once

#include <gst/gst.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>

#include "core/gobject-ptr.h"
#include "stream-cut.h"

// What the channel's streaming thread waits on: whatever it reacts to (a
// clip's buffer or end or error, a job's news, a prompt, a state change, a
// stop) changes under `lock`, counts in `changes`, and notifies `wake`.
struct ChannelEvents {
  std::mutex lock;
  std::condition_variable wake;
  std::uint64_t changes = 0;  // under `lock`
  // The channel is stopping: every wait ends, clips take nothing more.
  bool stopping = false;  // under `lock`

  // Counts a change made under `held` (the lock), releases it, wakes.
  void changed(std::unique_lock<std::mutex> &held) {
    changes++;
    held.unlock();
    wake.notify_all();
  }
};

struct ChannelFormat {
  int width = 848;
  int height = 480;
  int fps_n = 24;
  int fps_d = 1;
  static constexpr int kRate = 48000;
  static constexpr int kChannels = 2;
  static constexpr int kBytesPerFrame = 2 * kChannels;  // S16LE interleaved

  GstCaps *video_caps() const;
  GstCaps *audio_caps() const;
};

// What a clip's threads share with the channel, under the events lock: its
// streams' decoded buffers, whether it is fed, its first error. Held by the
// clip, its pads and its bin (for messages), and by the decoding while it
// is fed, so that whichever goes last frees it.
struct ClipStreams {
  struct Stream {
    std::deque<GstBuffer *> queue;  // decoded, in the channel's format
    std::size_t limit;
    bool linked = false;   // the clip has this stream
    bool at_gate = false;  // a sample of it waits to be fed
    bool eos = false;      // its end came out of the decoding
    StreamCut cut;         // what comes before it does not play
  };
  ClipStreams(std::shared_ptr<ChannelEvents> events, GstClockTime skip)
      : events(std::move(events)),
        video{{}, 8, false, false, false, {skip, CutRule::kStartsBefore}},
        audio{{}, 32, false, false, false, {skip, CutRule::kEndsBefore}} {}
  ~ClipStreams() {
    for (Stream *stream : {&video, &audio})
      for (GstBuffer *buffer : stream->queue) gst_buffer_unref(buffer);
    if (error) gst_message_unref(error);
  }
  ClipStreams(const ClipStreams &) = delete;
  ClipStreams &operator=(const ClipStreams &) = delete;

  Stream &stream(bool is_video) { return is_video ? video : audio; }
  const Stream &stream(bool is_video) const { return is_video ? video : audio; }

  std::shared_ptr<ChannelEvents> events;
  // Pulled as fast as the channel plays: a few buffers ahead, then the
  // decoding waits.
  Stream video, audio;
  bool fed = false;       // its gates are open
  bool flushing = false;  // done with: nothing more is taken or fed
  GstMessage *error = nullptr;
};

class ChannelDecoding {
 public:
  // Adds the decoding bins to `channel` (made at start, in NULL: the
  // channel's state change brings them up).
  ChannelDecoding(GstBin *channel, std::shared_ptr<ChannelEvents> events,
                  const ChannelFormat &format);
  // To NULL and out of the channel. After every clip is gone.
  ~ChannelDecoding();
  ChannelDecoding(const ChannelDecoding &) = delete;
  ChannelDecoding &operator=(const ChannelDecoding &) = delete;

  // A pad (parentless, floating) for `clip`'s video or audio stream to
  // end in: what comes waits there (its streaming thread blocks) until the
  // clip is fed, then goes into the decoding.
  GstPad *make_gate(bool video, const std::shared_ptr<ClipStreams> &clip) const;

  // The channel's streaming thread: `clip` is fed from now on; what the
  // decoding holds of the clip before goes (flushed). Not under the events
  // lock.
  void feed(const std::shared_ptr<ClipStreams> &clip);

  // The clip being fed, when `message` comes from the decoding (a decoder's
  // error is its clip's); null otherwise, or when none is.
  static std::shared_ptr<ClipStreams> clip_of(GstMessage *message);

  struct Chain;  // one stream kind's (channel-decoding.cpp)

 private:
  std::shared_ptr<ChannelEvents> events_;
  grokimagine::GObjectPtr<GstBin> channel_;
  std::array<std::shared_ptr<Chain>, 2> chains_;  // audio, video
};
