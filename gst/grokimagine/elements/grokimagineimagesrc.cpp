// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-grokimagineimagesrc
 * @title: grokimagineimagesrc
 *
 * Generates images from a prompt with a Grok Imagine provider (segmind,
 * xai) and outputs each as one encoded buffer (image/png, image/jpeg or
 * image/webp), then EOS.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 grokimagineimagesrc prompt="A snow leopard at dawn" n=2 ! \
 *     multifilesink location=leopard-%d.png
 * gst-launch-1.0 grokimagineimagesrc prompt="A lighthouse" ! pngdec ! imagefreeze ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#include "grokimagineimagesrc.h"

#include "core/image-set.h"
#include "element-errors.h"
#include "job-messages.h"
#include "job-properties.h"

GST_DEBUG_CATEGORY_STATIC(grok_imagine_image_src_debug);
#define GST_CAT_DEFAULT grok_imagine_image_src_debug

namespace {

struct Private {
  GrokImagineJobSettings job{grokimagine::MediaKind::Image};

  // Streaming thread only.
  grokimagine::ImageSet images;
  bool job_done = false;
  size_t next = 0;
};

}  // namespace

struct _GstGrokImagineImageSrc {
  GstPushSrc parent;
  Private *priv;
};

G_DEFINE_TYPE(GstGrokImagineImageSrc, gst_grok_imagine_image_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE(grokimagineimagesrc, "grokimagineimagesrc", GST_RANK_NONE,
                            GST_TYPE_GROK_IMAGINE_IMAGE_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("image/png; image/jpeg; image/webp"));

static void gst_grok_imagine_image_src_init(GstGrokImagineImageSrc *self) {
  self->priv = new Private();
}

static void gst_grok_imagine_image_src_finalize(GObject *object) {
  delete GST_GROK_IMAGINE_IMAGE_SRC(object)->priv;
  G_OBJECT_CLASS(gst_grok_imagine_image_src_parent_class)->finalize(object);
}

static void gst_grok_imagine_image_src_set_property(GObject *object, guint prop_id,
                                                    const GValue *value, GParamSpec *pspec) {
  GST_GROK_IMAGINE_IMAGE_SRC(object)->priv->job.set_property(GST_ELEMENT(object), prop_id, value,
                                                             pspec);
}

static void gst_grok_imagine_image_src_get_property(GObject *object, guint prop_id, GValue *value,
                                                    GParamSpec *pspec) {
  GST_GROK_IMAGINE_IMAGE_SRC(object)->priv->job.get_property(object, prop_id, value, pspec);
}

// Checks the settings and prepares the job; nothing is sent. False once
// the refusal is posted.
static bool prepare_job(GstGrokImagineImageSrc *self) {
  Private &p = *self->priv;
  p.images = grokimagine::ImageSet();
  p.job_done = false;
  p.next = 0;
  p.job.set_eos_requested(false);
  grokimagine::JobSettings settings = p.job.settings();
  settings.log_id = GST_OBJECT_NAME(self);
  if (auto error = p.images.prepare(settings)) {
    GROK_IMAGINE_POST_ERROR(GST_ELEMENT(self), *error);
    return false;
  }
  grok_imagine_warn_skipped_fallbacks(GST_ELEMENT(self), p.images.skipped());
  return true;
}

// Before GstBaseSrc starts, as grokimaginesrc does: one error, the element's.
static GstStateChangeReturn gst_grok_imagine_image_src_change_state(GstElement *element,
                                                                    GstStateChange transition) {
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED &&
      !prepare_job(GST_GROK_IMAGINE_IMAGE_SRC(element)))
    return GST_STATE_CHANGE_FAILURE;
  return GST_ELEMENT_CLASS(gst_grok_imagine_image_src_parent_class)
      ->change_state(element, transition);
}

static gboolean gst_grok_imagine_image_src_stop(GstBaseSrc *base) {
  Private &p = *GST_GROK_IMAGINE_IMAGE_SRC(base)->priv;
  grok_imagine_settle_on_stop(GST_ELEMENT(base), p.images.generation(), p.job);
  p.images = grokimagine::ImageSet();
  return TRUE;
}

