// SPDX-License-Identifier: LGPL-2.1-or-later
// A running grokimaginechannel: its plan and timeline, its clips inside the
// channel's bin, and what its streaming task does each step (play a clip,
// push a frame of filler, or wait for something to change). The element
// (grokimaginechannel.cpp) keeps the pads, the properties and the states.
#pragma once

#include <gst/gst.h>
#include <glib/gstdio.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channel-clip.h"
#include "channel-preview.h"
#include "channel-settings.h"
#include "core/channel-plan.h"
#include "core/channel-timeline.h"
#include "core/download.h"
#include "core/generation.h"
#include "core/gobject-ptr.h"
#include "job-properties.h"

// continuity=extend: the job of a clip that extends `video` (the end of the
// clip before it), of which only the new seconds play. What belongs to
// generating goes: an extension takes only the video and the prompt.
grokimagine::Request extension_request(grokimagine::Request request, const std::string &video);

// What the checks at start found out, for the run.
struct ChannelChecked {
  ExtensionInputLimits extension_limits{};  // continuity=extend: the inputs extended
  double preview_estimate_usd = 0;          // filler=preview: what a still should cost
};

// READY -> PAUSED, before anything is paid: the job's settings (prepared
// in `check`), the channel's, and what its continuity and filler ask of
// the provider.
std::optional<grokimagine::Error> check_channel(const ChannelSettings &settings,
                                                grokimagine::JobSettings job,
                                                grokimagine::Generation &check,
                                                ChannelChecked *checked);

// continuity=extend: the input of clip N's extension being written from
// clip `from`'s result, on a thread of its own, which wakes the channel
// when done.
struct ExtensionInputTask {
  // The input's length, once written.
  using Result = grokimagine::Result<GstClockTime>;
  int from = -1;
  grokimagine::GObjectPtr<GCancellable> cancelled =
      grokimagine::GObjectPtr<GCancellable>::adopt(g_cancellable_new());
  // Set, under the events lock, when the input is written (or failed).
  std::shared_ptr<std::optional<Result>> result = std::make_shared<std::optional<Result>>();
  std::thread writer;

  ExtensionInputTask() = default;
  ExtensionInputTask(const ExtensionInputTask &) = delete;
  ExtensionInputTask &operator=(const ExtensionInputTask &) = delete;
  ~ExtensionInputTask() {
    g_cancellable_cancel(cancelled.get());
    if (writer.joinable()) writer.join();
  }
};

// What exists while the channel runs: made at READY -> PAUSED, dropped at
// PAUSED -> READY once its streaming task is joined.
struct ChannelRun {
  // The channel, which owns this run, its clips' bins and its appsrcs.
  GstElement *element;
  GstElement *video_src, *audio_src;
  GrokImagineJobSettings &job_settings;  // the channel's spent-usd
  // What the streaming task waits on; its lock guards the plan, `playing`
  // and `clock_wait`.
  std::shared_ptr<ChannelEvents> events;
  // Cancelled by a stop: cuts what the streaming task waits for outside the
  // events (the slate's fetch and decode).
  grokimagine::GObjectPtr<GCancellable> stopped =
      grokimagine::GObjectPtr<GCancellable>::adopt(g_cancellable_new());
  bool pipeline_playing = false;    // in PLAYING: live pacing follows the clock
  GstClockID clock_wait = nullptr;  // a live wait in progress: a stop or a pause unschedules it
  std::uint64_t changes_seen = 0;   // the streaming task's: what it has looked at

  // What every clip's job is, but for its prompt (the channel's settings).
  grokimagine::JobSettings job;
  unsigned connections = grokimagine::Download::kDefaultConnections;
  grokimagine::ChannelPlan plan;  // shared with the text pad: under the events lock
  const grokimagine::Provider *provider = nullptr;  // one of all_providers(): never freed
  ChannelFormat format;
  // Decodes each clip as it plays (made with the format).
  std::unique_ptr<ChannelDecoding> decoding;
  std::map<int, std::unique_ptr<ChannelClip>> clips;  // generating or ready
  std::unique_ptr<ChannelClip> playing;  // moved under the lock: its facts are read there
  std::vector<std::unique_ptr<ChannelClip>> retired;  // done with, to tear down (retire())
  std::string clips_dir;  // each generated clip's file, for replays (loop)
  GstSegment text_segment;
  // What has been pushed, in frames and audio samples (its rates are set
  // with the format, at start).
  grokimagine::ChannelTimeline timeline{24, 1, ChannelFormat::kRate};
  GstClockTime live_base = GST_CLOCK_TIME_NONE;  // running time of the timeline's 0 (live)
  BufferPtr last_frame;                          // for filler=hold
  BufferPtr black;                               // filler=black (and before any frame)
  std::string slate_source;  // filler=slate: what `slate` names, loaded by the first step
  bool slate_tried = false;  // load_slate ran
  BufferPtr slate;           // filler=slate: the image, as a frame
  std::string slate_clip;    // ... or the clip, copied into clips_dir
  std::unique_ptr<ChannelClip> slate_next;  // the slate clip, ready for the next wait
  // filler=preview: the stills of clips being generated (kept until their
  // clip played and their job is over).
  std::map<int, std::unique_ptr<ChannelPreview>> previews;
  bool in_filler = false;
  GstClockTime filler_started = 0;
  // What covers the wait now (filler=preview: hold until the still is
  // there), and since when a still has shown (its pan starts there).
  grokimagine::ChannelFiller filler_kind = grokimagine::ChannelFiller::Hold;
  GstClockTime preview_since = 0;
  // continuity=extend: where each clip's own part starts in its file (after
  // the input it extends; absent: 0), and the lengths of input the provider
  // extends.
  std::map<int, GstClockTime> own_part_start;
  ExtensionInputLimits extension_limits{};
  std::map<int, ExtensionInputTask> preparing;  // clips whose input is being written

  ChannelRun(GstElement *channel, GstElement *video, GstElement *audio, GrokImagineJobSettings &job,
             std::shared_ptr<ChannelEvents> channel_events, const grokimagine::ChannelRules &rules)
      : element(channel),
        video_src(video),
        audio_src(audio),
        job_settings(job),
        events(std::move(channel_events)),
        plan(rules) {
    gst_segment_init(&text_segment, GST_FORMAT_TIME);
  }
  // The output format and the timeline's rates (the settings' size, else
  // the job's resolution and aspect ratio), and the decoding into it.
  void set_format(const ChannelSettings &settings, const grokimagine::JobSettings &job);
  ChannelRun(const ChannelRun &) = delete;
  ChannelRun &operator=(const ChannelRun &) = delete;
  // Not under the events lock: clips and writers take it to end.
  ~ChannelRun() {
    // The input writers first: they write into clips_dir.
    preparing.clear();
    previews.clear();
    retired.clear();
    clips.clear();
    playing.reset();
    slate_next.reset();
    decoding.reset();  // after its clips
    if (!clips_dir.empty()) {
      g_autoptr(GDir) dir = g_dir_open(clips_dir.c_str(), 0, nullptr);
      while (const gchar *name = dir ? g_dir_read_name(dir) : nullptr) {
        g_autofree gchar *path = g_build_filename(clips_dir.c_str(), name, nullptr);
        g_unlink(path);
      }
      g_rmdir(clips_dir.c_str());
    }
  }
};

// One step of the streaming task; false once the channel is over (EOS, a
// stop, an error that ends it).
bool channel_run_step(ChannelRun &run);

// The request id of a clip's job, once it has one. Under the events lock.
std::string clip_request_id(const ChannelClip &clip);
