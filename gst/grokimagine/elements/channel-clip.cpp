// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-clip.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "core/channel-schedule.h"
#include "core/mp4.h"
#include "pad-media.h"
#include "side-pipeline.h"
#include "stream-cut.h"

void ClipJobFacts::submitted(const std::string &request_id) {
  std::unique_lock<std::mutex> lock(events_->lock);
  request_id_ = request_id;
  events_->changed(lock);
}

void ClipJobFacts::paid_before(const std::string &request_id) {
  std::unique_lock<std::mutex> lock(events_->lock);
  request_id_ = request_id;
  news_.paid_before = true;
  events_->changed(lock);
}

void ClipJobFacts::cost(double usd, bool reported) {
  std::unique_lock<std::mutex> lock(events_->lock);
  news_.cost = usd;
  news_.cost_reported = reported;
  events_->changed(lock);
}

void ClipJobFacts::downloaded() {
  std::unique_lock<std::mutex> lock(events_->lock);
  news_.downloaded = true;
  events_->changed(lock);
}

namespace {

GQuark clip_quark() {
  static const GQuark quark = g_quark_from_static_string("grokimagine-channel-clip");
  return quark;
}

void attach(gpointer object, std::shared_ptr<ClipStreams> streams) {
  g_object_set_qdata_full(
      G_OBJECT(object), clip_quark(), new std::shared_ptr<ClipStreams>(std::move(streams)),
      [](gpointer held) { delete static_cast<std::shared_ptr<ClipStreams> *>(held); });
}

std::shared_ptr<ClipStreams> attached(gpointer object) {
  auto *held = static_cast<std::shared_ptr<ClipStreams> *>(
      g_object_get_qdata(G_OBJECT(object), clip_quark()));
  return held ? *held : nullptr;
}

}  // namespace

ChannelClip::ChannelClip(GstBin *channel, std::shared_ptr<ChannelEvents> events, int index,
                         std::string prompt, GstElement *source, const ChannelDecoding &decoding,
                         GstClockTime skip, std::shared_ptr<ClipJobFacts> facts)
    : index_(index),
      prompt_(std::move(prompt)),
      events_(events),
      streams_(std::make_shared<ClipStreams>(std::move(events), skip)),
      channel_(grokimagine::GObjectPtr<GstBin>::ref(channel)),
      source_(source),
      facts_(std::move(facts)) {
  // A clip of no index (the operator's slate clip, made again each time
  // it loops) has a name of its own each time: the one before may still
  // be in the bin, waiting to be torn down.
  static std::atomic<unsigned> slates{0};
  g_autofree gchar *name =
      index >= 0 ? g_strdup_printf("clip-%d", index) : g_strdup_printf("slate-%u", slates++);
  bin_ = gst_bin_new(name);
  attach(bin_, streams_);
  GstElement *parser = gst_element_factory_make("parsebin", nullptr);
  gst_bin_add_many(GST_BIN(bin_), source_, parser, nullptr);
  gst_element_link(source_, parser);
  video_pad_ = grokimagine::GObjectPtr<GstPad>::adopt(
      GST_PAD(gst_object_ref_sink(decoding.make_gate(true, streams_))));
  audio_pad_ = grokimagine::GObjectPtr<GstPad>::adopt(
      GST_PAD(gst_object_ref_sink(decoding.make_gate(false, streams_))));
  g_signal_connect(parser, "pad-added", G_CALLBACK(on_pad_added), this);
  // Started at once: the job and the parsing run ahead to the gates (that
  // is the lookahead).
  gst_bin_add(channel, bin_);
  gst_element_sync_state_with_parent(bin_);
}

ChannelClip::~ChannelClip() {
  {
    std::unique_lock<std::mutex> lock(events_->lock);
    streams_->flushing = true;
    events_->changed(lock);
  }
  gst_element_set_state(bin_, GST_STATE_NULL);
  gst_bin_remove(channel_.get(), bin_);
  for (GstPad *pad : {video_pad_.get(), audio_pad_.get()}) gst_pad_set_active(pad, FALSE);
}

void ChannelClip::on_pad_added(GstElement *, GstPad *pad, ChannelClip *self) {
  const std::string media = grok_imagine_pad_media(pad);
  const bool video = g_str_has_prefix(media.c_str(), "video/");
  if (!video && !g_str_has_prefix(media.c_str(), "audio/")) return;
  {
    std::lock_guard<std::mutex> lock(self->events_->lock);
    if (self->streams_->stream(video).linked) return;  // the first stream of each kind plays
  }
  if (gst_pad_link_full(pad, video ? self->video_pad_.get() : self->audio_pad_.get(),
                        GST_PAD_LINK_CHECK_NOTHING) != GST_PAD_LINK_OK)
    return;
  std::unique_lock<std::mutex> lock(self->events_->lock);
  self->streams_->stream(video).linked = true;
  self->events_->changed(lock);
}

