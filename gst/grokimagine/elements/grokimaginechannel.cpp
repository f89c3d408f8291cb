/**
 * SECTION:element-grokimaginechannel
 * @title: grokimaginechannel
 *
 * A generative channel: a stream of prompts in, one continuous stream of raw
 * video and audio out, made of generated clips played one after another with
 * continuous timestamps. Prompts come from the `prompts` property, the
 * `queue-prompt` action signal and the always `text` sink pad (text/x-raw;
 * a timestamped buffer is a cue: its clip starts at that running time, a
 * gap before it covered by filler). Each clip is generated `lookahead` clips
 * ahead, scaled (letter/pillar-boxed) to `width`x`height` at `framerate`,
 * and its audio made 48 kHz stereo and exactly as long as its video, so the
 * seams are gapless and video and audio stay in sync. Live (`is-live`), the
 * stream never stops: `filler` covers a clip that is not ready in time.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 grokimaginechannel prompts="<A dog on a beach,A cat on a roof>" name=c \
 *   c.video ! queue ! x264enc ! mp4mux name=m ! filesink location=playlist.mp4 \
 *   c.audio ! queue ! audioconvert ! avenc_aac ! m.
 * gst-launch-1.0 filesrc location=story.srt ! subparse ! c.text \
 *   grokimaginechannel name=c c.video ! queue ! autovideosink c.audio ! queue ! autoaudiosink
 * ]|
 */
#include "grokimaginechannel.h"

#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "channel-clip.h"
#include "core/channel-plan.h"
#include "core/channel-timeline.h"
#include "core/download.h"
#include "core/prompt-list.h"
#include "core/generation.h"
#include "element-errors.h"
#include "grokimaginesrc.h"
#include "job-properties.h"

GST_DEBUG_CATEGORY_STATIC(grok_imagine_channel_debug);
#define GST_CAT_DEFAULT grok_imagine_channel_debug

using grokimagine::ChannelContinuity;
using grokimagine::ChannelFiller;
using grokimagine::ChannelStep;

enum {
  PROP_PROMPTS = GROK_IMAGINE_N_JOB_PROPERTIES,
  PROP_IS_LIVE,
  PROP_LOOP,
  PROP_LOOKAHEAD,
  PROP_FILLER,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FRAMERATE,
  PROP_CONTINUITY,
  PROP_CONNECTIONS,
  PROP_MAX_QUEUED,
};

enum { SIGNAL_QUEUE_PROMPT, N_SIGNALS };
static guint channel_signals[N_SIGNALS];

namespace {

// continuity=extend: the job of a clip that extends `video` (the end of the
// clip before it), of which only the new seconds play. What belongs to
// generating goes: an extension takes only the video and the prompt.
static grokimagine::Request extension_request(grokimagine::Request request,
                                              const std::string &video) {
  request.operation = grokimagine::Operation::Extend;
  request.video = video;
  request.continuation_only = true;
  request.image.clear();
  request.reference_images.clear();
  request.keyframes.clear();
  request.reference_audios.clear();
  return request;
}

// continuity=extend: the input of clip N's extension being written from
// clip `from`'s result, on a thread of its own, which wakes the channel
// when done.
struct ExtensionInputTask {
  struct Result {
    std::optional<std::string> error;
    GstClockTime length = 0;
  };
  int from = -1;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  // Set, under the events lock, when the input is written.
  std::shared_ptr<std::optional<Result>> result = std::make_shared<std::optional<Result>>();
  std::thread writer;

  ExtensionInputTask() = default;
  ExtensionInputTask(const ExtensionInputTask &) = delete;
  ExtensionInputTask &operator=(const ExtensionInputTask &) = delete;
  ~ExtensionInputTask() {
    cancelled->store(true);
    if (writer.joinable()) writer.join();
  }
};

// Prompts queued and not yet played, by default: a text source or an
// application cannot grow the queue without bound.
constexpr guint kDefaultMaxQueued = 1000;

// What the user set on the channel itself (the job defaults live in `job`).
struct ChannelSettings {
  std::vector<std::string> prompts;
  bool is_live = false;
  bool loop = false;
  guint lookahead = 1;
  ChannelFiller filler = ChannelFiller::Hold;
  int width = 0;  // 0: from resolution and aspect-ratio
  int height = 0;
  int fps_n = 24;
  int fps_d = 1;
  ChannelContinuity continuity = ChannelContinuity::None;
  guint connections = grokimagine::Download::kDefaultConnections;  // each clip's download
  guint max_queued = kDefaultMaxQueued;
};

// What exists while the channel runs.
struct RunState {
  // What every clip's job is, but for its prompt (the channel's settings).
  grokimagine::JobSettings job;
  unsigned connections = grokimagine::Download::kDefaultConnections;
  grokimagine::ChannelPlan plan;                    // shared with the text pad: under Private::lock
  const grokimagine::Provider *provider = nullptr;  // one of all_providers(): never freed
  ChannelFormat format;
  std::map<int, std::unique_ptr<ChannelClip>> clips;  // generating or ready
  std::unique_ptr<ChannelClip> playing;  // moved under the lock: its facts are read there
  std::string clips_dir;                 // each generated clip's file, for replays (loop)
  GstSegment text_segment;
  // What has been pushed, in frames and audio samples (its rates are set
  // with the format, at start).
  grokimagine::ChannelTimeline timeline{24, 1, ChannelFormat::kRate};
  GstClockTime live_base = GST_CLOCK_TIME_NONE;  // running time of the timeline's 0 (live)
  GstBuffer *last_frame = nullptr;               // for filler=hold
  bool in_filler = false;
  GstClockTime filler_started = 0;
  // continuity=extend: where each clip's own part starts in its file (after
  // the input it extends; absent: 0), and the lengths of input the provider
  // extends.
  std::map<int, GstClockTime> own_part_start;
  ExtensionInputLimits extension_limits{};
  std::map<int, ExtensionInputTask> preparing;  // clips whose input is being written