static gboolean gst_grok_imagine_image_src_unlock(GstBaseSrc *base) {
  GST_GROK_IMAGINE_IMAGE_SRC(base)->priv->job.cancel();
  return TRUE;
}

static gboolean gst_grok_imagine_image_src_unlock_stop(GstBaseSrc *base) {
  GST_GROK_IMAGINE_IMAGE_SRC(base)->priv->job.renew_cancellable();
  return TRUE;
}

static GstFlowReturn gst_grok_imagine_image_src_create(GstPushSrc *push, GstBuffer **out) {
  auto *self = GST_GROK_IMAGINE_IMAGE_SRC(push);
  Private &p = *self->priv;
  if (!p.job_done) {
    if (!grok_imagine_check_linked(GST_BASE_SRC(self), p.images.generation()))
      return GST_FLOW_NOT_LINKED;
    const auto cancellable = p.job.cancellable();
    GstFlowReturn ret =
        grok_imagine_run_job(GST_ELEMENT(self), p.images.generation(), p.job,
                             [&p, &cancellable](const grokimagine::JobEvents &events) {
                               return p.images.run(cancellable.get(), events);
                             });
    if (ret == GST_FLOW_FLUSHING)
      grok_imagine_settle_on_eos(GST_ELEMENT(self), p.images.generation(), p.job);
    if (ret != GST_FLOW_OK) return ret;
    p.job_done = true;
    p.images.generation().record().delivered({}, 0);
    grok_imagine_post_progress(GST_ELEMENT(self), GST_PROGRESS_TYPE_COMPLETE,
                               std::to_string(p.images.images().size()) + " image(s) received");
  }
  if (p.next >= p.images.images().size()) return GST_FLOW_EOS;
  const grokimagine::Output &image = p.images.images()[p.next];
  g_autoptr(GstCaps) caps = gst_caps_new_empty_simple(image.mime_type.c_str());
  g_autoptr(GstCaps) current = gst_pad_get_current_caps(GST_BASE_SRC_PAD(self));
  if (!current || !gst_caps_is_equal(current, caps)) {
    if (!gst_base_src_set_caps(GST_BASE_SRC(self), caps)) return GST_FLOW_NOT_NEGOTIATED;
  }
  GstBuffer *buffer = gst_buffer_new_memdup(image.data.data(), image.data.size());
  GST_BUFFER_OFFSET(buffer) = p.next;
  GST_BUFFER_OFFSET_END(buffer) = p.next + 1;
  p.next++;
  *out = buffer;
  return GST_FLOW_OK;
}

static gboolean gst_grok_imagine_image_src_send_event(GstElement *element, GstEvent *event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS)
    GST_GROK_IMAGINE_IMAGE_SRC(element)->priv->job.set_eos_requested(true);
  return GST_ELEMENT_CLASS(gst_grok_imagine_image_src_parent_class)->send_event(element, event);
}

static void gst_grok_imagine_image_src_class_init(GstGrokImagineImageSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS(klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS(klass);

  gobject_class->finalize = gst_grok_imagine_image_src_finalize;
  gobject_class->set_property = gst_grok_imagine_image_src_set_property;
  gobject_class->get_property = gst_grok_imagine_image_src_get_property;
  grok_imagine_install_job_properties(gobject_class, grokimagine::MediaKind::Image);

  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Grok Imagine image source", "Source/Image/Network",
      "Generates images from a prompt with a Grok Imagine provider and outputs each as one "
      "encoded buffer, then EOS. Example: grokimagineimagesrc prompt=\"A lighthouse\" n=2 ! "
      "multifilesink location=img-%d.png",
      "gst-grokimagine developers");

  element_class->send_event = GST_DEBUG_FUNCPTR(gst_grok_imagine_image_src_send_event);
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_grok_imagine_image_src_change_state);
  basesrc_class->stop = GST_DEBUG_FUNCPTR(gst_grok_imagine_image_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR(gst_grok_imagine_image_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR(gst_grok_imagine_image_src_unlock_stop);
  pushsrc_class->create = GST_DEBUG_FUNCPTR(gst_grok_imagine_image_src_create);

  GST_DEBUG_CATEGORY_INIT(grok_imagine_image_src_debug, "grokimagineimagesrc", 0,
                          "Grok Imagine image source");
}
