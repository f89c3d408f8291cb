// SPDX-License-Identifier: LGPL-2.1-or-later
// One clip of a channel, inside the channel's bin: a bin "clip-N" holding
// its source (grokimaginesrc running its job, or filesrc replaying its
// file) ! parsebin, whose video and audio streams end in the clip's gates
// (ChannelDecoding): they wait there, the clip's thread blocked, until the
// channel feeds the clip to its decoding, whose output fills the clip's
// queues. Every change (a sample at a gate, a buffer decoded, a stream's
// end, an error, a fact of the job) happens under the channel's event lock
// and wakes it.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/gobject-ptr.h"
#include "channel-decoding.h"

// What a clip's job told the channel, typed (GrokImagineClipJob's calls,
// from its source's streaming thread), until the channel takes it.
class ClipJobFacts {
 public:
  explicit ClipJobFacts(std::shared_ptr<ChannelEvents> events) : events_(std::move(events)) {}

  void submitted(const std::string &request_id);
  void paid_before(const std::string &request_id);
  void cost(double usd, bool reported);
  void downloaded();

  // Under the events lock.
  const std::string &request_id() const { return request_id_; }
  // What happened since the last call.
  struct News {
    bool paid_before = false;    // an earlier run paid for the job
    std::optional<double> cost;  // what this run paid for it
    bool cost_reported = false;  // ... as the provider reported it
    bool downloaded = false;     // its whole result is on disk
  };
  News take_news() { return std::exchange(news_, News{}); }

 private:
  std::shared_ptr<ChannelEvents> events_;
  std::string request_id_;
  News news_;
};

class ChannelClip {
 public:
  // Adds the clip to `channel` and starts it: its job, its parsing, up to
  // its gates in `decoding`. `source` reads the clip (grokimaginesrc
  // running its job, whose calls land in `facts`, or filesrc replaying it:
  // no facts); the clip takes ownership. What comes before `skip` is not
  // played (an extension's input: it has played).
  ChannelClip(GstBin *channel, std::shared_ptr<ChannelEvents> events, int index, std::string prompt,
              GstElement *source, const ChannelDecoding &decoding, GstClockTime skip,
              std::shared_ptr<ClipJobFacts> facts);
  // Flushed, to NULL and out of the channel, promptly. Not under the
  // events lock: the clip's threads take it to end.
  ~ChannelClip();
  ChannelClip(const ChannelClip &) = delete;
  ChannelClip &operator=(const ChannelClip &) = delete;

  int index() const { return index_; }
  const std::string &prompt() const { return prompt_; }
  GstElement *source() const { return source_; }
  const std::shared_ptr<ClipJobFacts> &facts() const { return facts_; }
  // The clip's duration as its demuxer knows it; CLOCK_TIME_NONE if not.
  GstClockTime duration() const;

  // What `decoding` decodes from now on (the clip about to play).
  void feed(ChannelDecoding &decoding) const { decoding.feed(streams_); }

  // ---- Under the events lock ----
  // Its first sample waits to be fed: the clip can start without a wait.
  bool ready() const;
  // The first error from inside the clip (its job's, or its decoding's).
  GstMessage *error() const;
  bool has_audio() const;
  // The next buffer of a stream (owned), or null: none yet, or the stream
  // ended(). Taking makes room: wake the clip (ChannelEvents::changed).
  GstBuffer *take(bool video);
  bool waiting(bool video) const;  // a buffer can be taken
  bool ended(bool video) const;    // none will come

  // Whether `message` comes from inside a clip, or from the decoding of
  // the clip being fed; an error is then kept as the clip's error() (the
  // first one) and the channel woken. For the channel's
  // GstBin::handle_message.
  static bool from_clip(GstMessage *message);

 private:
  static void on_pad_added(GstElement *parser, GstPad *pad, ChannelClip *self);

  int index_;
  std::string prompt_;
  std::shared_ptr<ChannelEvents> events_;
  std::shared_ptr<ClipStreams> streams_;
  grokimagine::GObjectPtr<GstBin> channel_;
  GstElement *bin_;     // owned by the channel while the clip lives
  GstElement *source_;  // owned by bin_
  grokimagine::GObjectPtr<GstPad> video_pad_, audio_pad_;  // its gates
  std::shared_ptr<ClipJobFacts> facts_;
};

// The lengths of input video the provider extends.
struct ExtensionInputLimits {
  GstClockTime min_length;
  GstClockTime max_length;
};

// continuity=extend: writes to `dest` the end of the MP4 at `source` that the
// next clip extends, from the keyframe extension_input_start() picks for
// `played_from` (where what played of `source` starts): its H.264 and AAC
// samples copied into a new MP4, not re-encoded. Gives the new file's
// length; `cancellable` cuts the work short (a state change to NULL).
grokimagine::Result<GstClockTime> write_extension_input(const std::string &source,
                                                        GstClockTime played_from,
                                                        const ExtensionInputLimits &limits,
                                                        const std::string &dest,
                                                        GCancellable *cancellable);

// mp4mux stamps its header boxes with the time of writing, so the same
// samples remuxed a second later make other bytes: the journal would take
// the extension they go into for another job, and a rerun would pay for it
// again. Zeroes those times in the MP4 at `path`; why not, if it cannot.
std::optional<grokimagine::Error> clear_mp4_times(const std::string &path);