  explicit RunState(const grokimagine::ChannelRules &rules) : plan(rules) {
    gst_segment_init(&text_segment, GST_FORMAT_TIME);
  }
  // Not under the events lock: clips and writers take it to end.
  ~RunState() {
    // The input writers first: they write into clips_dir.
    preparing.clear();
    clips.clear();
    playing.reset();
    if (last_frame) gst_buffer_unref(last_frame);
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

struct Private {
  GrokImagineJobState job{grokimagine::MediaKind::Video};
  std::mutex settings_lock;
  ChannelSettings settings;

  GstElement *video_src = nullptr;  // appsrc, owned by the bin
  GstElement *audio_src = nullptr;
  GstPad *text_pad = nullptr;

  // What the streaming task waits on; its lock guards `run` (but its
  // destruction), `playing` and `clock_wait`.
  std::shared_ptr<ChannelEvents> events = std::make_shared<ChannelEvents>();
  std::unique_ptr<RunState> run;
  bool playing = false;             // in PLAYING: live pacing follows the clock
  GstClockID clock_wait = nullptr;  // a live wait in progress: a stop or a pause unschedules it
  std::uint64_t changes_seen = 0;   // the streaming task's: what it has looked at

  // The streaming task: one step (a clip, a frame of filler, a wait) a
  // call. Under the lock: taken out by finish_channel before it is joined.
  GstTask *task = nullptr;
  GRecMutex task_lock;
};

// Wakes the streaming task: something it looks at changed (under the lock).
void wake(Private &p) {
  std::unique_lock<std::mutex> lock(p.events->lock);
  p.events->changed(lock);
}

}  // namespace

struct _GstGrokImagineChannel {
  GstBin parent;
  Private *priv;
};

G_DEFINE_TYPE(GstGrokImagineChannel, gst_grok_imagine_channel, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(grokimaginechannel, "grokimaginechannel", GST_RANK_NONE,
                            GST_TYPE_GROK_IMAGINE_CHANNEL);

static GstStaticPadTemplate video_template =
    GST_STATIC_PAD_TEMPLATE("video", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));
static GstStaticPadTemplate audio_template =
    GST_STATIC_PAD_TEMPLATE("audio", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("audio/x-raw"));
static GstStaticPadTemplate text_template = GST_STATIC_PAD_TEMPLATE(
    "text", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("text/x-raw, format = (string) { utf8, pango-markup }"));

// gst-launch (and gst_util_set_object_arg) set a GStrv property through a
// GstValueTable, which GStreamer 1.22 has none of for GStrv: register one,
// unless GStreamer brings its own.
static void register_prompt_list_value() {
  GValue probe = G_VALUE_INIT;
  g_value_init(&probe, G_TYPE_STRV);
  const bool known = gst_value_deserialize(&probe, "<a>");
  g_value_unset(&probe);
  if (known) return;
  static GstValueTable table = {
      G_TYPE_STRV,
      [](const GValue *a, const GValue *b) -> gint {
        return g_strv_equal(static_cast<const gchar *const *>(g_value_get_boxed(a)),
                            static_cast<const gchar *const *>(g_value_get_boxed(b)))
                   ? GST_VALUE_EQUAL
                   : GST_VALUE_UNORDERED;
      },
      [](const GValue *value) -> gchar * {
        std::vector<std::string> items;
        if (auto strv = static_cast<const gchar *const *>(g_value_get_boxed(value)))
          for (; *strv; strv++) items.push_back(*strv);
        return g_strdup(grokimagine::serialize_prompt_list(items).c_str());
      },
      [](GValue *dest, const gchar *text) -> gboolean {
        auto items = grokimagine::parse_prompt_list(text);
        if (!items) return FALSE;
        GStrv strv = g_new0(gchar *, items->size() + 1);
        for (std::size_t i = 0; i < items->size(); i++) strv[i] = g_strdup((*items)[i].c_str());
        g_value_take_boxed(dest, strv);
        return TRUE;
      }};
  gst_value_register(&table);
}

static GType continuity_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {int(ChannelContinuity::None), "Each clip from its own prompt", "none"},
        {int(ChannelContinuity::LastFrame),
         "Each clip starts from the previous clip's last frame (its image); a clip is then "
         "generated once the previous one has played",
         "last-frame"},
        {int(ChannelContinuity::Extend),
         "Each clip extends the previous one and only its new seconds play: one continuous "
         "shot (xai); a clip is generated once the previous one's result is whole",
         "extend"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineChannelContinuity", values));
  }
  return type;
}

// The frame as a PNG data: URI, the image a continued clip starts from.
static std::string frame_as_png_uri(const ChannelFormat &format, GstBuffer *frame) {
  g_autoptr(GstCaps) raw = format.video_caps();
  g_autoptr(GstSample) sample = gst_sample_new(frame, raw, nullptr, nullptr);
  g_autoptr(GstCaps) png = gst_caps_new_empty_simple("image/png");
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstSample) converted = gst_video_convert_sample(sample, png, 5 * GST_SECOND, &error);
  if (!converted) return {};
  GstMapInfo map;
  GstBuffer *buffer = gst_sample_get_buffer(converted);
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return {};
  g_autofree gchar *base64 = g_base64_encode(map.data, map.size);
  gst_buffer_unmap(buffer, &map);
  return std::string("data:image/png;base64,") + base64;
}

static GType filler_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {int(ChannelFiller::Hold), "The last frame, with silence", "hold"},
        {int(ChannelFiller::Black), "Black, with silence", "black"},
        {int(ChannelFiller::Loop), "Replay what has played (the last frame before anything has)",
         "loop"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineChannelFiller", values));
  }
  return type;
}

// ---- Pushing on the timeline ----

// The pipeline's running time now, or NONE without a clock.
static GstClockTime running_time(GstGrokImagineChannel *self) {
  g_autoptr(GstClock) clock = gst_element_get_clock(GST_ELEMENT(self));
  if (!clock) return GST_CLOCK_TIME_NONE;
  const GstClockTime now = gst_clock_get_time(clock);
  const GstClockTime base = gst_element_get_base_time(GST_ELEMENT(self));
  return now > base ? now - base : 0;
}

static bool stopping(GstGrokImagineChannel *self) {
  std::lock_guard<std::mutex> lock(self->priv->events->lock);
  return self->priv->events->stopping;
}

// Live: waits on the pipeline clock until the running time reaches `when`
// (the buffer's time), first for PLAYING, as GstBaseSrc's live sources do.
// False when stopping.
static bool wait_until(GstGrokImagineChannel *self, GstClockTime when) {
  Private &p = *self->priv;
  while (true) {
    GstClockID id = nullptr;
    {
      std::unique_lock<std::mutex> lock(p.events->lock);
      p.events->wake.wait(lock, [&] { return p.events->stopping || p.playing; });
      if (p.events->stopping) return false;
      g_autoptr(GstClock) clock = gst_element_get_clock(GST_ELEMENT(self));
      if (!clock) return true;  // no clock to follow: as fast as downstream takes it
      id = gst_clock_new_single_shot_id(clock, gst_element_get_base_time(GST_ELEMENT(self)) + when);
      p.clock_wait = id;
    }
    const GstClockReturn waited = gst_clock_id_wait(id, nullptr);
    {
      std::lock_guard<std::mutex> lock(p.events->lock);
      p.clock_wait = nullptr;
    }
    gst_clock_id_unref(id);
    // UNSCHEDULED: a stop, or a pause (then wait for PLAYING again).
    if (waited != GST_CLOCK_UNSCHEDULED) return true;
  }
}

// Pushes `buffer` (owned) at timeline time `pts` on `appsrc`; false when the
// stream is over (stopping, flushing, not linked).
static bool push(GstGrokImagineChannel *self, RunState &run, GstElement *appsrc, GstBuffer *buffer,
                 GstClockTime pts, GstClockTime duration, bool live) {
  buffer = gst_buffer_make_writable(buffer);
  if (live) {
    if (run.live_base == GST_CLOCK_TIME_NONE) {
      if (!wait_until(self, 0)) {
        gst_buffer_unref(buffer);
        return false;
      }
      run.live_base = running_time(self);
    }
    pts += run.live_base;
    if (!wait_until(self, pts)) {
      gst_buffer_unref(buffer);
      return false;
    }
  }
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buffer) = duration;
  const GstFlowReturn ret = gst_app_src_push_buffer(GST_APP_SRC(appsrc), buffer);
  if (ret != GST_FLOW_OK) GST_DEBUG_OBJECT(self, "push: %s", gst_flow_get_name(ret));
  return ret == GST_FLOW_OK;
}

static bool push_frame(GstGrokImagineChannel *self, RunState &run, GstBuffer *frame, bool live) {
  if (run.last_frame) gst_buffer_unref(run.last_frame);
  run.last_frame = gst_buffer_ref(frame);
  const auto span = run.timeline.add_frame();
  return push(self, run, self->priv->video_src, frame, span.pts, span.duration, live);
}

// Pushes audio from `buffer` (owned; null for silence) up to where the
// frames pushed end. What of it reaches past goes to `*rest` (the next
// frame's audio begins with it), or is dropped without `rest`.
static bool push_audio(GstGrokImagineChannel *self, RunState &run, GstBuffer *buffer, bool live,
                       GstBuffer **rest = nullptr) {
  const guint64 missing = run.timeline.audio_missing();
  if (!buffer && missing == 0) return true;
  if (!buffer) {
    buffer = gst_buffer_new_allocate(nullptr, missing * ChannelFormat::kBytesPerFrame, nullptr);
    gst_buffer_memset(buffer, 0, 0, missing * ChannelFormat::kBytesPerFrame);
  }
  const gsize size = gst_buffer_get_size(buffer);
  const guint64 take = run.timeline.audio_to_take(size / ChannelFormat::kBytesPerFrame);
  const gsize used = take * ChannelFormat::kBytesPerFrame;
  if (used < size && rest)
    *rest = take == 0 ? gst_buffer_ref(buffer)
                      : gst_buffer_copy_region(buffer, GST_BUFFER_COPY_ALL, used, size - used);
  if (take == 0) {
    gst_buffer_unref(buffer);
    return true;
  }
  if (used < size) {
    GstBuffer *cut = gst_buffer_copy_region(buffer, GST_BUFFER_COPY_ALL, 0, used);
    gst_buffer_unref(buffer);
    buffer = cut;
  }
  const auto span = run.timeline.add_samples(take);
  return push(self, run, self->priv->audio_src, buffer, span.pts, span.duration, live);
}

