// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-grokimaginesrc
 * @title: grokimaginesrc
 *
 * Generates a video clip with a Grok Imagine provider and outputs it as MP4
 * bytes: submits the job, polls it, downloads the clip and streams it as it
 * arrives. Seekable and sized, so qtdemux plays it whether or not the moov
 * atom comes first.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 grokimaginesrc prompt="A dog running on a sunlit beach" duration=6 ! \
 *     filesink location=dog.mp4
 * ]|
 */
#include "grokimaginesrc.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clip-source.h"
#include "core/gobject-ptr.h"
#include "element-errors.h"
#include "job-messages.h"
#include "job-properties.h"
#include "job-uri.h"
#include "unchecked-param.h"

GST_DEBUG_CATEGORY_STATIC(grok_imagine_src_debug);
#define GST_CAT_DEFAULT grok_imagine_src_debug

using grokimagine::ClipSource;
using grokimagine::Download;
using grokimagine::JobStatus;

namespace {

constexpr guint kBlockSize = 64 * 1024;

enum { PROP_CONNECTIONS = GROK_IMAGINE_N_JOB_PROPERTIES };

struct Private {
  GrokImagineJobSettings job{grokimagine::MediaKind::Video};

  // Streaming thread only; also stop(), and gst_grok_imagine_src_deliver()
  // under delivery_lock once the download is complete.
  ClipSource clip;
  bool job_done = false;
  std::mutex delivery_lock;
  bool delivered = false;  // the journal knows (under delivery_lock)
  // Published for get_size(), which other threads reach through queries:
  // shared, so that a query holding it keeps it alive through a stop.
  std::mutex download_lock;
  std::shared_ptr<Download> download;
  bool download_complete = false;  // the download is complete (written under delivery_lock)
  std::atomic<guint> connections{Download::kDefaultConnections};
  // Set by a parent bin before start: the job it runs (properties unused).
  std::optional<GrokImagineClipJob> clip_job;
};

}  // namespace

struct _GstGrokImagineSrc {
  GstBaseSrc parent;
  Private *priv;
};

static void gst_grok_imagine_src_uri_handler_init(gpointer iface, gpointer);

G_DEFINE_TYPE_WITH_CODE(GstGrokImagineSrc, gst_grok_imagine_src, GST_TYPE_BASE_SRC,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER,
                                              gst_grok_imagine_src_uri_handler_init));
// Ranked so that playbin and uridecodebin3 find it for grokimagine:// URIs.
GST_ELEMENT_REGISTER_DEFINE(grokimaginesrc, "grokimaginesrc", GST_RANK_SECONDARY,
                            GST_TYPE_GROK_IMAGINE_SRC);

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/quicktime"));

static void gst_grok_imagine_src_init(GstGrokImagineSrc *self) {
  self->priv = new Private();
  gst_base_src_set_blocksize(GST_BASE_SRC(self), kBlockSize);
  gst_base_src_set_dynamic_size(GST_BASE_SRC(self), TRUE);
}

static void gst_grok_imagine_src_finalize(GObject *object) {
  delete GST_GROK_IMAGINE_SRC(object)->priv;
  G_OBJECT_CLASS(gst_grok_imagine_src_parent_class)->finalize(object);
}

static void gst_grok_imagine_src_set_property(GObject *object, guint prop_id, const GValue *value,
                                              GParamSpec *pspec) {
  Private &p = *GST_GROK_IMAGINE_SRC(object)->priv;
  if (prop_id == PROP_CONNECTIONS) {
    p.connections = g_value_get_uint(value);
    return;
  }
  p.job.set_property(GST_ELEMENT(object), prop_id, value, pspec);
}

static void gst_grok_imagine_src_get_property(GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec) {
  Private &p = *GST_GROK_IMAGINE_SRC(object)->priv;
  if (prop_id == PROP_CONNECTIONS) {
    g_value_set_uint(value, p.connections);
    return;
  }
  p.job.get_property(object, prop_id, value, pspec);
}

