#include "channel-clip.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "core/channel-schedule.h"
#include "pad-media.h"
#include "stream-cut.h"

GstCaps *ChannelFormat::video_caps() const {
  return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                             width, "height", G_TYPE_INT, height, "framerate", GST_TYPE_FRACTION,
                             fps_n, fps_d, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
}

GstCaps *ChannelFormat::audio_caps() const {
  return gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT,
                             kRate, "channels", G_TYPE_INT, kChannels, "layout", G_TYPE_STRING,
                             "interleaved", nullptr);
}

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

// What a clip's threads share with the channel: its streams' queues and its
// first error, under the events lock. Held by the clip, its pads and its bin
// (for messages), so that whichever goes last frees it.
struct ClipStreams {
  struct Stream {
    std::deque<GstBuffer *> queue;
    std::size_t limit;
    bool linked = false;
    bool eos = false;
  };
  explicit ClipStreams(std::shared_ptr<ChannelEvents> events) : events(std::move(events)) {}
  ~ClipStreams() {
    for (Stream *stream : {&video, &audio})
      for (GstBuffer *buffer : stream->queue) gst_buffer_unref(buffer);
    if (error) gst_message_unref(error);
  }
  ClipStreams(const ClipStreams &) = delete;
  ClipStreams &operator=(const ClipStreams &) = delete;

  Stream &stream(bool is_video) { return is_video ? video : audio; }

  // A clip's streaming thread: queues `buffer`, waiting for room.
  GstFlowReturn receive(bool is_video, GstBuffer *buffer) {
    std::unique_lock<std::mutex> lock(events->lock);
    Stream &into = stream(is_video);
    events->wake.wait(
        lock, [&] { return flushing || events->stopping || into.queue.size() < into.limit; });
    if (flushing || events->stopping) {
      gst_buffer_unref(buffer);
      return GST_FLOW_FLUSHING;
    }
    into.queue.push_back(buffer);
    events->changed(lock);
    return GST_FLOW_OK;
  }

  void end(bool is_video) {
    std::unique_lock<std::mutex> lock(events->lock);
    stream(is_video).eos = true;
    events->changed(lock);
  }

  std::shared_ptr<ChannelEvents> events;
  // Pulled as fast as the channel plays: a few buffers ahead, then the
  // clip waits.
  Stream video{{}, 8};
  Stream audio{{}, 32};
  bool flushing = false;
  GstMessage *error = nullptr;
};

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

// The pad a stream of the clip ends in: it queues what comes, answers that
// it takes the channel's format, and ends the stream at EOS.
GstPad *make_clip_pad(bool video, const std::shared_ptr<ClipStreams> &streams, GstCaps *format) {
  GstPad *pad = gst_pad_new(video ? "video" : "audio", GST_PAD_SINK);
  attach(pad, streams);
  g_object_set_data_full(G_OBJECT(pad), "grokimagine-format", gst_caps_ref(format),
                         (GDestroyNotify)gst_caps_unref);
  gst_pad_set_chain_function(pad, [](GstPad *pad, GstObject *, GstBuffer *buffer) {
    return attached(pad)->receive(g_str_equal(GST_PAD_NAME(pad), "video"), buffer);
  });
  gst_pad_set_event_function(pad, [](GstPad *pad, GstObject *, GstEvent *event) -> gboolean {
    if (GST_EVENT_TYPE(event) == GST_EVENT_EOS)
      attached(pad)->end(g_str_equal(GST_PAD_NAME(pad), "video"));
    gst_event_unref(event);
    return TRUE;
  });
  gst_pad_set_query_function(pad, [](GstPad *pad, GstObject *parent, GstQuery *query) -> gboolean {
    auto *caps = static_cast<GstCaps *>(g_object_get_data(G_OBJECT(pad), "grokimagine-format"));
    switch (GST_QUERY_TYPE(query)) {
      case GST_QUERY_CAPS: {
        GstCaps *filter = nullptr;
        gst_query_parse_caps(query, &filter);
        g_autoptr(GstCaps) result =
            filter ? gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST)
                   : gst_caps_ref(caps);
        gst_query_set_caps_result(query, result);
        return TRUE;
      }
      case GST_QUERY_ACCEPT_CAPS: {
        GstCaps *offered = nullptr;
        gst_query_parse_accept_caps(query, &offered);
        gst_query_set_accept_caps_result(query, gst_caps_is_subset(offered, caps));
        return TRUE;
      }
      default:
        return gst_pad_query_default(pad, parent, query);
    }
  });
  gst_pad_set_active(pad, TRUE);
  return pad;
}