static void post_element_message(GstGrokImagineChannel *self, GstStructure *s) {
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

static GstClockTime timeline_running_time(const RunState &run, GstClockTime timeline) {
  return run.live_base == GST_CLOCK_TIME_NONE ? timeline : run.live_base + timeline;
}

// One frame of filler (and the audio under it).
static bool push_filler_frame(GstGrokImagineChannel *self, RunState &run, ChannelFiller filler,
                              bool live, const char *reason) {
  if (!run.in_filler) {
    run.in_filler = true;
    run.filler_started = run.timeline.position();
    GST_INFO_OBJECT(self, "filler (%s) from %" GST_TIME_FORMAT, reason,
                    GST_TIME_ARGS(run.filler_started));
    post_element_message(
        self,
        gst_structure_new("grokimagine-filler", "reason", G_TYPE_STRING, reason, "running-time",
                          G_TYPE_UINT64, timeline_running_time(run, run.filler_started), nullptr));
  }
  GstBuffer *frame = nullptr;
  if (filler == ChannelFiller::Hold && run.last_frame) {
    frame = gst_buffer_copy(run.last_frame);
  } else {
    // I420 black: Y at 16, U and V at 128.
    GstVideoInfo info;
    g_autoptr(GstCaps) caps = run.format.video_caps();
    gst_video_info_from_caps(&info, caps);
    const gsize luma = GST_VIDEO_INFO_PLANE_OFFSET(&info, 1);
    frame = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
    gst_buffer_memset(frame, 0, 16, luma);
    gst_buffer_memset(frame, luma, 128, GST_VIDEO_INFO_SIZE(&info) - luma);
  }
  if (!push_frame(self, run, frame, live)) return false;
  return push_audio(self, run, nullptr, live);
}

static void end_filler(GstGrokImagineChannel *self, RunState &run) {
  if (!run.in_filler) return;
  run.in_filler = false;
  const GstClockTime now = run.timeline.position();
  post_element_message(
      self, gst_structure_new("grokimagine-filler", "reason", G_TYPE_STRING, "ended",
                              "running-time", G_TYPE_UINT64, timeline_running_time(run, now),
                              "duration", G_TYPE_UINT64, now - run.filler_started, nullptr));
}

// ---- Clips ----

// Where clip `index`'s own part starts in its file: after the input it
// extends (continuity=extend), else 0.
static GstClockTime own_part_start(const RunState &run, int index) {
  const auto known = run.own_part_start.find(index);
  return known == run.own_part_start.end() ? 0 : known->second;
}

// Clip `index`'s whole result, on disk while it may play again (or be
// extended); and (continuity=extend) the input its job extends.
static std::string clip_path(const RunState &run, int index) {
  return run.clips_dir + "/clip-" + std::to_string(index) + ".mp4";
}

static std::string extension_input_path(const RunState &run, int index) {
  return run.clips_dir + "/input-" + std::to_string(index) + ".mp4";
}

// continuity=extend: clip `index`'s input, the end of clip `from`'s result,
// written on a thread of its own (remuxing takes tens of milliseconds,
// which a live channel's worker cannot spend between two frames).
static void prepare_extension_input(const std::shared_ptr<ChannelEvents> &events, RunState &run,
                                    int index, int from) {
  ExtensionInputTask &task = run.preparing[index];
  task.from = from;
  task.writer =
      std::thread([events, source = clip_path(run, from), dest = extension_input_path(run, index),
                   played_from = own_part_start(run, from), limits = run.extension_limits,
                   cancelled = task.cancelled, done = task.result] {
        ExtensionInputTask::Result result;
        result.error = write_extension_input(source, played_from, limits, dest, &result.length,
                                             [&cancelled] { return cancelled->load(); });
        std::unique_lock<std::mutex> lock(events->lock);
        *done = std::move(result);
        events->changed(lock);
      });
}

// Makes `job` (clip `index`) extend clip `from` with the input written for
// it (`length` long): operation=extend, only the new seconds played.
static void use_extension_input(GstGrokImagineChannel *self, RunState &run,
                                grokimagine::JobSettings &job, int index, int from,
                                GstClockTime length) {
  GST_INFO_OBJECT(self,
                  "clip %d extends clip %d: %" GST_TIME_FORMAT " of it from %" GST_TIME_FORMAT,
                  index, from, GST_TIME_ARGS(length), GST_TIME_ARGS(own_part_start(run, from)));
  job.request = extension_request(job.request, extension_input_path(run, index));
  run.own_part_start[index] = length;
}

// Clip `index`'s job: the channel's settings with its prompt, kept on disk
// for replays and extensions; what becomes of it lands in `facts`.
static GrokImagineClipJob clip_job(const RunState &run, int index, const std::string &prompt,
                                   const std::shared_ptr<ClipJobFacts> &facts) {
  GrokImagineClipJob job;
  job.settings = run.job;
  job.settings.request.prompt = prompt;
  job.settings.location = clip_path(run, index);
  // The channel keeps its own budget over all clips (ChannelPlan).
  job.settings.budget_usd = 0;
  job.connections = run.connections;
  if (run.plan.rules().continuity == ChannelContinuity::LastFrame && index > 0 && run.last_frame) {
    // Continued from what the viewer saw last: the previous clip's last frame.
    const std::string image = frame_as_png_uri(run.format, run.last_frame);
    if (!image.empty()) job.settings.request.image = image;
  }
  job.observer.submitted = [facts](const std::string &id) { facts->submitted(id); };
  job.observer.paid_before = [facts](const std::string &id) { facts->paid_before(id); };
  job.observer.cost = [facts](double usd, bool reported) { facts->cost(usd, reported); };
  job.downloaded = [facts] { facts->downloaded(); };
  return job;
}

// The clip's source: its job, or, replaying, its file.
static GstElement *make_clip_source(const RunState &run, int index, bool replay,
                                    GrokImagineClipJob job) {
  if (replay) {
    GstElement *file = gst_element_factory_make("filesrc", nullptr);
    g_object_set(file, "location", clip_path(run, index).c_str(), nullptr);
    return file;
  }
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_grok_imagine_src_set_clip_job(GST_GROK_IMAGINE_SRC(source), std::move(job));
  return source;
}

static std::unique_ptr<ChannelClip> make_clip(GstGrokImagineChannel *self, RunState &run, int index,
                                              const std::string &prompt, bool replay) {
  const auto &events = self->priv->events;
  auto facts = replay ? nullptr : std::make_shared<ClipJobFacts>(events);
  GstElement *source = make_clip_source(
      run, index, replay, replay ? GrokImagineClipJob{} : clip_job(run, index, prompt, facts));
  return std::make_unique<ChannelClip>(GST_BIN(self), events, index, prompt, source, run.format,
                                       own_part_start(run, index), facts);
}

// Under the events lock.
static std::string clip_request_id(const ChannelClip &clip) {
  return clip.facts() ? clip.facts()->request_id() : "";
}

// A clip's error (its first, held in the clip) ends that clip (a warning),
// or the channel when every clip would fail the same way (no key, a refused
// key, no credits, bad settings). False when the channel must end. Its
// job's messages reach the application on their own, through the bin.
static bool handle_clip_error(GstGrokImagineChannel *self, const ChannelClip &clip,
                              GstMessage *message, const std::string &request_id) {
  g_autoptr(GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  const GstStructure *details = nullptr;
  gst_message_parse_error_details(message, &details);
  const gchar *reason = details ? gst_structure_get_string(details, "reason") : nullptr;
  const bool every_clip =
      g_error_matches(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED) ||
      g_strcmp0(reason, "invalid-settings") == 0;
  if (every_clip) {
    // The clip's error as it is (domain, code, reason, request id): what a
    // single source would have said.
    GstStructure *info = details ? gst_structure_copy(details) : gst_structure_new_empty("details");
    gst_structure_set(info, "clip", G_TYPE_INT, clip.index(), nullptr);
    gst_element_message_full_with_details(
        GST_ELEMENT(self), GST_MESSAGE_ERROR, error->domain, error->code, g_strdup(error->message),
        g_strdup_printf("clip %d: %s", clip.index(), debug ? debug : ""), __FILE__, GST_FUNCTION,
        __LINE__, info);
    return false;
  }
  GstStructure *info =
      gst_structure_new("details", "clip", G_TYPE_INT, clip.index(), "request-id", G_TYPE_STRING,
                        request_id.empty() ? nullptr : request_id.c_str(), "reason", G_TYPE_STRING,
                        reason ? reason : "", nullptr);
  gst_element_message_full_with_details(
      GST_ELEMENT(self), GST_MESSAGE_WARNING, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
      g_strdup_printf("Clip %d (\"%s\") failed and is skipped: %s", clip.index(),
                      clip.prompt().c_str(), error->message),
      g_strdup(debug ? debug : ""), __FILE__, GST_FUNCTION, __LINE__, info);
  return true;
}

static void start_clips(GstGrokImagineChannel *self, RunState &run);

// The part of `buffer` (S16 interleaved, at ChannelFormat::kRate) from
// `from` on, as a new reference; null when it all comes before.
static GstBuffer *audio_from(GstBuffer *buffer, GstClockTime from) {
  if (!from || !GST_BUFFER_PTS_IS_VALID(buffer)) return gst_buffer_ref(buffer);
  const gsize size = gst_buffer_get_size(buffer);
  const guint64 before = grokimagine::samples_before_cut(
      GST_BUFFER_PTS(buffer), from, ChannelFormat::kRate, size / ChannelFormat::kBytesPerFrame);
  if (before == 0) return gst_buffer_ref(buffer);
  const gsize offset = gsize(before) * ChannelFormat::kBytesPerFrame;
  if (offset >= size) return nullptr;
  return gst_buffer_copy_region(buffer, GST_BUFFER_COPY_ALL, offset, size - offset);
}

// What a clip has for the channel next: a buffer of one of its streams
// (null when that stream ended), or its error.
struct ClipTake {
  GstBuffer *buffer = nullptr;
  GstMessage *error = nullptr;  // a new reference
  std::string request_id;
};

// Waits for the next buffer of `clip`'s video or audio, its end or the
// clip's error; false when the channel stops.
static bool take_from_clip(Private &p, ChannelClip &clip, bool video, ClipTake *take) {
  std::unique_lock<std::mutex> lock(p.events->lock);
  p.events->wake.wait(lock, [&] {
    return p.events->stopping || clip.error() || clip.waiting(video) || clip.ended(video);
  });
  if (p.events->stopping) return false;
  if (clip.error()) {
    take->error = gst_message_ref(clip.error());
    take->request_id = clip_request_id(clip);
    return true;
  }
  take->buffer = clip.take(video);
  p.events->changed(lock);  // room in the clip's queue
  return true;
}

// Plays clip `index` from its decoder: every frame, and its audio made
// exactly as long. False when the channel must stop.
static bool play_clip(GstGrokImagineChannel *self, RunState &run, ChannelClip &clip, bool replay,
                      bool live) {
  Private &p = *self->priv;
  const int index = clip.index();
  const GstClockTime start = run.timeline.position();
  std::string id;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    id = clip_request_id(clip);
  }
  // An extension's file begins with the input it extends, which has played.
  const GstClockTime skip = own_part_start(run, index);
  GstClockTime duration = clip.duration();
  // Not known yet to the demuxer's queries: the length the job asked for.
  if (!GST_CLOCK_TIME_IS_VALID(duration) || duration <= skip)
    duration = GstClockTime(run.job.request.duration) * GST_SECOND;
  else
    duration -= skip;
  GST_INFO_OBJECT(self, "clip %d%s starts at %" GST_TIME_FORMAT, index, replay ? " (replay)" : "",
                  GST_TIME_ARGS(start));
  post_element_message(
      self, gst_structure_new("grokimagine-clip", "index", G_TYPE_INT, index, "prompt",
                              G_TYPE_STRING, clip.prompt().c_str(), "request-id", G_TYPE_STRING,
                              id.empty() ? nullptr : id.c_str(), "running-time", G_TYPE_UINT64,
                              timeline_running_time(run, start), "duration", G_TYPE_UINT64,
                              duration, "replay", G_TYPE_BOOLEAN, replay, "spent-usd",
                              G_TYPE_DOUBLE, p.job.spent_usd(), nullptr));
  bool audio_done = false;
  // Audio that came with a frame but reaches past it: the next frame's.
  g_autoptr(GstBuffer) rest = nullptr;
  while (true) {
    ClipTake frame;
    if (!take_from_clip(p, clip, true, &frame)) return false;
    if (frame.error) {
      g_autoptr(GstMessage) error = frame.error;
      return handle_clip_error(self, clip, error, frame.request_id);
    }
    if (!frame.buffer) break;
    // Extensions: the next clip starts once this one's result is whole.
    if (run.plan.rules().continuity == ChannelContinuity::Extend) start_clips(self, run);
    if (!push_frame(self, run, frame.buffer, live)) return false;
    // Audio up to the end of this frame, so that neither stream runs ahead.
    if (rest && !push_audio(self, run, g_steal_pointer(&rest), live, &rest)) return false;
    while (!audio_done && run.timeline.audio_missing() > 0) {
      bool has_audio;
      {
        std::lock_guard<std::mutex> lock(p.events->lock);
        has_audio = clip.has_audio();
      }
      if (!has_audio) break;
      ClipTake audio;
      if (!take_from_clip(p, clip, false, &audio)) return false;
      if (audio.error) {
        g_autoptr(GstMessage) error = audio.error;
        return handle_clip_error(self, clip, error, audio.request_id);
      }
      if (!audio.buffer) {
        audio_done = true;
        break;
      }
      GstBuffer *own_audio = audio_from(audio.buffer, skip);
      gst_buffer_unref(audio.buffer);
      if (own_audio && !push_audio(self, run, own_audio, live, &rest)) return false;
    }
    // A clip whose audio is shorter than its video (or has none): silence
    // under the rest.
    if (run.timeline.audio_missing() > 0 && !push_audio(self, run, nullptr, live)) return false;
  }
  if (GST_IS_GROK_IMAGINE_SRC(clip.source()))
    gst_grok_imagine_src_deliver(GST_GROK_IMAGINE_SRC(clip.source()));
  return !stopping(self);
}

// ---- The worker ----

// The plan is shared with the text pad and queue-prompt: only touched
// under the lock, which is never held while posting a message.

// The channel's budget is reached: no more jobs. What is generated still
// plays; then the channel ends, or (live) goes on with filler or loop.
static void post_budget_reached(GstGrokImagineChannel *self, double committed_usd) {
  const double budget = self->priv->job.settings().budget_usd;
  GST_INFO_OBJECT(self, "budget of $%.2f reached ($%.2f spent or committed): no more jobs", budget,
                  committed_usd);
  post_element_message(self,
                       gst_structure_new("grokimagine-budget", "budget-usd", G_TYPE_DOUBLE, budget,
                                         "spent-usd", G_TYPE_DOUBLE, committed_usd, nullptr));
}

// What clips' jobs said since the last look: what this run paid goes to
// spent-usd, and with whether an earlier run paid, to the budget; a whole
// result may be extended (continuity=extend). Under the lock.
static void note_job_facts(Private &p, RunState &run) {
  auto note = [&](const ChannelClip &clip) {
    if (!clip.facts()) return;  // a replay
    const ClipJobFacts::News news = clip.facts()->take_news();
    if (news.paid_before) run.plan.clip_paid_before(clip.index());
    if (news.cost) p.job.add_spent_usd(*news.cost);
    if (news.cost && news.cost_reported) run.plan.clip_cost(clip.index(), *news.cost);
    if (news.downloaded) run.plan.clip_whole(clip.index());
  };
  for (const auto &[index, clip] : run.clips) note(*clip);
  if (run.playing) note(*run.playing);
}

// continuity=extend: the clips whose input is written start their jobs (a
// clip whose input could not be made is generated from its prompt alone).
static void start_prepared_clips(GstGrokImagineChannel *self, RunState &run) {
  Private &p = *self->priv;
  for (auto it = run.preparing.begin(); it != run.preparing.end();) {
    ExtensionInputTask &task = it->second;
    const int index = it->first;
    std::optional<ExtensionInputTask::Result> input;
    std::string prompt;
    {
      std::lock_guard<std::mutex> lock(p.events->lock);
      input = *task.result;
      prompt = run.plan.schedule().clip(index).prompt;
    }
    if (!input) {
      ++it;
      continue;
    }
    // Its cost was committed when its input was asked for: a budget
    // reached since then does not stop it.
    GST_INFO_OBJECT(self, "generating clip %d: %s", index, prompt.c_str());
    auto facts = std::make_shared<ClipJobFacts>(p.events);
    GrokImagineClipJob job = clip_job(run, index, prompt, facts);
    if (input->error)
      GST_ELEMENT_WARNING(self, RESOURCE, FAILED,
                          ("Clip %d cannot extend clip %d (%s): it is generated from its "
                           "prompt alone.",
                           index, task.from, input->error->c_str()),
                          (nullptr));
    else
      use_extension_input(self, run, job.settings, index, task.from, input->length);
    run.clips[index] = std::make_unique<ChannelClip>(GST_BIN(self), p.events, index, prompt,
                                                     make_clip_source(run, index, false, job),
                                                     run.format, own_part_start(run, index), facts);
    it = run.preparing.erase(it);
  }
}

static void start_clips(GstGrokImagineChannel *self, RunState &run) {
  Private &p = *self->priv;
  std::vector<grokimagine::ChannelPlan::Start> starting;
  bool budget_reached_now = false;
  double committed_usd = 0;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    note_job_facts(p, run);
    const bool budget_reached_before = run.plan.budget_reached();
    starting = run.plan.to_start();
    budget_reached_now = !budget_reached_before && run.plan.budget_reached();
    committed_usd = run.plan.committed_usd();
  }
  if (budget_reached_now) post_budget_reached(self, committed_usd);
  for (const auto &clip : starting) {
    if (clip.continues) {
      GST_INFO_OBJECT(self, "clip %d: writing its input from clip %d", clip.clip, *clip.continues);
      prepare_extension_input(p.events, run, clip.clip, *clip.continues);
      continue;
    }
    GST_INFO_OBJECT(self, "generating clip %d: %s", clip.clip, clip.prompt.c_str());
    run.clips[clip.clip] = make_clip(self, run, clip.clip, clip.prompt, false);
  }
  start_prepared_clips(self, run);
}

