// One clip of a channel: its own pipeline (grokimaginesrc, or filesrc for a
// clip replayed from disk, ! decodebin3) decoding into the channel's fixed
// raw formats, pulled sample by sample by the channel's worker. The job runs
// as soon as the pipeline starts (that is the lookahead), and the pipeline
// blocks once a few frames wait, so memory stays flat in the clip's length.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/gobject-ptr.h"
#include "stream-cut.h"

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

// What a clip's job told the channel, typed (GrokImagineClipJob's calls,
// from its source's streaming thread), until the channel's worker takes it.
class ClipJobFacts {
 public:
  void submitted(const std::string &request_id);
  void paid_before(const std::string &request_id);
  void cost(double usd, bool reported);
  void downloaded();

  std::string request_id() const;
  // What happened since the last call.
  struct News {
    bool paid_before = false;    // an earlier run paid for the job
    std::optional<double> cost;  // what this run paid for it
    bool cost_reported = false;  // ... as the provider reported it
    bool downloaded = false;     // its whole result is on disk
  };
  News take_news();

 private:
  mutable std::mutex lock_;
  std::string request_id_;
  News news_;
};

class ChannelClip {
 public:
  // `source` is the element that reads the clip (grokimaginesrc running
  // its job, whose calls land in `facts`, or filesrc replaying it: no
  // facts); the clip takes ownership. What comes before `skip` is not
  // played (an extension's input: it has played).
  ChannelClip(int index, std::string prompt, GstElement *source, const ChannelFormat &format,
              GstClockTime skip, std::shared_ptr<ClipJobFacts> facts);
  ~ChannelClip();  // to NULL, promptly
  ChannelClip(const ChannelClip &) = delete;
  ChannelClip &operator=(const ChannelClip &) = delete;

  int index() const { return index_; }
  const std::string &prompt() const { return prompt_; }
  GstElement *source() const { return source_; }
  const std::shared_ptr<ClipJobFacts> &facts() const { return facts_; }
  // The first frame is decoded: the clip can start without a wait.
  bool ready() const { return ready_; }

  // The clip's messages (errors, the job's bus messages), to be handled by
  // the channel; `handle` returns false to stop looking.
  void drain_messages(const std::function<void(GstMessage *)> &handle);

  // The next video frame or audio buffer; null at the end of that stream
  // or after `timeout` (check ended()). The caller owns the sample.
  GstSample *pull_video(GstClockTime timeout);
  GstSample *pull_audio(GstClockTime timeout);
  bool video_ended() const;
  bool audio_ended() const;
  // No audio stream in this clip (decodebin3 exposed only video).
  bool has_audio() const { return audio_linked_; }
  bool video_linked() const { return video_linked_; }
  // The clip's duration as the demuxer knows it; CLOCK_TIME_NONE if not.
  GstClockTime duration() const;

 private:
  static void on_pad_added(GstElement *decoder, GstPad *pad, ChannelClip *self);

  int index_;
  std::string prompt_;
  grokimagine::GObjectPtr<GstElement> pipeline_;
  GstElement *source_;  // owned by the pipeline
  GstElement *video_in_ = nullptr;
  GstElement *audio_in_ = nullptr;
  GstAppSink *video_sink_ = nullptr;
  GstAppSink *audio_sink_ = nullptr;
  std::atomic<bool> ready_{false};
  std::atomic<bool> video_linked_{false};
  std::atomic<bool> audio_linked_{false};
  StreamCut video_cut_, audio_cut_;  // what comes before `skip`
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
// samples copied into a new MP4, not re-encoded. Sets `length` to the new
// file's length. An error text when it cannot; `stopping` cuts the work
// short (a state change to NULL).
std::optional<std::string> write_extension_input(const std::string &source,
                                                 GstClockTime played_from,
                                                 const ExtensionInputLimits &limits,
                                                 const std::string &dest, GstClockTime *length,
                                                 const std::function<bool()> &stopping);

// mp4mux stamps its header boxes with the time of writing, so the same
// samples remuxed a second later make other bytes: the journal would take
// the extension they go into for another job, and a rerun would pay for it
// again. Zeroes those times in the MP4 at `path`; an error text if it
// cannot.
std::optional<std::string> clear_mp4_times(const std::string &path);