// convert ! scale/resample ! rate ! capsfilter in `bin`, into `pad`;
// returns the branch's first element.
GstElement *add_branch(GstElement *bin, bool video, GstCaps *format, GstPad *pad) {
  GstElement *convert = gst_element_factory_make(video ? "videoconvert" : "audioconvert", nullptr);
  // videoscale keeps the clip's aspect ratio, adding borders (letter- or
  // pillar-boxing); videorate makes every clip the channel's frame rate.
  GstElement *scale = gst_element_factory_make(video ? "videoscale" : "audioresample", nullptr);
  GstElement *rate = gst_element_factory_make(video ? "videorate" : "identity", nullptr);
  GstElement *filter = gst_element_factory_make("capsfilter", nullptr);
  g_object_set(filter, "caps", format, nullptr);
  gst_bin_add_many(GST_BIN(bin), convert, scale, rate, filter, nullptr);
  gst_element_link_many(convert, scale, rate, filter, nullptr);
  g_autoptr(GstPad) out = gst_element_get_static_pad(filter, "src");
  // The clip's pad has no parent: across the bins, by design.
  gst_pad_link_full(out, pad, GST_PAD_LINK_CHECK_NOTHING);
  return convert;
}

}  // namespace

ChannelClip::ChannelClip(GstBin *channel, std::shared_ptr<ChannelEvents> events, int index,
                         std::string prompt, GstElement *source, const ChannelFormat &format,
                         GstClockTime skip, std::shared_ptr<ClipJobFacts> facts)
    : index_(index),
      prompt_(std::move(prompt)),
      events_(events),
      streams_(std::make_shared<ClipStreams>(std::move(events))),
      channel_(grokimagine::GObjectPtr<GstBin>::ref(channel)),
      source_(source),
      video_cut_{skip, CutRule::kStartsBefore},
      audio_cut_{skip, CutRule::kEndsBefore},
      facts_(std::move(facts)) {
  g_autofree gchar *name = g_strdup_printf("clip-%d", index);
  bin_ = gst_bin_new(name);
  attach(bin_, streams_);
  GstElement *decoder = gst_element_factory_make("decodebin3", nullptr);
  gst_bin_add_many(GST_BIN(bin_), source_, decoder, nullptr);
  gst_element_link(source_, decoder);
  g_autoptr(GstCaps) video_caps = format.video_caps();
  g_autoptr(GstCaps) audio_caps = format.audio_caps();
  video_pad_ = grokimagine::GObjectPtr<GstPad>::adopt(
      GST_PAD(gst_object_ref_sink(make_clip_pad(true, streams_, video_caps))));
  audio_pad_ = grokimagine::GObjectPtr<GstPad>::adopt(
      GST_PAD(gst_object_ref_sink(make_clip_pad(false, streams_, audio_caps))));
  video_in_ = add_branch(bin_, true, video_caps, video_pad_.get());
  audio_in_ = add_branch(bin_, false, audio_caps, audio_pad_.get());
  g_signal_connect(decoder, "pad-added", G_CALLBACK(on_pad_added), this);
  // Started at once: the job and the decoding run ahead until the queues
  // are full (that is the lookahead).
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
  g_autoptr(GstPad) sink =
      gst_element_get_static_pad(video ? self->video_in_ : self->audio_in_, "sink");
  if (gst_pad_link(pad, sink) != GST_PAD_LINK_OK) return;
  {
    std::unique_lock<std::mutex> lock(self->events_->lock);
    self->streams_->stream(video).linked = true;
    self->events_->changed(lock);
  }
  // Dropped here, not by the channel: held in the queues, they would stall
  // the decoding of the other stream.
  if (self->video_cut_.at)
    gst_pad_add_probe(
        pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        grok_imagine_cut_probe, video ? &self->video_cut_ : &self->audio_cut_, nullptr);
}

bool ChannelClip::ready() const {
  return !streams_->video.queue.empty();
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
  return !(video ? streams_->video : streams_->audio).queue.empty();
}

bool ChannelClip::ended(bool video) const {
  const ClipStreams::Stream &stream = video ? streams_->video : streams_->audio;
  return stream.eos && stream.queue.empty();
}

GstClockTime ChannelClip::duration() const {
  gint64 duration = -1;
  if (!gst_pad_peer_query_duration(video_pad_.get(), GST_FORMAT_TIME, &duration) || duration < 0)
    return GST_CLOCK_TIME_NONE;
  return GstClockTime(duration);
}