// Marks clips ready or failed from what they hold; false when an error ends
// the channel.
static bool settle_clips(GstGrokImagineChannel *self, RunState &run) {
  Private &p = *self->priv;
  struct Failed {
    int index;
    GstMessage *error;  // a new reference
    std::string request_id;
  };
  std::vector<Failed> failed;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    for (const auto &[index, clip] : run.clips) {
      if (clip->error())
        failed.push_back({index, gst_message_ref(clip->error()), clip_request_id(*clip)});
      else if (clip->ready())
        run.plan.clip_ready(index);
    }
  }
  bool go_on = true;
  for (Failed &clip : failed) {
    g_autoptr(GstMessage) error = clip.error;
    go_on = go_on && handle_clip_error(self, *run.clips.at(clip.index), error, clip.request_id);
    {
      std::lock_guard<std::mutex> lock(p.events->lock);
      run.plan.clip_failed(clip.index);
    }
    run.clips.erase(clip.index);
  }
  return go_on;
}

// The files of played clips that nothing will play again go, to free the
// disk.
static void release_files(const RunState &run, const grokimagine::ChannelRelease &release) {
  for (int index : release.inputs) g_unlink(extension_input_path(run, index).c_str());
  for (int index : release.results) g_unlink(clip_path(run, index).c_str());
}