void gst_grok_imagine_src_install_connections(GObjectClass *klass, guint prop_id) {
  g_object_class_install_property(
      klass, prop_id,
      grok_imagine_param_spec_uint(
          "connections", "Connections",
          "The most connections the download may use at once where the CDN accepts Range, 1 to "
          "16. The clip starts as one open-ended request (the first frame's bytes get the whole "
          "link); then more, in steps (4 in all, then 16), while they raise the total rate (a CDN "
          "capping each connection), none behind a link they all share. A moov at the end is "
          "fetched at once, even with 1. A CDN without Range always gets one",
          1, 16, Download::kDefaultConnections,
          GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
}

// Checks the settings and prepares the job; nothing is sent. False once
// the refusal is posted.
static bool prepare_job(GstGrokImagineSrc *self) {
  Private &p = *self->priv;
  {
    std::lock_guard<std::mutex> lock(p.delivery_lock);
    p.clip = ClipSource();
    p.download_complete = p.delivered = false;
  }
  p.clip.set_connections(p.clip_job ? p.clip_job->connections : p.connections.load());
  p.job_done = false;
  p.job.set_eos_requested(false);
  grokimagine::JobSettings settings = p.clip_job ? p.clip_job->settings : p.job.settings();
  settings.log_id = GST_OBJECT_NAME(self);
  GST_DEBUG_OBJECT(self, "checking the settings (nothing is sent yet)");
  // Bytes cannot start mid-clip: only grokimaginevideosrc and the channel,
  // which decode, can play an extension's new seconds alone.
  if (settings.request.continuation_only && !p.clip_job &&
      !g_object_get_data(G_OBJECT(self), GST_GROK_IMAGINE_SRC_DECODED_KEY)) {
    GROK_IMAGINE_POST_ERROR(
        GST_ELEMENT(self),
        grokimagine::invalid_setting(
            "Property 'output' is 'continuation': grokimaginesrc gives the whole MP4; use "
            "grokimaginevideosrc (decode=true) to play only the new seconds. Nothing was sent."));
    return false;
  }
  if (auto error = p.clip.prepare(settings)) {
    GROK_IMAGINE_POST_ERROR(GST_ELEMENT(self), *error);
    return false;
  }
  // A channel says it once for all its clips.
  if (!p.clip_job) grok_imagine_warn_skipped_fallbacks(GST_ELEMENT(self), p.clip.skipped());
  return true;
}

// The job is prepared before GstBaseSrc starts, not in start(): a refusal
// is then the element's one error, where a failed start() adds GstBaseSrc's
// "state change failed and some element failed to post a proper error
// message" after it.
static GstStateChangeReturn gst_grok_imagine_src_change_state(GstElement *element,
                                                              GstStateChange transition) {
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !prepare_job(GST_GROK_IMAGINE_SRC(element)))
    return GST_STATE_CHANGE_FAILURE;
  return GST_ELEMENT_CLASS(gst_grok_imagine_src_parent_class)->change_state(element, transition);
}

static void publish_download(Private &p, std::shared_ptr<Download> download) {
  std::lock_guard<std::mutex> lock(p.download_lock);
  p.download = std::move(download);
}

static std::shared_ptr<Download> published_download(Private &p) {
  std::lock_guard<std::mutex> lock(p.download_lock);
  return p.download;
}

static gboolean gst_grok_imagine_src_stop(GstBaseSrc *base) {
  GstGrokImagineSrc *self = GST_GROK_IMAGINE_SRC(base);
  Private &p = *self->priv;
  grok_imagine_settle_on_stop(GST_ELEMENT(self), p.clip.generation(), p.job);
  publish_download(p, nullptr);
  // Dropping the download cancels it; a partial `location` file goes with it.
  std::lock_guard<std::mutex> lock(p.delivery_lock);
  p.clip = ClipSource();
  return TRUE;
}

// The journal learns that the clip was delivered, once it is whole.
// Under delivery_lock.
static void deliver(GstGrokImagineSrc *src, Private &p) {
  if (!p.download_complete || p.delivered) return;
  GST_DEBUG_OBJECT(src, "clip delivered");
  p.clip.delivered();
  p.delivered = true;
}

void gst_grok_imagine_src_deliver(GstGrokImagineSrc *src) {
  Private &p = *src->priv;
  std::lock_guard<std::mutex> lock(p.delivery_lock);
  deliver(src, p);
}

static gboolean gst_grok_imagine_src_unlock(GstBaseSrc *base) {
  GST_GROK_IMAGINE_SRC(base)->priv->job.cancel();
  return TRUE;
}

static gboolean gst_grok_imagine_src_unlock_stop(GstBaseSrc *base) {
  GST_GROK_IMAGINE_SRC(base)->priv->job.renew_cancellable();
  return TRUE;
}

static gboolean gst_grok_imagine_src_is_seekable(GstBaseSrc *) {
  return TRUE;
}

// The clip's size as the CDN announced it, for qtdemux's queries.
static gboolean known_size(GstBaseSrc *base, guint64 *size) {
  const auto download = published_download(*GST_GROK_IMAGINE_SRC(base)->priv);
  if (!download) return FALSE;
  auto known = download->size();
  if (!known) return FALSE;
  *size = *known;
  return TRUE;
}

// GstBaseSrc's own size, only once the download is complete: knowing it,
// GstBaseSrc ends the stream at the last byte by itself, without asking
// create(), while parts of the clip may still be coming (and `location` is
// not named yet). create() ends it once the download is complete.
static gboolean gst_grok_imagine_src_get_size(GstBaseSrc *base, guint64 *size) {
  const auto download = published_download(*GST_GROK_IMAGINE_SRC(base)->priv);
  if (!download || !download->finished()) return FALSE;
  return known_size(base, size);
}

// Push mode only, like souphttpsrc: offering pull mode lets qtdemux switch
// the pad's mode from inside our own streaming thread once decodebin3 plugs
// it. qtdemux then seeks in push mode to a moov at the end, but only if
// upstream answers SEEKING and DURATION in bytes with the size, which
// GstBaseSrc cannot while the size was unknown at start: answer them here
// as soon as the download knows it.
static gboolean gst_grok_imagine_src_query(GstBaseSrc *base, GstQuery *query) {
  guint64 size = 0;
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_SCHEDULING:
      gst_query_set_scheduling(query, GST_SCHEDULING_FLAG_SEEKABLE, 1, -1, 0);
      gst_query_add_scheduling_mode(query, GST_PAD_MODE_PUSH);
      return TRUE;
    case GST_QUERY_SEEKING: {
      GstFormat format;
      gst_query_parse_seeking(query, &format, nullptr, nullptr, nullptr);
      if (format != GST_FORMAT_BYTES || !known_size(base, &size)) break;
      gst_query_set_seeking(query, GST_FORMAT_BYTES, TRUE, 0, gint64(size));
      return TRUE;
    }
    case GST_QUERY_DURATION: {
      GstFormat format;
      gst_query_parse_duration(query, &format, nullptr);
      if (format != GST_FORMAT_BYTES || !known_size(base, &size)) break;
      gst_query_set_duration(query, GST_FORMAT_BYTES, gint64(size));
      return TRUE;
    }
    default:
      break;
  }
  return GST_BASE_SRC_CLASS(gst_grok_imagine_src_parent_class)->query(base, query);
}