bool ChannelClip::ready() const {
  return streams_->video.at_gate || streams_->audio.at_gate || waiting(true);
}

GstMessage *ChannelClip::error() const {
  return streams_->error;
}

bool ChannelClip::has_audio() const {
  return streams_->audio.linked;
}

GstBuffer *ChannelClip::take(bool video) {
  auto &queue = streams_->stream(video).queue;
  if (queue.empty()) return nullptr;
  GstBuffer *buffer = queue.front();
  queue.pop_front();
  return buffer;
}

bool ChannelClip::waiting(bool video) const {
  return !streams_->stream(video).queue.empty();
}

bool ChannelClip::ended(bool video) const {
  const ClipStreams::Stream &stream = streams_->stream(video);
  return stream.eos && stream.queue.empty();
}

GstClockTime ChannelClip::duration() const {
  gint64 duration = -1;
  if (!gst_pad_peer_query_duration(video_pad_.get(), GST_FORMAT_TIME, &duration) || duration < 0)
    return GST_CLOCK_TIME_NONE;
  return GstClockTime(duration);
}

bool ChannelClip::from_clip(GstMessage *message) {
  std::shared_ptr<ClipStreams> streams = ChannelDecoding::clip_of(message);
  const bool from_decoding = bool(streams);
  GstObject *object = from_decoding ? nullptr
                      : GST_MESSAGE_SRC(message)
                          ? GST_OBJECT(gst_object_ref(GST_MESSAGE_SRC(message)))
                          : nullptr;
  while (object && !streams) {
    if (GST_IS_BIN(object)) streams = attached(object);
    GstObject *parent = gst_object_get_parent(object);
    gst_object_unref(object);
    object = parent;
  }
  if (object) gst_object_unref(object);
  if (!streams) return false;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    std::unique_lock<std::mutex> lock(streams->events->lock);
    // The first error says why (the job's); those after it (the stopped
    // stream, an empty demuxer) only follow from it.
    if (streams->error) return true;
    streams->error = gst_message_ref(message);
    streams->events->changed(lock);
  }
  return true;
}

// ---- The input of an extension ----

namespace {

// Runs `pipeline` to EOS: an error text if it fails, is stopped or takes
// more than `limit`. Leaves it in NULL.
std::optional<std::string> run_to_eos(GstElement *pipeline, GstClockTime limit,
                                      GCancellable *cancellable) {
  std::optional<std::string> error = "the pipeline did not start";
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE)
    error = grok_imagine_wait_for_eos(pipeline, limit, cancellable);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return error;
}

// filesrc ! qtdemux, each video and audio stream given to `on_stream`
// (called on the streaming thread with the pipeline and the pad).
using StreamHandler = std::function<void(GstElement *pipeline, GstPad *pad, bool video)>;

grokimagine::GObjectPtr<GstElement> demux_pipeline(const std::string &path,
                                                   StreamHandler *on_stream) {
  auto pipeline = grokimagine::GObjectPtr<GstElement>::adopt(
      GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new("extension-input"))));
  GstElement *file = gst_element_factory_make("filesrc", nullptr);
  if (!file) return {};
  gst_bin_add(GST_BIN(pipeline.get()), file);
  GstElement *demux = gst_element_factory_make("qtdemux", nullptr);
  if (!demux) return {};
  gst_bin_add(GST_BIN(pipeline.get()), demux);
  g_object_set(file, "location", path.c_str(), nullptr);
  gst_element_link(file, demux);
  g_signal_connect(demux, "pad-added",
                   G_CALLBACK(+[](GstElement *element, GstPad *pad, StreamHandler *handler) {
                     const std::string media = grok_imagine_pad_media(pad);
                     const bool video = g_str_has_prefix(media.c_str(), "video/");
                     if (video || g_str_has_prefix(media.c_str(), "audio/"))
                       (*handler)(GST_ELEMENT(GST_ELEMENT_PARENT(element)), pad, video);
                   }),
                   on_stream);
  return pipeline;
}

}  // namespace

std::optional<grokimagine::Error> clear_mp4_times(const std::string &path) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return grokimagine::Error::io(g_strerror(errno));
  auto moov = grokimagine::mp4::read_moov(fd);
  std::optional<grokimagine::Error> error;
  if (!moov.ok()) {
    error = moov.error();
  } else {
    grokimagine::mp4::clear_times(moov->bytes);
    if (pwrite(fd, moov->bytes.data(), moov->bytes.size(), off_t(moov->span.begin)) !=
        ssize_t(moov->bytes.size()))
      error = grokimagine::Error::io(g_strerror(errno));
  }
  close(fd);
  return error;
}