// Plays what the plan says comes next, once (a clip, a frame of filler),
// or waits until something changes. False when the channel is over: EOS,
// a stop, an error.
static bool channel_step(GstGrokImagineChannel *self, RunState &run) {
  Private &p = *self->priv;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    if (p.events->stopping) return false;
    // What changes from here on wakes a wait below.
    p.changes_seen = p.events->changes;
  }
  const bool live = run.plan.rules().live;
  start_clips(self, run);
  if (!settle_clips(self, run)) return false;
  ChannelStep step;
  std::string prompt;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    step = run.plan.next(run.timeline.position());
    if (step.clip >= 0) prompt = run.plan.schedule().clip(step.clip).prompt;
  }
  switch (step.kind) {
    case ChannelStep::Kind::Play: {
      // A replay that covers a wait (filler=loop) is filler: it begins one.
      if (!step.covers_wait)
        end_filler(self, run);
      else if (!run.in_filler &&
               !push_filler_frame(self, run, ChannelFiller::Hold, live, "waiting"))
        return false;
      std::unique_ptr<ChannelClip> clip;
      if (step.replay) {
        clip = make_clip(self, run, step.clip, prompt, true);
      } else {
        clip = std::move(run.clips[step.clip]);
        run.clips.erase(step.clip);
      }
      {
        std::lock_guard<std::mutex> lock(p.events->lock);
        run.playing = std::move(clip);
      }
      // Cut short, it stays: one more job whose clip did not play (finish_channel).
      if (!play_clip(self, run, *run.playing, step.replay, live)) return false;
      grokimagine::ChannelRelease release;
      {
        std::lock_guard<std::mutex> lock(p.events->lock);
        clip = std::move(run.playing);
        release = run.plan.clip_played(step.clip, step.replay);
      }
      clip.reset();
      release_files(run, release);
      return true;
    }
    case ChannelStep::Kind::End:
      end_filler(self, run);
      GST_INFO_OBJECT(self, "no more prompts: EOS");
      gst_app_src_end_of_stream(GST_APP_SRC(p.video_src));
      gst_app_src_end_of_stream(GST_APP_SRC(p.audio_src));
      return false;
    case ChannelStep::Kind::Filler:
      return push_filler_frame(self, run, step.filler, live, step.reason);
    case ChannelStep::Kind::Wait: {
      std::unique_lock<std::mutex> lock(p.events->lock);
      p.events->wake.wait(
          lock, [&] { return p.events->stopping || p.events->changes != p.changes_seen; });
      return !p.events->stopping;
    }
  }
  return false;
}

// The streaming task's function: a step, or, once the channel is over,
// the task pauses (it is stopped and joined at PAUSED -> READY).
static void channel_loop(gpointer data) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(data);
  Private &p = *self->priv;
  RunState *run;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    run = p.run.get();
  }
  if (run && channel_step(self, *run)) return;
  GST_DEBUG_OBJECT(self, "streaming task done");
  // Not once finish_channel has taken the task: pausing a stopped task
  // would start it again.
  std::lock_guard<std::mutex> lock(p.events->lock);
  if (p.task) gst_task_pause(p.task);
}

// ---- The text pad ----

// Pango markup to plain text: tags dropped, entities decoded.
static std::string strip_markup(const std::string &markup) {
  std::string text;
  bool in_tag = false;
  for (char c : markup) {
    if (c == '<') in_tag = true;
    if (!in_tag) text += c;
    if (c == '>') in_tag = false;
  }
  static const std::pair<const char *, const char *> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto &[entity, plain] : kEntities)
    for (std::size_t at; (at = text.find(entity)) != std::string::npos;)
      text.replace(at, strlen(entity), plain);
  return text;
}

static bool is_blank(const std::string &prompt) {
  return prompt.find_first_not_of(" \t\r\n") == std::string::npos;
}

// A prompt that cannot be queued is skipped with a warning naming it
// (`origin`): too long for the provider, past max-queued, too late.
static void warn_prompt_refused(GstGrokImagineChannel *self, const std::string &origin,
                                const std::string &why) {
  GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("%s is skipped: %s", origin.c_str(), why.c_str()),
                      (nullptr));
}