// Buffering is about the bytes the pipeline is waiting for: 0 while the
// next byte it reads is not here, 100 once it is ("playing can go on", not
// "the whole clip is here").
static void post_buffering(GstGrokImagineSrc *self, gint percent) {
  GstMessage *message = gst_message_new_buffering(GST_OBJECT(self), percent);
  gst_message_set_buffering_stats(message, GST_BUFFERING_DOWNLOAD, -1, -1, -1);
  gst_element_post_message(GST_ELEMENT(self), message);
}

// A weak reference to an element, for callbacks that may outlive it.
class WeakElement {
 public:
  explicit WeakElement(GstElement *element) { g_weak_ref_init(&ref_, element); }
  ~WeakElement() { g_weak_ref_clear(&ref_); }
  WeakElement(const WeakElement &) = delete;
  WeakElement &operator=(const WeakElement &) = delete;
  // A new reference, or null once the element is gone.
  GstElement *get() { return static_cast<GstElement *>(g_weak_ref_get(&ref_)); }

 private:
  GWeakRef ref_;
};

// Runs the paid part: submit (or resume), poll, start the download.
static GstFlowReturn run_job(GstGrokImagineSrc *self, GCancellable *cancellable) {
  Private &p = *self->priv;
  if (!grok_imagine_check_linked(GST_BASE_SRC(self), p.clip.generation()))
    return GST_FLOW_NOT_LINKED;
  GstFlowReturn ret = grok_imagine_run_job(
      GST_ELEMENT(self), p.clip.generation(), p.job,
      [&p, cancellable](const grokimagine::JobEvents &events) {
        return p.clip.run(cancellable, events);
      },
      p.clip_job ? p.clip_job->observer : GrokImagineJobObserver{});
  if (ret == GST_FLOW_FLUSHING)
    grok_imagine_settle_on_eos(GST_ELEMENT(self), p.clip.generation(), p.job);
  if (ret != GST_FLOW_OK) return ret;
  grok_imagine_post_progress(GST_ELEMENT(self), GST_PROGRESS_TYPE_CONTINUE, "Downloading the clip");
  p.job_done = true;
  publish_download(p, p.clip.download());
  // "Clip downloaded" comes from the download's own thread when its last
  // byte is on disk: gst-launch holds a prerolled pipeline in PAUSED until
  // every progress completes, and in PAUSED the sink holds create() back,
  // so create() could not be the one to say it. The element may be gone by
  // then: a weak reference.
  auto element = std::make_shared<WeakElement>(GST_ELEMENT(self));
  p.clip.download()->on_finished([element] {
    if (GstElement *alive = element->get()) {
      grok_imagine_post_progress(alive, GST_PROGRESS_TYPE_COMPLETE, "Clip downloaded");
      gst_object_unref(alive);
    }
  });
  return GST_FLOW_OK;
}