grokimagine::Result<GstClockTime> write_extension_input(const std::string &source,
                                                        GstClockTime played_from,
                                                        const ExtensionInputLimits &limits,
                                                        const std::string &dest,
                                                        GCancellable *cancellable) {
  using grokimagine::Error;
  // Demuxing only (no decoding): a 15 s clip takes milliseconds.
  constexpr GstClockTime kLimit = 30 * GST_SECOND;
  // First the video's keyframes and end.
  struct Scan {
    std::mutex lock;
    std::vector<std::uint64_t> keyframes;
    GstClockTime end = 0;
    bool video = false;
  } scan;
  StreamHandler scan_stream = [&scan](GstElement *pipeline, GstPad *pad, bool video) {
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add(GST_BIN(pipeline), sink);
    gst_element_sync_state_with_parent(sink);
    g_autoptr(GstPad) sink_pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_link(pad, sink_pad);
    std::lock_guard<std::mutex> guard(scan.lock);
    if (!video || scan.video) return;  // the first video stream
    scan.video = true;
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) {
          auto *found = static_cast<Scan *>(data);
          GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
          if (!GST_BUFFER_PTS_IS_VALID(buffer)) return GST_PAD_PROBE_OK;
          const GstClockTime pts = GST_BUFFER_PTS(buffer);
          std::lock_guard<std::mutex> guard(found->lock);
          if (!GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT))
            found->keyframes.push_back(pts);
          const GstClockTime duration =
              GST_BUFFER_DURATION_IS_VALID(buffer) ? GST_BUFFER_DURATION(buffer) : 0;
          found->end = MAX(found->end, pts + duration);
          return GST_PAD_PROBE_OK;
        },
        &scan, nullptr);
  };
  auto scanner = demux_pipeline(source, &scan_stream);
  if (!scanner) return Error::io("qtdemux is not installed");
  if (auto error = run_to_eos(scanner.get(), kLimit, cancellable))
    return Error::io("reading it: " + *error);
  scanner = {};
  std::sort(scan.keyframes.begin(), scan.keyframes.end());
  auto start = grokimagine::extension_input_start(scan.keyframes, played_from, scan.end,
                                                  limits.min_length, limits.max_length);
  if (!start)
    return Error::io("none of its " + std::to_string(scan.keyframes.size()) +
                     " keyframes starts an input the provider takes (" +
                     std::to_string(limits.min_length / GST_MSECOND) + " to " +
                     std::to_string(limits.max_length / GST_MSECOND) + " ms; the clip is " +
                     std::to_string(scan.end / GST_MSECOND) + " ms)");

  // Then its samples from that keyframe on, into a new MP4.
  // Compressed samples: audio too from the first one at or after the cut,
  // which the muxer then writes from time 0.
  StreamCut cut{*start, CutRule::kStartsBefore};
  GstElement *mux = nullptr;
  bool linked_video = false, linked_audio = false;
  StreamHandler copy_stream = [&](GstElement *pipeline, GstPad *pad, bool video) {
    bool &linked = video ? linked_video : linked_audio;
    if (linked) return;
    linked = true;
    // A queue per stream: the demuxer interleaves them on one thread.
    GstElement *queue = gst_element_factory_make("queue", nullptr);
    gst_bin_add(GST_BIN(pipeline), queue);
    gst_element_sync_state_with_parent(queue);
    g_autoptr(GstPad) queue_sink = gst_element_get_static_pad(queue, "sink");
    g_autoptr(GstPad) queue_src = gst_element_get_static_pad(queue, "src");
    g_autoptr(GstPad) mux_pad =
        gst_element_request_pad_simple(mux, video ? "video_%u" : "audio_%u");
    gst_pad_add_probe(
        pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        grok_imagine_cut_probe, &cut, nullptr);
    gst_pad_link(pad, queue_sink);
    gst_pad_link(queue_src, mux_pad);
  };
  auto writer = demux_pipeline(source, &copy_stream);
  if (!writer) return Error::io("qtdemux is not installed");
  mux = gst_element_factory_make("mp4mux", nullptr);
  if (!mux) return Error::io("mp4mux is not installed");
  gst_bin_add(GST_BIN(writer.get()), mux);
  GstElement *file = gst_element_factory_make("filesink", nullptr);
  gst_bin_add(GST_BIN(writer.get()), file);
  g_object_set(file, "location", dest.c_str(), nullptr);
  gst_element_link(mux, file);
  if (auto error = run_to_eos(writer.get(), kLimit, cancellable))
    return Error::io("copying it: " + *error);
  if (auto error = clear_mp4_times(dest)) return Error::io("writing it: " + error->message);
  return GstClockTime(scan.end - cut.at);
}