// Queues a prompt for the running channel (or, stopped, for its next
// run); `origin` names it in a warning (a cue, queue-prompt).
static bool queue_prompt(GstGrokImagineChannel *self, const std::string &prompt,
                         std::optional<guint64> cue, const std::string &origin) {
  Private &p = *self->priv;
  if (is_blank(prompt)) {
    GST_INFO_OBJECT(self, "empty prompt (%s) skipped", origin.c_str());
    return false;
  }
  std::string refused;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    if (p.run) {
      if (auto error = p.run->provider->check_prompt(prompt, "it"))
        refused = error->message;
      else
        p.run->plan.add_prompt(prompt, cue, &refused);
    } else {
      // Not running: the prompt joins the playlist of the next run (its
      // length is checked then, with the provider the run will have).
      std::lock_guard<std::mutex> settings_lock(p.settings_lock);
      if (p.settings.max_queued > 0 && p.settings.prompts.size() >= p.settings.max_queued)
        refused = "the queue holds " + std::to_string(p.settings.max_queued) +
                  " prompts not yet played (max-queued)";
      else
        p.settings.prompts.push_back(prompt);
    }
  }
  wake(p);
  if (!refused.empty()) {
    warn_prompt_refused(self, origin, refused);
    return false;
  }
  GST_INFO_OBJECT(self, "prompt queued (%s): %s", origin.c_str(), prompt.c_str());
  return true;
}

static GstFlowReturn text_chain(GstPad *pad, GstObject *parent, GstBuffer *buffer) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(parent);
  Private &p = *self->priv;
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  const gchar *format =
      caps ? gst_structure_get_string(gst_caps_get_structure(caps, 0), "format") : nullptr;
  GstMapInfo map;
  std::string text;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    text.assign(reinterpret_cast<const char *>(map.data), map.size);
    gst_buffer_unmap(buffer, &map);
  }
  std::optional<guint64> cue;
  if (GST_BUFFER_PTS_IS_VALID(buffer)) {
    std::lock_guard<std::mutex> lock(p.events->lock);
    if (p.run) {
      const guint64 at = gst_segment_to_running_time(&p.run->text_segment, GST_FORMAT_TIME,
                                                     GST_BUFFER_PTS(buffer));
      if (GST_CLOCK_TIME_IS_VALID(at)) cue = at;
    }
  }
  gst_buffer_unref(buffer);
  if (g_strcmp0(format, "pango-markup") == 0) text = strip_markup(text);
  g_autofree gchar *origin =
      cue ? g_strdup_printf("The cue at %" GST_TIME_FORMAT, GST_TIME_ARGS(*cue))
          : g_strdup("A prompt on the text pad");
  queue_prompt(self, text, cue, origin);
  return GST_FLOW_OK;
}

static gboolean text_event(GstPad *, GstObject *parent, GstEvent *event) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(parent);
  Private &p = *self->priv;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_SEGMENT: {
      std::lock_guard<std::mutex> lock(p.events->lock);
      if (p.run) gst_event_copy_segment(event, &p.run->text_segment);
      break;
    }
    case GST_EVENT_EOS: {
      GST_INFO_OBJECT(self, "text EOS: no more prompts");
      {
        std::lock_guard<std::mutex> lock(p.events->lock);
        if (p.run) p.run->plan.end_of_prompts();
      }
      wake(p);
      break;
    }
    default:
      break;
  }
  // Prompts end here: nothing of the text stream (its segment, its EOS)
  // belongs on the video and audio pads, where the default would send it.
  gst_event_unref(event);
  return TRUE;
}

// ---- GObject ----

static void gst_grok_imagine_channel_init(GstGrokImagineChannel *self) {
  Private &p = *(self->priv = new Private());
  g_rec_mutex_init(&p.task_lock);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
  for (auto [src, convert_name, templ] :
       {std::tuple{&p.video_src, "videoconvert", &video_template},
        std::tuple{&p.audio_src, "audioconvert", &audio_template}}) {
    *src = gst_element_factory_make("appsrc", nullptr);
    // Downstream may ask for other raw formats than the channel's own.
    GstElement *convert = gst_element_factory_make(convert_name, nullptr);
    g_object_set(*src, "format", GST_FORMAT_TIME, "block", TRUE, nullptr);
    gst_bin_add_many(GST_BIN(self), *src, convert, nullptr);
    gst_element_link(*src, convert);
    g_autoptr(GstPad) target = gst_element_get_static_pad(convert, "src");
    g_autoptr(GstPadTemplate) pad_template = gst_static_pad_template_get(templ);
    GstPad *ghost = gst_ghost_pad_new_from_template(templ->name_template, target, pad_template);
    gst_element_add_pad(GST_ELEMENT(self), ghost);
  }
  p.text_pad = gst_pad_new_from_static_template(&text_template, "text");
  gst_pad_set_chain_function(p.text_pad, text_chain);
  gst_pad_set_event_function(p.text_pad, text_event);
  gst_element_add_pad(GST_ELEMENT(self), p.text_pad);
}

static void gst_grok_imagine_channel_finalize(GObject *object) {
  Private *p = GST_GROK_IMAGINE_CHANNEL(object)->priv;
  g_rec_mutex_clear(&p->task_lock);
  delete p;
  G_OBJECT_CLASS(gst_grok_imagine_channel_parent_class)->finalize(object);
}

