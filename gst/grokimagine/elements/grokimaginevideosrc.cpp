// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-grokimaginevideosrc
 * @title: grokimaginevideosrc
 *
 * grokimaginesrc ! decodebin3 in one element: generates a clip and exposes
 * its decoded video and audio as video_%u / audio_%u sometimes pads. With
 * decode=false (grokimaginesrc ! qtdemux) the pads carry the provider's
 * H.264 and AAC samples untouched, for remuxing without re-encoding. Each pad carries the job as
 * tags: title (the prompt), comment (provider, model, request id), duration.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 grokimaginevideosrc prompt="A dog running on a sunlit beach" name=g \
 *   g. ! queue ! videoconvert ! autovideosink \
 *   g. ! queue ! audioconvert ! autoaudiosink
 * gst-launch-1.0 grokimaginevideosrc decode=false prompt="A dog on a beach" name=g \
 *   g. ! queue ! h264parse ! mp4mux name=m ! filesink location=dog.mp4 \
 *   g. ! queue ! aacparse ! m.
 * gst-launch-1.0 grokimaginevideosrc provider=xai operation=extend video=clip.mp4 duration=4 \
 *   output=continuation prompt="The dog keeps running" name=g \
 *   g. ! queue ! videoconvert ! autovideosink g. ! queue ! audioconvert ! autoaudiosink
 * ]|
 *
 * With operation=extend and output=continuation (xai) each pad starts where
 * the extension's new seconds do.
 */
#include "grokimaginevideosrc.h"

#include <utility>

#include "element-errors.h"
#include "grokimaginesrc.h"
#include "job-properties.h"
#include "pad-media.h"
#include "stream-cut.h"

GST_DEBUG_CATEGORY_STATIC(grok_imagine_video_src_debug);
#define GST_CAT_DEFAULT grok_imagine_video_src_debug

enum { PROP_DECODE = GROK_IMAGINE_N_JOB_PROPERTIES, PROP_CONNECTIONS };

struct _GstGrokImagineVideoSrc {
  GstBin parent;
  GstElement *source;
  GstElement *decoder;  // decodebin3 or qtdemux; null when not installed
  gboolean decode;
  guint video_pads;
  guint audio_pads;
};