static GstFlowReturn gst_grok_imagine_src_create(GstBaseSrc *base, guint64 offset, guint size,
                                                 GstBuffer **out) {
  GstGrokImagineSrc *self = GST_GROK_IMAGINE_SRC(base);
  Private &p = *self->priv;
  const auto held = p.job.cancellable();
  GCancellable *cancellable = held.get();
  if (!p.job_done) {
    GstFlowReturn ret = run_job(self, cancellable);
    if (ret != GST_FLOW_OK) return ret;
  }
  const std::shared_ptr<Download> held_download = p.clip.download();
  Download &download = *held_download;
  // Whatever is there from `offset` on goes out at once, as souphttpsrc
  // pushes what the network brought: waiting for a whole block would hold
  // the first frame back by the time a block takes to arrive (26 ms at
  // 2.5 MB/s). Waiting for bytes is buffering, as a network source reports it.
  // Not at the end of the clip: no byte is awaited there (only the
  // download's last step, after its "Clip downloaded"), and a buffering
  // cycle would make gst-launch pause and resume for nothing.
  const auto clip_size = download.size();
  const bool at_end = clip_size && offset >= *clip_size;
  const bool stalled = !at_end && download.available_from(offset) == 0 && !download.finished();
  if (stalled) post_buffering(self, 0);
  const auto waited = download.wait_for(offset, offset + 1, cancellable);
  // Whatever ends the wait ends the buffering: an application (gst-launch)
  // holds the pipeline in PAUSED until 100, so a wait cancelled by an EOS
  // or failed must say so too, or a Ctrl-C with -e never gets its EOS.
  if (stalled) post_buffering(self, 100);
  switch (waited) {
    case Download::Wait::Cancelled:
      return GST_FLOW_FLUSHING;
    case Download::Wait::Failed: {
      auto error = p.clip.download_failed();
      if (error.kind == grokimagine::ErrorKind::Cancelled) return GST_FLOW_FLUSHING;
      grok_imagine_post_progress(GST_ELEMENT(self), GST_PROGRESS_TYPE_ERROR, error.message);
      GROK_IMAGINE_POST_ERROR(GST_ELEMENT(self), error);
      return GST_FLOW_ERROR;
    }
    case Download::Wait::Ready:
    case Download::Wait::End:
      break;
  }
  if (!p.download_complete && download.finished()) {
    {
      std::lock_guard<std::mutex> lock(p.delivery_lock);
      p.download_complete = true;
      if (!p.clip_job) deliver(self, p);
    }
    if (p.clip_job && p.clip_job->downloaded) p.clip_job->downloaded();
  }
  const guint64 available = download.available_from(offset);
  if (available == 0) return GST_FLOW_EOS;
  const guint length = guint(MIN(guint64(size), available));
  g_autoptr(GstBuffer) buffer = gst_buffer_new_allocate(nullptr, length, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  const gint64 got = download.read(offset, map.data, length);
  gst_buffer_unmap(buffer, &map);
  if (got != gint64(length)) {
    GROK_IMAGINE_ELEMENT_ERROR(
        self, RESOURCE, READ, "io", ("Could not read back the downloaded clip."),
        ("pread at %" G_GUINT64_FORMAT " returned %" G_GINT64_FORMAT, offset, got));
    return GST_FLOW_ERROR;
  }
  GST_BUFFER_OFFSET(buffer) = offset;
  GST_BUFFER_OFFSET_END(buffer) = offset + length;
  *out = static_cast<GstBuffer *>(g_steal_pointer(&buffer));
  return GST_FLOW_OK;
}

static gboolean gst_grok_imagine_src_send_event(GstElement *element, GstEvent *event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS)
    GST_GROK_IMAGINE_SRC(element)->priv->job.set_eos_requested(true);
  return GST_ELEMENT_CLASS(gst_grok_imagine_src_parent_class)->send_event(element, event);
}