static void gst_grok_imagine_channel_set_property(GObject *object, guint prop_id,
                                                  const GValue *value, GParamSpec *pspec) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(object);
  Private &p = *self->priv;
  if (prop_id < GROK_IMAGINE_N_JOB_PROPERTIES) {
    p.job.set_property(GST_ELEMENT(self), prop_id, value, pspec);
    return;
  }
  std::lock_guard<std::mutex> lock(p.settings_lock);
  ChannelSettings &s = p.settings;
  switch (prop_id) {
    case PROP_PROMPTS:
      s.prompts.clear();
      if (auto strv = static_cast<const gchar *const *>(g_value_get_boxed(value)))
        for (; *strv; strv++) s.prompts.push_back(*strv);
      break;
    case PROP_IS_LIVE:
      s.is_live = g_value_get_boolean(value);
      break;
    case PROP_LOOP:
      s.loop = g_value_get_boolean(value);
      break;
    case PROP_LOOKAHEAD:
      s.lookahead = g_value_get_uint(value);
      break;
    case PROP_FILLER:
      s.filler = ChannelFiller(g_value_get_enum(value));
      break;
    case PROP_WIDTH:
      s.width = g_value_get_int(value);
      break;
    case PROP_HEIGHT:
      s.height = g_value_get_int(value);
      break;
    case PROP_FRAMERATE:
      s.fps_n = gst_value_get_fraction_numerator(value);
      s.fps_d = gst_value_get_fraction_denominator(value);
      break;
    case PROP_CONTINUITY:
      s.continuity = ChannelContinuity(g_value_get_enum(value));
      break;
    case PROP_CONNECTIONS:
      s.connections = g_value_get_uint(value);
      break;
    case PROP_MAX_QUEUED:
      s.max_queued = g_value_get_uint(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_grok_imagine_channel_get_property(GObject *object, guint prop_id, GValue *value,
                                                  GParamSpec *pspec) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(object);
  Private &p = *self->priv;
  if (prop_id < GROK_IMAGINE_N_JOB_PROPERTIES) {
    p.job.get_property(prop_id, value);
    return;
  }
  std::lock_guard<std::mutex> lock(p.settings_lock);
  const ChannelSettings &s = p.settings;
  switch (prop_id) {
    case PROP_PROMPTS: {
      GStrv strv = g_new0(gchar *, s.prompts.size() + 1);
      for (std::size_t i = 0; i < s.prompts.size(); i++) strv[i] = g_strdup(s.prompts[i].c_str());
      g_value_take_boxed(value, strv);
      break;
    }
    case PROP_IS_LIVE:
      g_value_set_boolean(value, s.is_live);
      break;
    case PROP_LOOP:
      g_value_set_boolean(value, s.loop);
      break;
    case PROP_LOOKAHEAD:
      g_value_set_uint(value, s.lookahead);
      break;
    case PROP_FILLER:
      g_value_set_enum(value, int(s.filler));
      break;
    case PROP_WIDTH:
      g_value_set_int(value, s.width);
      break;
    case PROP_HEIGHT:
      g_value_set_int(value, s.height);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction(value, s.fps_n, s.fps_d);
      break;
    case PROP_CONTINUITY:
      g_value_set_enum(value, int(s.continuity));
      break;
    case PROP_CONNECTIONS:
      g_value_set_uint(value, s.connections);
      break;
    case PROP_MAX_QUEUED:
      g_value_set_uint(value, s.max_queued);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

// continuity=extend: every clip after the first is an extension of the one
// before it, so the provider must extend videos and the job's settings
// must suit an extension too (its model, its duration).
static std::optional<grokimagine::Error> check_extensions(const grokimagine::Generation &check,
                                                          ExtensionInputLimits *limits) {
  const grokimagine::Provider &provider = check.provider();
  const auto range = provider.extension_input();
  if (!range)
    return grokimagine::invalid_setting(std::string("Property 'continuity' is extend, but ") +
                                        provider.name() +
                                        " does not extend videos (provider=xai does). Nothing "
                                        "was sent.");
  const grokimagine::Request extension =
      extension_request(check.settings().request, "request:previous-clip");
  if (auto error = provider.validate(extension)) {
    error->message =
        "Property 'continuity' is extend, so each clip after the first extends the one "
        "before it: " +
        error->message + " Nothing was sent.";
    return error;
  }
  limits->min_length = GstClockTime(range->min_s * GST_SECOND);
  limits->max_length = GstClockTime(range->max_s * GST_SECOND);
  return std::nullopt;
}

// The channel's own settings take every value a user can type (GObject
// would otherwise keep the old value with a warning, and the channel run
// with what was not asked): what is out of range is refused here, before
// any job.
static std::optional<grokimagine::Error> check_channel_settings(const ChannelSettings &settings) {
  constexpr guint kMaxLookahead = 16;  // each clip ahead is a paid job
  constexpr int kMinSide = 16, kMaxSide = 8192;
  constexpr int kMaxFps = 240;
  if (settings.lookahead > kMaxLookahead)
    return grokimagine::invalid_setting("Property 'lookahead' is " +
                                        std::to_string(settings.lookahead) + ": at most " +
                                        std::to_string(kMaxLookahead) + " clips ahead.");
  for (const auto &[name, side] : {std::pair{"width", settings.width}, {"height", settings.height}})
    if (side != 0 && (side < kMinSide || side > kMaxSide))
      return grokimagine::invalid_setting(std::string("Property '") + name + "' is " +
                                          std::to_string(side) + ": 0 (from resolution and " +
                                          "aspect-ratio) or " + std::to_string(kMinSide) + " to " +
                                          std::to_string(kMaxSide) + ".");
  if (settings.fps_n <= 0 || settings.fps_d <= 0 ||
      gint64(settings.fps_n) > gint64(kMaxFps) * settings.fps_d)
    return grokimagine::invalid_setting(
        "Property 'framerate' is " + std::to_string(settings.fps_n) + "/" +
        std::to_string(settings.fps_d) + ": above 0 and at most " + std::to_string(kMaxFps) + ".");
  return grokimagine::Download::check_connections(settings.connections);
}

// READY -> PAUSED: check what every clip will be asked before anything is
// paid, fix the output format, start the worker.
static bool start_channel(GstGrokImagineChannel *self) {
  Private &p = *self->priv;
  ChannelSettings settings;
  {
    std::lock_guard<std::mutex> lock(p.settings_lock);
    settings = p.settings;
  }
  grokimagine::JobSettings job = p.job.settings();
  // Each prompt is checked as it is queued (a long one is skipped, not
  // the channel): the settings are checked with a stand-in.
  job.request.prompt = "channel";
  job.log_id = GST_OBJECT_NAME(self);
  grokimagine::Generation check;
  if (auto error = check.prepare(job)) {
    grok_imagine_post_error(GST_ELEMENT(self), *error);
    return false;
  }
  if (auto error = check_channel_settings(settings)) {
    grok_imagine_post_error(GST_ELEMENT(self), *error);
    return false;
  }
  if (settings.continuity == ChannelContinuity::LastFrame &&
      g_str_equal(check.provider().name(), "reapi")) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("Property 'continuity' is last-frame, but reapi takes images only as "
                       "public http(s) URLs, and a frame of the stream has none."),
                      (nullptr));
    return false;
  }
  ExtensionInputLimits extension_limits{};
  if (settings.continuity == ChannelContinuity::Extend) {
    if (auto error = check_extensions(check, &extension_limits)) {
      grok_imagine_post_error(GST_ELEMENT(self), *error);
      return false;
    }
  }
  grokimagine::ChannelRules rules;
  rules.live = settings.is_live;
  rules.loop = settings.loop;
  rules.filler = settings.filler;
  rules.continuity = settings.continuity;
  rules.lookahead = settings.lookahead;
  rules.more_prompts_may_come = gst_pad_is_linked(p.text_pad);
  rules.budget_usd = job.budget_usd;
  rules.clip_estimate_usd = check.cost().value_or(0);
  rules.spent_before_usd = p.job.spent_usd();
  rules.max_queued = settings.max_queued;
  auto run = std::make_unique<RunState>(rules);
  run->provider = &check.provider();
  run->job = p.job.settings();
  run->connections = settings.connections;
  run->extension_limits = extension_limits;
  const auto size = grokimagine::frame_size(job.request.resolution, job.request.aspect_ratio);
  run->format.width = settings.width > 0 ? settings.width : size.width;
  run->format.height = settings.height > 0 ? settings.height : size.height;
  run->format.fps_n = settings.fps_n;
  run->format.fps_d = settings.fps_d;
  run->timeline =
      grokimagine::ChannelTimeline(settings.fps_n, settings.fps_d, ChannelFormat::kRate);
  for (std::size_t i = 0; i < settings.prompts.size(); i++) {
    const std::string origin = "Prompt " + std::to_string(i + 1) + " of 'prompts'";
    std::string refused;
    if (auto error = run->provider->check_prompt(settings.prompts[i], "it"))
      refused = error->message;
    else if (!is_blank(settings.prompts[i]))
      run->plan.add_prompt(settings.prompts[i], std::nullopt, &refused);
    if (!refused.empty()) warn_prompt_refused(self, origin, refused);
  }
  g_autofree gchar *dir = g_dir_make_tmp("grokimaginechannel-XXXXXX", nullptr);
  if (!dir) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot create a directory for the clips."),
                      ("in %s", g_get_tmp_dir()));
    return false;
  }
  run->clips_dir = dir;
  g_autoptr(GstCaps) video_caps = run->format.video_caps();
  g_autoptr(GstCaps) audio_caps = run->format.audio_caps();
  // The latency a live channel reports: a frame, plus room for a clip's
  // first frame and its audio to come out of their decoders at a seam.
  const GstClockTime latency = run->timeline.frame_time(1) + 100 * GST_MSECOND;
  for (auto [src, caps, bytes] :
       {std::tuple{p.video_src, video_caps,
                   guint64(4) * guint64(run->format.width) * guint64(run->format.height) * 3 / 2},
        std::tuple{p.audio_src, audio_caps,
                   guint64(ChannelFormat::kRate / 2) * ChannelFormat::kBytesPerFrame}}) {
    // A few frames (half a second of audio) queued: downstream's pace is
    // the channel's pace.
    g_object_set(src, "caps", caps, "is-live", settings.is_live, "max-bytes", bytes, "min-latency",
                 gint64(settings.is_live ? latency : 0), "max-latency",
                 gint64(settings.is_live ? latency : 0), nullptr);
  }
  GstTask *task = gst_task_new(channel_loop, self, nullptr);
  gst_task_set_lock(task, &p.task_lock);
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    p.run = std::move(run);
    p.events->stopping = false;
    p.task = task;
  }
  gst_task_start(task);
  return true;
}

// Stops the streaming task's waits: for a clip, for the clock, for PLAYING.
static void stop_streaming(GstGrokImagineChannel *self) {
  Private &p = *self->priv;
  std::unique_lock<std::mutex> lock(p.events->lock);
  p.events->stopping = true;
  if (p.clock_wait) gst_clock_id_unschedule(p.clock_wait);
  p.events->changed(lock);
}