bool ChannelClip::from_clip(GstMessage *message) {
  std::shared_ptr<ClipStreams> streams;
  GstObject *object =
      GST_MESSAGE_SRC(message) ? GST_OBJECT(gst_object_ref(GST_MESSAGE_SRC(message))) : nullptr;
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
                                      const std::function<bool()> &stopping) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  std::optional<std::string> error =
      "it took longer than " + std::to_string(limit / GST_SECOND) + " s";
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    error = "the pipeline did not start";
  const gint64 deadline = g_get_monotonic_time() + gint64(limit / GST_USECOND);
  // Short waits: a stop (the channel going to NULL) is heard at once.
  while (error && !stopping() && g_get_monotonic_time() < deadline) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
        bus, 50 * GST_MSECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (!message) continue;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
      error.reset();
    } else {
      g_autoptr(GError) gerror = nullptr;
      gst_message_parse_error(message, &gerror, nullptr);
      error = gerror->message;
      break;
    }
  }
  if (error && stopping()) error = "stopped";
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

namespace {

std::uint64_t read_be(const guint8 *data, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; i++) value = value << 8 | data[i];
  return value;
}

// Zeroes the creation and modification times of the header boxes (mvhd,
// tkhd, mdhd) among the boxes in `data`, going into trak and mdia.
void clear_box_times(guint8 *data, std::size_t size) {
  for (std::size_t offset = 0; offset + 8 <= size;) {
    const std::size_t box = std::size_t(read_be(data + offset, 4));
    if (box < 8 || box > size - offset) return;
    const char *type = reinterpret_cast<const char *>(data + offset + 4);
    if (!memcmp(type, "trak", 4) || !memcmp(type, "mdia", 4)) {
      clear_box_times(data + offset + 8, box - 8);
    } else if (!memcmp(type, "mvhd", 4) || !memcmp(type, "tkhd", 4) || !memcmp(type, "mdhd", 4)) {
      // Version, flags, then the two times: 32 bits each (version 0) or 64.
      const std::size_t times = data[offset + 8] == 1 ? 16 : 8;
      if (box >= 12 + times) memset(data + offset + 12, 0, times);
    }
    offset += box;
  }
}

}  // namespace

std::optional<std::string> clear_mp4_times(const std::string &path) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string(g_strerror(errno));
  std::optional<std::string> error = std::string("no moov box");
  for (std::uint64_t offset = 0;;) {
    guint8 header[16];
    if (pread(fd, header, 8, off_t(offset)) != 8) break;
    std::uint64_t size = read_be(header, 4);
    std::uint64_t header_size = 8;
    if (size == 1) {  // a 64-bit size follows the type
      if (pread(fd, header + 8, 8, off_t(offset + 8)) != 8) break;
      size = read_be(header + 8, 8);
      header_size = 16;
    }
    if (size < header_size) break;
    if (memcmp(header + 4, "moov", 4) != 0) {
      offset += size;
      continue;
    }
    std::vector<guint8> moov(size - header_size);
    if (pread(fd, moov.data(), moov.size(), off_t(offset + header_size)) != ssize_t(moov.size()))
      break;
    clear_box_times(moov.data(), moov.size());
    error.reset();
    if (pwrite(fd, moov.data(), moov.size(), off_t(offset + header_size)) != ssize_t(moov.size()))
      error = std::string(g_strerror(errno));
    break;
  }
  close(fd);
  return error;
}

std::optional<std::string> write_extension_input(const std::string &source,
                                                 GstClockTime played_from,
                                                 const ExtensionInputLimits &limits,
                                                 const std::string &dest, GstClockTime *length,
                                                 const std::function<bool()> &stopping) {
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
  if (!scanner) return std::string("qtdemux is not installed");
  if (auto error = run_to_eos(scanner.get(), kLimit, stopping)) return "reading it: " + *error;
  scanner = {};
  std::sort(scan.keyframes.begin(), scan.keyframes.end());
  auto start = grokimagine::extension_input_start(scan.keyframes, played_from, scan.end,
                                                  limits.min_length, limits.max_length);
  if (!start)
    return "none of its " + std::to_string(scan.keyframes.size()) +
           " keyframes starts an input the provider takes (" +
           std::to_string(limits.min_length / GST_MSECOND) + " to " +
           std::to_string(limits.max_length / GST_MSECOND) + " ms; the clip is " +
           std::to_string(scan.end / GST_MSECOND) + " ms)";

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
  if (!writer) return std::string("qtdemux is not installed");
  mux = gst_element_factory_make("mp4mux", nullptr);
  if (!mux) return std::string("mp4mux is not installed");
  gst_bin_add(GST_BIN(writer.get()), mux);
  GstElement *file = gst_element_factory_make("filesink", nullptr);
  gst_bin_add(GST_BIN(writer.get()), file);
  g_object_set(file, "location", dest.c_str(), nullptr);
  gst_element_link(mux, file);
  if (auto error = run_to_eos(writer.get(), kLimit, stopping)) return "copying it: " + *error;
  if (auto error = clear_mp4_times(dest)) return "writing it: " + *error;
  *length = scan.end - cut.at;
  return std::nullopt;
}