static void gst_grok_imagine_src_class_init(GstGrokImagineSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS(klass);

  gobject_class->finalize = gst_grok_imagine_src_finalize;
  gobject_class->set_property = gst_grok_imagine_src_set_property;
  gobject_class->get_property = gst_grok_imagine_src_get_property;
  grok_imagine_install_job_properties(gobject_class, grokimagine::MediaKind::Video);
  gst_grok_imagine_src_install_connections(gobject_class, PROP_CONNECTIONS);

  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Grok Imagine video source", "Source/Network",
      "Generates a video clip from a prompt (and optionally an image) with a Grok Imagine "
      "provider and outputs it as MP4. Example: grokimaginesrc prompt=\"A dog on a beach\" "
      "duration=6 ! filesink location=dog.mp4. Also plays grokimagine://video?prompt=...&"
      "duration=6 URIs (job properties as parameters; the key comes from the environment)",
      "gst-grokimagine developers");

  element_class->send_event = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_send_event);
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_change_state);
  basesrc_class->stop = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_unlock_stop);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_is_seekable);
  basesrc_class->get_size = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_get_size);
  basesrc_class->query = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_query);
  basesrc_class->create = GST_DEBUG_FUNCPTR(gst_grok_imagine_src_create);

  GST_DEBUG_CATEGORY_INIT(grok_imagine_src_debug, "grokimaginesrc", 0, "Grok Imagine video source");
}

static void gst_grok_imagine_src_uri_handler_init(gpointer g_iface, gpointer) {
  auto *iface = static_cast<GstURIHandlerInterface *>(g_iface);
  iface->get_type = [](GType) { return GST_URI_SRC; };
  iface->get_protocols = [](GType) -> const gchar *const * {
    static const gchar *const protocols[] = {"grokimagine", nullptr};
    return protocols;
  };
  iface->get_uri = [](GstURIHandler *handler) {
    return grok_imagine_job_uri(G_OBJECT(handler), "video");
  };
  iface->set_uri = [](GstURIHandler *handler, const gchar *uri, GError **error) {
    return grok_imagine_apply_job_uri(G_OBJECT(handler), "video", uri, error);
  };
}

void gst_grok_imagine_src_set_clip_job(GstGrokImagineSrc *src, GrokImagineClipJob job) {
  src->priv->clip_job = std::move(job);
}

GstClockTime gst_grok_imagine_src_get_continuation_start(GstGrokImagineSrc *self) {
  auto start = self->priv->clip.generation().continuation_start();
  return start ? GstClockTime(*start * GST_SECOND + 0.5) : GST_CLOCK_TIME_NONE;
}

GstTagList *gst_grok_imagine_src_get_job_tags(GstGrokImagineSrc *self) {
  const grokimagine::Generation &generation = self->priv->clip.generation();
  const grokimagine::Request &request = generation.settings().request;
  const std::string comment = std::string("Generated by ") + generation.provider().name() +
                              " model " + request.model + ", request-id " + generation.request_id();
  GstTagList *tags = gst_tag_list_new(GST_TAG_TITLE, request.prompt.c_str(), GST_TAG_COMMENT,
                                      comment.c_str(), nullptr);
  // An extension's whole result is the input then `duration` seconds; an
  // edit is as long as its input. Left out where the input's length is not
  // known here (a URL, a resumed job).
  double seconds = request.duration;
  const double input = generation.input_seconds();
  if (request.operation == grokimagine::Operation::Edit)
    seconds = input;
  else if (request.operation == grokimagine::Operation::Extend && !request.continuation_only)
    seconds = input < 0 ? -1 : input + request.duration;
  if (seconds > 0)
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_DURATION,
                     guint64(seconds * GST_SECOND + 0.5), nullptr);
  return tags;
}
