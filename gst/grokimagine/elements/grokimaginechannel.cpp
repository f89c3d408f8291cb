// SPDX-License-Identifier: LGPL-2.1-or-later
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

#include <memory>
#include <mutex>

#include "channel-run.h"
#include "channel-settings.h"
#include "core/download.h"
#include "core/failover.h"
#include "core/prompt-list.h"
#include "core/generation.h"
#include "element-errors.h"
#include "grokimaginesrc.h"
#include "job-properties.h"
#include "unchecked-param.h"

GST_DEBUG_CATEGORY(grok_imagine_channel_debug);
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
  PROP_SLATE,
};

enum { SIGNAL_QUEUE_PROMPT, N_SIGNALS };
static guint channel_signals[N_SIGNALS];

namespace {

struct Private {
  GrokImagineJobSettings job{grokimagine::MediaKind::Video};
  std::mutex settings_lock;
  ChannelSettings settings;

  GstElement *video_src = nullptr;  // appsrc, owned by the bin
  GstElement *audio_src = nullptr;
  GstPad *text_pad = nullptr;

  // What the streaming task waits on; its lock guards `run` (but its
  // destruction).
  std::shared_ptr<ChannelEvents> events = std::make_shared<ChannelEvents>();
  std::unique_ptr<ChannelRun> run;

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

// The streaming task's function: a step, or, once the channel is over,
// the task pauses (it is stopped and joined at PAUSED -> READY).
static void channel_loop(gpointer data) {
  auto *self = GST_GROK_IMAGINE_CHANNEL(data);
  Private &p = *self->priv;
  ChannelRun *run;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    run = p.run.get();
  }
  if (run && channel_run_step(*run)) return;
  GST_DEBUG_OBJECT(self, "streaming task done");
  // Not once finish_channel has taken the task: pausing a stopped task
  // would start it again.
  std::lock_guard<std::mutex> lock(p.events->lock);
  if (p.task) gst_task_pause(p.task);
}

// ---- The text pad ----

// A prompt that cannot be queued is skipped with a warning naming it
// (`origin`): too long for the provider, past max-queued, too late.
static void warn_prompt_refused(GstGrokImagineChannel *self, const std::string &origin,
                                const std::string &why) {
  GROK_IMAGINE_ELEMENT_WARNING(self, RESOURCE, SETTINGS, "invalid-settings",
                               ("%s is skipped: %s", origin.c_str(), why.c_str()), (nullptr));
}

// Queues a prompt for the running channel (or, stopped, for its next
// run); `origin` names it in a warning (a cue, queue-prompt).
static bool queue_prompt(GstGrokImagineChannel *self, const std::string &prompt,
                         std::optional<guint64> cue, const std::string &origin) {
  Private &p = *self->priv;
  if (grokimagine::is_blank_prompt(prompt)) {
    GST_INFO_OBJECT(self, "empty prompt (%s) skipped", origin.c_str());
    return false;
  }
  std::string refused;
  {
    std::lock_guard<std::mutex> lock(p.events->lock);
    if (p.run) {
      if (auto error = p.run->provider->check_prompt(prompt, "it"))
        refused = error->message;
      else if (auto not_queued = p.run->plan.add_prompt(prompt, cue))
        refused = not_queued->message;
    } else {
      // Not running: the prompt joins the playlist of the next run (its
      // length is checked then, with the provider the run will have).
      std::lock_guard<std::mutex> settings_lock(p.settings_lock);
      if (p.settings.max_queued > 0 && p.settings.prompts.size() >= p.settings.max_queued)
        refused = grokimagine::queue_full(p.settings.max_queued);
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
  if (g_strcmp0(format, "pango-markup") == 0) text = grokimagine::plain_text_of_markup(text);
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
    case PROP_SLATE: {
      const gchar *slate = g_value_get_string(value);
      s.slate = slate ? slate : "";
      break;
    }
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
    p.job.get_property(object, prop_id, value, pspec);
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
    case PROP_SLATE:
      g_value_set_string(value, s.slate.empty() ? nullptr : s.slate.c_str());
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
  job.log_id = GST_OBJECT_NAME(self);
  grokimagine::Generation check;
  ChannelChecked checked;
  if (auto error = check_channel(settings, job, check, &checked)) {
    GROK_IMAGINE_POST_ERROR(GST_ELEMENT(self), *error);
    return false;
  }
  // Checked as a clip's job would be (with a stand-in prompt, as above).
  grokimagine::JobSettings clip_job = job;
  clip_job.request.prompt = "channel";
  auto fallbacks = grokimagine::prepare_fallbacks(clip_job, check.provider());
  if (auto *error = std::get_if<grokimagine::Error>(&fallbacks)) {
    GROK_IMAGINE_POST_ERROR(GST_ELEMENT(self), *error);
    return false;
  }
  grok_imagine_warn_skipped_fallbacks(GST_ELEMENT(self),
                                      std::get<grokimagine::Fallbacks>(fallbacks).skipped);
  grokimagine::ChannelRules rules = channel_rules(settings);
  rules.more_prompts_may_come = gst_pad_is_linked(p.text_pad);
  rules.budget_usd = job.budget_usd;
  rules.clip_estimate_usd = check.cost().value_or(0);
  rules.preview_estimate_usd = checked.preview_estimate_usd;
  rules.spent_before_usd = p.job.spent_usd();
  auto run = std::make_unique<ChannelRun>(GST_ELEMENT(self), p.video_src, p.audio_src, p.job,
                                          p.events, rules);
  run->provider = &check.provider();
  run->job = p.job.settings();
  run->job.log_id = job.log_id;
  run->connections = settings.connections;
  run->extension_limits = checked.extension_limits;
  run->set_format(settings, job);
  for (std::size_t i = 0; i < settings.prompts.size(); i++) {
    const std::string origin = "Prompt " + std::to_string(i + 1) + " of 'prompts'";
    std::string refused;
    if (auto error = run->provider->check_prompt(settings.prompts[i], "it"))
      refused = error->message;
    else if (grokimagine::is_blank_prompt(settings.prompts[i]))
      continue;
    else if (auto not_queued = run->plan.add_prompt(settings.prompts[i]))
      refused = not_queued->message;
    if (!refused.empty()) warn_prompt_refused(self, origin, refused);
  }
  g_autofree gchar *dir = g_dir_make_tmp("grokimaginechannel-XXXXXX", nullptr);
  if (!dir) {
    GROK_IMAGINE_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, "io",
                               ("Cannot create a directory for the clips."),
                               ("in %s", g_get_tmp_dir()));
    return false;
  }
  run->clips_dir = dir;
  run->slate_source = settings.slate;
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
  if (p.run) g_cancellable_cancel(p.run->stopped.get());
  if (p.run && p.run->clock_wait) gst_clock_id_unschedule(p.run->clock_wait);
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
  std::unique_ptr<ChannelRun> run;
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
    gst_element_post_message(
        GST_ELEMENT(self),
        gst_message_new_element(
            GST_OBJECT(self), gst_structure_new("grokimagine-unplayed", "index", G_TYPE_INT, index,
                                                "prompt", G_TYPE_STRING, clip->prompt().c_str(),
                                                "request-id", G_TYPE_STRING, id.c_str(), nullptr)));
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
    if (p.run) {
      p.run->pipeline_playing = false;
      if (p.run->clock_wait) gst_clock_id_unschedule(p.run->clock_wait);
    }
    p.events->changed(lock);
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_grok_imagine_channel_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING) {
    std::unique_lock<std::mutex> lock(p.events->lock);
    if (p.run) p.run->pipeline_playing = true;
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
      grok_imagine_param_spec_uint("lookahead", "Lookahead",
                                   "Clips generated ahead of the one playing (0 to 16; more is "
                                   "refused at start)",
                                   0, 16, 1, rw));
  g_object_class_install_property(
      gobject_class, PROP_FILLER,
      g_param_spec_enum("filler", "Filler",
                        "What covers a wait (live, or a gap before a cue): the last frame "
                        "(hold), black, the card in 'slate' or a still of the awaited clip's "
                        "prompt made with it (preview, a paid image job), with silence, or the "
                        "last clip played again (loop)",
                        grok_imagine_channel_filler_get_type(), int(ChannelFiller::Hold), rw));
  g_object_class_install_property(
      gobject_class, PROP_SLATE,
      g_param_spec_string("slate", "Slate",
                          "The operator's card for filler=slate: an image or a clip of at most "
                          "10 s (an MP4, looped without its sound), as a local path, a file:// "
                          "URI, an http(s) URL or (an image) a data: URI; read once at start and "
                          "letter-boxed to the output",
                          nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_WIDTH,
      grok_imagine_param_spec_int("width", "Width",
                                  "Output width, 16 to 8192 (0: from resolution and aspect-ratio)",
                                  0, 8192, 0, rw));
  g_object_class_install_property(
      gobject_class, PROP_HEIGHT,
      grok_imagine_param_spec_int("height", "Height",
                                  "Output height, 16 to 8192 (0: from resolution and aspect-ratio)",
                                  0, 8192, 0, rw));
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
                        grok_imagine_channel_continuity_get_type(), int(ChannelContinuity::None),
                        rw));
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
  gst_type_mark_as_plugin_api(grok_imagine_channel_filler_get_type(), GstPluginAPIFlags(0));
  gst_type_mark_as_plugin_api(grok_imagine_channel_continuity_get_type(), GstPluginAPIFlags(0));
  grok_imagine_register_prompt_list_value();

  element_class->change_state = GST_DEBUG_FUNCPTR(gst_grok_imagine_channel_change_state);
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