G_DEFINE_TYPE(GstGrokImagineVideoSrc, gst_grok_imagine_video_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(grokimaginevideosrc, "grokimaginevideosrc", GST_RANK_NONE,
                            GST_TYPE_GROK_IMAGINE_VIDEO_SRC);

// Decoded (video/x-raw, audio/x-raw) or, with decode=false, H.264 / AAC.
static GstStaticPadTemplate video_template =
    GST_STATIC_PAD_TEMPLATE("video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate audio_template =
    GST_STATIC_PAD_TEMPLATE("audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS_ANY);

static const char *kGhostKey = "grokimagine-ghost";

// Tags follow caps: stored as a sticky event on the pad once caps pass, so
// they reach muxers before the first buffer.
static GstPadProbeReturn tag_after_caps(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
  auto *self = static_cast<GstGrokImagineVideoSrc *>(data);
  GstTagList *tags = gst_grok_imagine_src_get_job_tags(GST_GROK_IMAGINE_SRC(self->source));
  gst_tag_list_set_scope(tags, GST_TAG_SCOPE_GLOBAL);
  g_autoptr(GstEvent) tag_event = gst_event_new_tag(tags);
  gst_pad_store_sticky_event(pad, tag_event);
  return GST_PAD_PROBE_REMOVE;
}

// output=continuation: each pad starts where the extension's new seconds
// do. The segment starts there (running time 0 at the first new frame)
// and what comes before it is dropped. Where the new part starts is the
// job's word (the input's length, or the result's as its status gave it,
// less `duration`), else the clip's length as the demuxer knows it less
// `duration`.
struct Continuation {
  GstGrokImagineVideoSrc *self;
  bool video;
  bool decided = false;
  GstClockTime start = GST_CLOCK_TIME_NONE;
};

static GstClockTime continuation_start(GstGrokImagineVideoSrc *self, const GstSegment *segment) {
  GstClockTime known =
      gst_grok_imagine_src_get_continuation_start(GST_GROK_IMAGINE_SRC(self->source));
  if (GST_CLOCK_TIME_IS_VALID(known)) return known;
  gint seconds = 0;
  g_object_get(self->source, "duration", &seconds, nullptr);
  // The demuxer puts the clip's length in the segment; else ask upstream.
  gint64 total = GST_CLOCK_TIME_IS_VALID(segment->duration) ? gint64(segment->duration) : -1;
  if (total <= 0 && !gst_element_query_duration(self->decoder, GST_FORMAT_TIME, &total)) total = -1;
  if (total <= 0) {
    GST_WARNING_OBJECT(self, "the clip's length is unknown: playing it whole");
    return 0;
  }
  const GstClockTime added = GstClockTime(seconds) * GST_SECOND;
  return GstClockTime(total) > added ? GstClockTime(total) - added : 0;
}

static GstPadProbeReturn skip_to_continuation(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *cut = static_cast<Continuation *>(data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) != GST_EVENT_SEGMENT) return GST_PAD_PROBE_OK;
    const GstSegment *segment = nullptr;
    gst_event_parse_segment(event, &segment);
    if (!cut->decided) {
      cut->start = continuation_start(cut->self, segment);
      cut->decided = true;
      GST_DEBUG_OBJECT(cut->self, "%s: the continuation starts at %" GST_TIME_FORMAT,
                       GST_PAD_NAME(pad), GST_TIME_ARGS(cut->start));
    }
    if (GST_CLOCK_TIME_IS_VALID(cut->start) && cut->start > 0)
      grok_imagine_cut_segment(info, cut->start, true);
    return GST_PAD_PROBE_OK;
  }
  // A frame before the start is the input's; audio reaching past it is kept
  // (sinks clip it to the segment).
  return GST_CLOCK_TIME_IS_VALID(cut->start) &&
                 grok_imagine_before_cut(GST_PAD_PROBE_INFO_BUFFER(info), cut->start,
                                         cut->video ? CutRule::kStartsBefore : CutRule::kEndsBefore)
             ? GST_PAD_PROBE_DROP
             : GST_PAD_PROBE_OK;
}

static void on_decoder_pad_added(GstElement *, GstPad *pad, GstGrokImagineVideoSrc *self) {
  const std::string media = grok_imagine_pad_media(pad);
  const bool video = g_str_has_prefix(media.c_str(), "video/");
  if (!video && !g_str_has_prefix(media.c_str(), "audio/")) {
    GST_DEBUG_OBJECT(self, "not exposing a %s pad", media.c_str());
    return;
  }
  g_autofree gchar *name = g_strdup_printf(video ? "video_%u" : "audio_%u",
                                           video ? self->video_pads++ : self->audio_pads++);
  g_autoptr(GstPadTemplate) pad_template =
      gst_static_pad_template_get(video ? &video_template : &audio_template);
  GstPad *ghost = gst_ghost_pad_new_from_template(name, pad, pad_template);
  g_object_set_data(G_OBJECT(pad), kGhostKey, ghost);
  gst_pad_add_probe(ghost, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, tag_after_caps, self, nullptr);
  gint output = 0;
  g_object_get(self->source, "output", &output, nullptr);
  if (output == 1 && self->decode)
    gst_pad_add_probe(
        ghost, GstPadProbeType(GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_BUFFER),
        skip_to_continuation, new Continuation{self, video},
        [](gpointer data) { delete static_cast<Continuation *>(data); });
  gst_pad_set_active(ghost, TRUE);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
}

static void on_decoder_pad_removed(GstElement *, GstPad *pad, GstGrokImagineVideoSrc *self) {
  auto *ghost = static_cast<GstPad *>(g_object_steal_data(G_OBJECT(pad), kGhostKey));
  if (!ghost) return;
  gst_pad_set_active(ghost, FALSE);
  gst_element_remove_pad(GST_ELEMENT(self), ghost);
}

// decodebin3 for decoded pads; qtdemux for the samples as they are (parsebin
// would let h264parse put SPS/PPS into the first keyframe).
static void use_decoder(GstGrokImagineVideoSrc *self, gboolean decode) {
  if (self->decoder) {
    gst_element_set_state(self->decoder, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(self), self->decoder);
  }
  self->decode = decode;
  g_object_set_data(G_OBJECT(self->source), GST_GROK_IMAGINE_SRC_DECODED_KEY,
                    decode ? GINT_TO_POINTER(1) : nullptr);
  self->decoder = gst_element_factory_make(decode ? "decodebin3" : "qtdemux", "decoder");
  if (!self->decoder) return;
  gst_bin_add(GST_BIN(self), self->decoder);
  gst_element_link(self->source, self->decoder);
  g_signal_connect(self->decoder, "pad-added", G_CALLBACK(on_decoder_pad_added), self);
  g_signal_connect(self->decoder, "pad-removed", G_CALLBACK(on_decoder_pad_removed), self);
}

static void gst_grok_imagine_video_src_init(GstGrokImagineVideoSrc *self) {
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
  self->source = GST_ELEMENT(g_object_new(GST_TYPE_GROK_IMAGINE_SRC, "name", "source", nullptr));
  gst_bin_add(GST_BIN(self), self->source);
  g_signal_connect(self->source, "notify::request-id",
                   G_CALLBACK(+[](GObject *, GParamSpec *, GObject *bin) {
                     g_object_notify(bin, "request-id");
                   }),
                   self);
  use_decoder(self, TRUE);
}

static void gst_grok_imagine_video_src_set_property(GObject *object, guint prop_id,
                                                    const GValue *value, GParamSpec *pspec) {
  auto *self = GST_GROK_IMAGINE_VIDEO_SRC(object);
  if (prop_id == PROP_DECODE) {
    if (g_value_get_boolean(value) != self->decode) use_decoder(self, g_value_get_boolean(value));
    return;
  }
  g_object_set_property(G_OBJECT(self->source), pspec->name, value);
}

static void gst_grok_imagine_video_src_get_property(GObject *object, guint prop_id, GValue *value,
                                                    GParamSpec *pspec) {
  auto *self = GST_GROK_IMAGINE_VIDEO_SRC(object);
  if (prop_id == PROP_DECODE) {
    g_value_set_boolean(value, self->decode);
    return;
  }
  g_object_get_property(G_OBJECT(self->source), pspec->name, value);
}

// The pads appear only once the clip is downloaded and decoding: whoever
// links them (gst-launch's delayed links, an application) waits for
// pad-added. With nobody waiting, the job would be paid and then fail
// not-linked, so it is refused before anything is sent (resuming a job
// costs nothing and goes on).
static bool outputs_will_be_linked(GstGrokImagineVideoSrc *self) {
  if (g_signal_has_handler_pending(self, g_signal_lookup("pad-added", GST_TYPE_ELEMENT), 0, FALSE))
    return true;
  g_autofree gchar *request_id = nullptr;
  g_object_get(self->source, "request-id", &request_id, nullptr);
  if (request_id && *request_id) return true;
  GROK_IMAGINE_ELEMENT_ERROR(
      self, CORE, PAD, "not-linked",
      ("%s's pads are not linked: nothing was submitted (and nothing paid).",
       GST_OBJECT_NAME(self)),
      ("nothing connects to pad-added, which links the video and audio pads"));
  return false;
}

static GstStateChangeReturn gst_grok_imagine_video_src_change_state(GstElement *element,
                                                                    GstStateChange transition) {
  auto *self = GST_GROK_IMAGINE_VIDEO_SRC(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    if (!self->decoder) {
      GROK_IMAGINE_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN, "missing-plugin",
                                 ("Missing element '%s'.", self->decode ? "decodebin3" : "qtdemux"),
                                 ("install gstreamer1.0-plugins-base"));
      return GST_STATE_CHANGE_FAILURE;
    }
    self->video_pads = 0;
    self->audio_pads = 0;
    gint output = 0;
    g_object_get(self->source, "output", &output, nullptr);
    if (output == 1 && !self->decode) {
      GROK_IMAGINE_POST_ERROR(
          element, grokimagine::invalid_setting(
                       "Property 'output' is 'continuation' but decode=false: the samples are "
                       "passed on untouched, so the clip cannot start mid-way; use decode=true "
                       "or output=full. Nothing was sent."));
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !outputs_will_be_linked(self))
    return GST_STATE_CHANGE_FAILURE;
  return GST_ELEMENT_CLASS(gst_grok_imagine_video_src_parent_class)
      ->change_state(element, transition);
}

static void gst_grok_imagine_video_src_class_init(GstGrokImagineVideoSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_grok_imagine_video_src_set_property;
  gobject_class->get_property = gst_grok_imagine_video_src_get_property;
  grok_imagine_install_job_properties(gobject_class, grokimagine::MediaKind::Video);
  gst_grok_imagine_src_install_connections(gobject_class, PROP_CONNECTIONS);
  g_object_class_install_property(
      gobject_class, PROP_DECODE,
      g_param_spec_boolean(
          "decode", "Decode",
          "Decode to raw video and audio; false gives the parsed H.264 and AAC "
          "for remuxing without re-encoding",
          TRUE, GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_grok_imagine_video_src_change_state);

  for (auto [templ, caps] : {std::pair{&video_template, "video/x-raw(ANY); video/x-h264"},
                             std::pair{&audio_template, "audio/x-raw(ANY); audio/mpeg"}}) {
    GstPadTemplate *pad_template = gst_static_pad_template_get(templ);
    g_autoptr(GstCaps) documented = gst_caps_from_string(caps);
    gst_pad_template_set_documentation_caps(pad_template, documented);
    gst_element_class_add_pad_template(element_class, pad_template);
  }
  gst_element_class_set_static_metadata(
      element_class, "Grok Imagine decoded video source", "Source/Video/Audio/Network",
      "Generates a video clip from a prompt with a Grok Imagine provider and outputs its decoded "
      "video and audio (decode=false: its H.264 and AAC). Example: grokimaginevideosrc "
      "prompt=\"A dog on a beach\" name=g "
      "g. ! queue ! videoconvert ! autovideosink g. ! queue ! audioconvert ! autoaudiosink",
      "gst-grokimagine developers");

  GST_DEBUG_CATEGORY_INIT(grok_imagine_video_src_debug, "grokimaginevideosrc", 0,
                          "Grok Imagine decoded video source");
}
