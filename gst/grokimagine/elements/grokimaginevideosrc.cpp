/**
 * SECTION:element-grokimaginevideosrc
 * @title: grokimaginevideosrc
 *
 * grokimaginesrc ! decodebin3 in one element: generates a clip and exposes
 * its decoded video and audio as video_%u / audio_%u sometimes pads.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 grokimaginevideosrc prompt="A dog running on a sunlit beach" name=g \
 *   g. ! queue ! videoconvert ! autovideosink \
 *   g. ! queue ! audioconvert ! autoaudiosink
 * ]|
 */
#include "grokimaginevideosrc.h"

#include "grokimaginesrc.h"
#include "job-properties.h"

GST_DEBUG_CATEGORY_STATIC(grok_imagine_video_src_debug);
#define GST_CAT_DEFAULT grok_imagine_video_src_debug

struct _GstGrokImagineVideoSrc {
  GstBin parent;
  GstElement *source;
  GstElement *decoder;  // null when decodebin3 is not installed
};

G_DEFINE_TYPE(GstGrokImagineVideoSrc, gst_grok_imagine_video_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(grokimaginevideosrc, "grokimaginevideosrc", GST_RANK_NONE,
                            GST_TYPE_GROK_IMAGINE_VIDEO_SRC);

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE(
    "video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS("video/x-raw(ANY)"));
static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE(
    "audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS("audio/x-raw(ANY)"));

static void on_decoder_pad_added(GstElement *, GstPad *pad, GstGrokImagineVideoSrc *self) {
  g_autofree gchar *name = gst_pad_get_name(pad);
  GstStaticPadTemplate *templ = g_str_has_prefix(name, "video_")   ? &video_template
                                : g_str_has_prefix(name, "audio_") ? &audio_template
                                                                   : nullptr;
  if (!templ) {
    GST_DEBUG_OBJECT(self, "not exposing decoder pad %s", name);
    return;
  }
  g_autoptr(GstPadTemplate) pad_template = gst_static_pad_template_get(templ);
  GstPad *ghost = gst_ghost_pad_new_from_template(name, pad, pad_template);
  gst_pad_set_active(ghost, TRUE);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
}

static void on_decoder_pad_removed(GstElement *, GstPad *pad, GstGrokImagineVideoSrc *self) {
  g_autofree gchar *name = gst_pad_get_name(pad);
  g_autoptr(GstPad) ghost = gst_element_get_static_pad(GST_ELEMENT(self), name);
  if (!ghost) return;
  gst_pad_set_active(ghost, FALSE);
  gst_element_remove_pad(GST_ELEMENT(self), ghost);
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
  self->decoder = gst_element_factory_make("decodebin3", "decoder");
  if (!self->decoder) return;
  gst_bin_add(GST_BIN(self), self->decoder);
  gst_element_link(self->source, self->decoder);
  g_signal_connect(self->decoder, "pad-added", G_CALLBACK(on_decoder_pad_added), self);
  g_signal_connect(self->decoder, "pad-removed", G_CALLBACK(on_decoder_pad_removed), self);
}

static void gst_grok_imagine_video_src_set_property(GObject *object, guint, const GValue *value,
                                                    GParamSpec *pspec) {
  g_object_set_property(G_OBJECT(GST_GROK_IMAGINE_VIDEO_SRC(object)->source), pspec->name, value);
}

static void gst_grok_imagine_video_src_get_property(GObject *object, guint, GValue *value,
                                                    GParamSpec *pspec) {
  g_object_get_property(G_OBJECT(GST_GROK_IMAGINE_VIDEO_SRC(object)->source), pspec->name, value);
}

static GstStateChangeReturn gst_grok_imagine_video_src_change_state(GstElement *element,
                                                                    GstStateChange transition) {
  auto *self = GST_GROK_IMAGINE_VIDEO_SRC(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !self->decoder) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN, ("Missing element 'decodebin3'."),
                      ("install gstreamer1.0-plugins-base"));
    return GST_STATE_CHANGE_FAILURE;
  }
  return GST_ELEMENT_CLASS(gst_grok_imagine_video_src_parent_class)
      ->change_state(element, transition);
}

static void gst_grok_imagine_video_src_class_init(GstGrokImagineVideoSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  gobject_class->set_property = gst_grok_imagine_video_src_set_property;
  gobject_class->get_property = gst_grok_imagine_video_src_get_property;
  grok_imagine_install_job_properties(gobject_class, grokimagine::MediaKind::Video);
  element_class->change_state = gst_grok_imagine_video_src_change_state;

  gst_element_class_add_static_pad_template(element_class, &video_template);
  gst_element_class_add_static_pad_template(element_class, &audio_template);
  gst_element_class_set_static_metadata(
      element_class, "Grok Imagine decoded video source", "Source/Video/Audio/Network",
      "Generates a video clip from a prompt with a Grok Imagine provider and outputs its decoded "
      "video and audio. Example: grokimaginevideosrc prompt=\"A dog on a beach\" name=g "
      "g. ! queue ! videoconvert ! autovideosink g. ! queue ! audioconvert ! autoaudiosink",
      "gst-grokimagine developers");

  GST_DEBUG_CATEGORY_INIT(grok_imagine_video_src_debug, "grokimaginevideosrc", 0,
                          "Grok Imagine decoded video source");
}