// PAUSED -> READY, after the appsrcs flushed (a blocked push returned):
// join the streaming task, say which submitted jobs never played, drop the
// clips.
static void finish_channel(GstGrokImagineChannel *self) {
  Private &p = *self->priv;
  GstTask *task;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    task = std::exchange(p.task, nullptr);
  }
  if (task) {
    gst_task_join(task);
    gst_object_unref(task);
  }
  std::unique_ptr<RunState> run;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    run = std::move(p.run);
  }
  if (!run) return;
  if (run->playing) {
    const int index = run->playing->index();
    run->clips[index] = std::move(run->playing);
  }
  for (auto &[index, clip] : run->clips) {
    std::string id;
    {
      std::lock_guard<std::mutex> lock(p.events->lock);
      id = clip_request_id(*clip);
    }
    if (id.empty()) continue;
    post_element_message(self, gst_structure_new("grokimagine-unplayed", "index", G_TYPE_INT, index,
                                                 "prompt", G_TYPE_STRING, clip->prompt().c_str(),
                                                 "request-id", G_TYPE_STRING, id.c_str(), nullptr));
  }
}

static GstStateChangeReturn gst_grok_imagine_channel_change_state(GstElement *element,
                                                                  GstStateChange transition) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(element);
  Private &p = *self->priv;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start_channel(self))
    return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) stop_streaming(self);
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) {
    // Live pacing stops with the clock, and waits for PLAYING again.
    std::unique_lock<std::mutex> lock(p.events->lock);
    p.playing = false;
    if (p.clock_wait) gst_clock_id_unschedule(p.clock_wait);
    p.events->changed(lock);
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_grok_imagine_channel_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING) {
    std::unique_lock<std::mutex> lock(p.events->lock);
    p.playing = true;
    p.events->changed(lock);
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY ||
      (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret == GST_STATE_CHANGE_FAILURE)) {
    stop_streaming(self);
    finish_channel(self);
  }
  return ret;
}

// What comes from inside a clip and is not the channel's to say goes no
// further.
static void gst_grok_imagine_channel_handle_message(GstBin *bin, GstMessage *message) {
  if (ChannelClip::from_clip(message)) {
    switch (GST_MESSAGE_TYPE(message)) {
      // Kept by the clip: the channel decides what it means (a warning, or
      // the channel's error).
      case GST_MESSAGE_ERROR:
      // gst-launch holds a prerolled pipeline in PAUSED until every
      // progress it saw completes, and a clip ahead (lookahead, an
      // extension) completes its download only while the channel plays: it
      // would never play. Its grokimagine-job messages say the same.
      case GST_MESSAGE_PROGRESS:
      // An application pausing for a clip made ahead would stall the
      // channel; a clip's streams and length are not the channel's.
      case GST_MESSAGE_BUFFERING:
      case GST_MESSAGE_STREAM_COLLECTION:
      case GST_MESSAGE_STREAMS_SELECTED:
      case GST_MESSAGE_DURATION_CHANGED:
        gst_message_unref(message);
        return;
      default:
        break;
    }
  }
  GST_BIN_CLASS(gst_grok_imagine_channel_parent_class)->handle_message(bin, message);
}

static void gst_grok_imagine_channel_class_init(GstGrokImagineChannelClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GST_BIN_CLASS(klass)->handle_message = gst_grok_imagine_channel_handle_message;

  gobject_class->finalize = gst_grok_imagine_channel_finalize;
  gobject_class->set_property = gst_grok_imagine_channel_set_property;
  gobject_class->get_property = gst_grok_imagine_channel_get_property;
  grok_imagine_install_job_properties(gobject_class, grokimagine::MediaKind::Video,
                                      GROK_IMAGINE_EACH_CLIP);
  constexpr GParamFlags rw =
      GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_PROMPTS,
      g_param_spec_boxed(
          "prompts", "Prompts",
          "The clips to play, in order (a string array); gst-launch: prompts=\"<A dog on a "
          "beach,A cat>\", items quoted where a prompt holds a comma: "
          "prompts='<\"One, two\",Three>'",
          G_TYPE_STRV, GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean("is-live", "Is live",
                           "A live source: timestamps on the pipeline clock, never ends by itself, "
                           "filler covers a clip that is not ready in time",
                           FALSE, rw));
  g_object_class_install_property(
      gobject_class, PROP_LOOP,
      g_param_spec_boolean("loop", "Loop",
                           "When the prompts run out, play the clips already generated again "
                           "(no new jobs)",
                           FALSE, rw));
  g_object_class_install_property(
      gobject_class, PROP_LOOKAHEAD,
      g_param_spec_uint("lookahead", "Lookahead",
                        "Clips generated ahead of the one playing (0 to 16; more is refused at "
                        "start)",
                        0, G_MAXUINT, 1, rw));
  g_object_class_install_property(
      gobject_class, PROP_FILLER,
      g_param_spec_enum("filler", "Filler",
                        "What covers a wait (live, or a gap before a cue): the last frame or "
                        "black, with silence",
                        filler_get_type(), int(ChannelFiller::Hold), rw));
  g_object_class_install_property(
      gobject_class, PROP_WIDTH,
      g_param_spec_int("width", "Width",
                       "Output width, 16 to 8192 (0: from resolution and aspect-ratio)", G_MININT,
                       G_MAXINT, 0, rw));
  g_object_class_install_property(
      gobject_class, PROP_HEIGHT,
      g_param_spec_int("height", "Height",
                       "Output height, 16 to 8192 (0: from resolution and aspect-ratio)", G_MININT,
                       G_MAXINT, 0, rw));
  g_object_class_install_property(
      gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction("framerate", "Frame rate", "Output frame rate (above 0, at most 240)",
                              -G_MAXINT, 1, G_MAXINT, 1, 24, 1, rw));
  g_object_class_install_property(
      gobject_class, PROP_CONTINUITY,
      g_param_spec_enum("continuity", "Continuity",
                        "How clips follow each other: each from its own prompt (none), from the "
                        "previous clip's last frame (last-frame; not reapi, no lookahead then), or "
                        "as an extension of the previous clip (extend; xai)",
                        continuity_get_type(), int(ChannelContinuity::None), rw));
  gst_grok_imagine_src_install_connections(gobject_class, PROP_CONNECTIONS);
  g_object_class_install_property(
      gobject_class, PROP_MAX_QUEUED,
      g_param_spec_uint("max-queued", "Max queued",
                        "Prompts queued and not yet played, at most: past it queue-prompt returns "
                        "FALSE and a prompt (or cue) is skipped with a warning (0: no limit)",
                        0, G_MAXUINT, kDefaultMaxQueued,
                        GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  channel_signals[SIGNAL_QUEUE_PROMPT] = g_signal_new_class_handler(
      "queue-prompt", G_TYPE_FROM_CLASS(klass), GSignalFlags(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(+[](GstGrokImagineChannel *self, const gchar *prompt) -> gboolean {
        return prompt && queue_prompt(self, prompt, std::nullopt, "A prompt from queue-prompt");
      }),
      nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  gst_type_mark_as_plugin_api(filler_get_type(), GstPluginAPIFlags(0));
  gst_type_mark_as_plugin_api(continuity_get_type(), GstPluginAPIFlags(0));
  register_prompt_list_value();

  element_class->change_state = gst_grok_imagine_channel_change_state;
  for (GstStaticPadTemplate *templ : {&video_template, &audio_template, &text_template})
    gst_element_class_add_static_pad_template(element_class, templ);
  gst_element_class_set_static_metadata(
      element_class, "Grok Imagine channel", "Source/Video/Audio/Network",
      "Turns prompts (a list, queue-prompt, or timed text on its always 'text' pad) into one "
      "continuous raw video and audio stream of generated clips, gapless, live or not",
      "gst-grokimagine developers");
  GST_DEBUG_CATEGORY_INIT(grok_imagine_channel_debug, "grokimaginechannel", 0,
                          "Grok Imagine channel");
}
