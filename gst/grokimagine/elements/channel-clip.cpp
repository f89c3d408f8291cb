#include "channel-clip.h"

#include "pad-media.h"

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

namespace {

// convert ! scale/resample ! capsfilter ! appsink, in `pipeline`; returns
// the branch's first element.
GstElement *add_branch(GstElement *pipeline, bool video, const ChannelFormat &format,
                       GstAppSink **sink) {
  GstElement *convert = gst_element_factory_make(video ? "videoconvert" : "audioconvert", nullptr);
  // videoscale keeps the clip's aspect ratio, adding borders (letter- or
  // pillar-boxing); videorate makes every clip the channel's frame rate.
  GstElement *scale = gst_element_factory_make(video ? "videoscale" : "audioresample", nullptr);
  GstElement *rate = gst_element_factory_make(video ? "videorate" : "identity", nullptr);
  GstElement *filter = gst_element_factory_make("capsfilter", nullptr);
  GstElement *appsink = gst_element_factory_make("appsink", nullptr);
  g_autoptr(GstCaps) caps = video ? format.video_caps() : format.audio_caps();
  g_object_set(filter, "caps", caps, nullptr);
  // Pulled as fast as the channel plays: a few buffers ahead, then the clip
  // waits (memory stays flat however long the clip).
  // async=false: a clip without audio must not hold the pipeline out of
  // PLAYING waiting for the audio sink's preroll.
  g_object_set(appsink, "sync", FALSE, "async", FALSE, "max-buffers", video ? 8u : 32u,
               "emit-signals", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), convert, scale, rate, filter, appsink, nullptr);
  gst_element_link_many(convert, scale, rate, filter, appsink, nullptr);
  *sink = GST_APP_SINK(appsink);
  return convert;
}

}  // namespace

ChannelClip::ChannelClip(int index, std::string prompt, GstElement *source,
                         const ChannelFormat &format)
    : index_(index), prompt_(std::move(prompt)), source_(source) {
  g_autofree gchar *name = g_strdup_printf("channel-clip-%d", index);
  pipeline_ = grokimagine::GObjectPtr<GstElement>::adopt(
      GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new(name))));
  GstElement *decoder = gst_element_factory_make("decodebin3", nullptr);
  gst_bin_add_many(GST_BIN(pipeline_.get()), source_, decoder, nullptr);
  gst_element_link(source_, decoder);
  video_in_ = add_branch(pipeline_.get(), true, format, &video_sink_);
  audio_in_ = add_branch(pipeline_.get(), false, format, &audio_sink_);
  GstAppSinkCallbacks callbacks = {};
  callbacks.new_preroll = [](GstAppSink *, gpointer data) {
    static_cast<ChannelClip *>(data)->ready_ = true;
    return GST_FLOW_OK;
  };
  callbacks.new_sample = callbacks.new_preroll;
  gst_app_sink_set_callbacks(video_sink_, &callbacks, this, nullptr);
  g_signal_connect(decoder, "pad-added", G_CALLBACK(on_pad_added), this);
  // PLAYING at once: the appsinks do not sync, so this only lets the job
  // and the decoding run ahead until their queues are full.
  gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
}

ChannelClip::~ChannelClip() {
  gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
}

void ChannelClip::on_pad_added(GstElement *, GstPad *pad, ChannelClip *self) {
  const std::string media = grok_imagine_pad_media(pad);
  const bool video = g_str_has_prefix(media.c_str(), "video/");
  if (!video && !g_str_has_prefix(media.c_str(), "audio/")) return;
  std::atomic<bool> &linked = video ? self->video_linked_ : self->audio_linked_;
  if (linked) return;  // the first stream of each kind plays
  g_autoptr(GstPad) sink =
      gst_element_get_static_pad(video ? self->video_in_ : self->audio_in_, "sink");
  if (gst_pad_link(pad, sink) == GST_PAD_LINK_OK) linked = true;
}

void ChannelClip::drain_messages(const std::function<void(GstMessage *)> &handle) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline_.get());
  while (GstMessage *message = gst_bus_pop(bus)) {
    handle(message);
    gst_message_unref(message);
  }
}

GstSample *ChannelClip::pull_video(GstClockTime timeout) {
  return gst_app_sink_try_pull_sample(video_sink_, timeout);
}

GstSample *ChannelClip::pull_audio(GstClockTime timeout) {
  return gst_app_sink_try_pull_sample(audio_sink_, timeout);
}

bool ChannelClip::video_ended() const {
  return gst_app_sink_is_eos(video_sink_);
}

bool ChannelClip::audio_ended() const {
  return gst_app_sink_is_eos(audio_sink_);
}

GstClockTime ChannelClip::duration() const {
  gint64 duration = -1;
  if (!gst_element_query_duration(pipeline_.get(), GST_FORMAT_TIME, &duration) || duration < 0)
    return GST_CLOCK_TIME_NONE;
  return GstClockTime(duration);
}
