// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-preview.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/gstvideopool.h>

#include <algorithm>
#include <cmath>

#include "core/image-set.h"
#include "side-pipeline.h"

GST_DEBUG_CATEGORY_EXTERN(grok_imagine_channel_debug);
#define GST_CAT_DEFAULT grok_imagine_channel_debug

namespace {

// How much larger than the output the still is made, for the pan to move
// over, and how long the pan takes from one corner to the other: about ten
// pixels a second at 480p, slow enough to read as a camera move.
constexpr int kStillMarginEighths = 1;
constexpr double kPanSeconds = 10.0;

}  // namespace

grokimagine::Result<BufferPtr> decode_still(const std::string &data, const std::string &mime_type,
                                            GstCaps *raw, GCancellable *cancellable) {
  // Decoded and scaled once: at the requested size with square pixels
  // (videoscale keeps the image's shape and adds black borders).
  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "appsrc name=image ! decodebin ! videoconvert ! videoscale ! capsfilter name=size ! "
      "appsink name=frame sync=false wait-on-eos=false",
      nullptr);
  g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "image");
  g_autoptr(GstElement) size = gst_bin_get_by_name(GST_BIN(pipeline), "size");
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "frame");
  g_autoptr(GstCaps) encoded = gst_caps_new_empty_simple(mime_type.c_str());
  g_object_set(source, "caps", encoded, nullptr);
  g_object_set(size, "caps", raw, nullptr);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  gst_app_src_push_buffer(GST_APP_SRC(source), gst_buffer_new_memdup(data.data(), data.size()));
  gst_app_src_end_of_stream(GST_APP_SRC(source));
  // The frame is in the sink once the image's EOS reaches it.
  auto failure = grok_imagine_wait_for_eos(pipeline, 10 * GST_SECOND, cancellable);
  g_autoptr(GstSample) frame =
      failure ? nullptr : gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 0);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!frame) return grokimagine::Error::io(failure.value_or("no frame came out"));
  return BufferPtr(gst_buffer_ref(gst_sample_get_buffer(frame)));
}

grokimagine::JobSettings preview_settings(const grokimagine::JobSettings &channel,
                                          const std::string &prompt) {
  grokimagine::JobSettings settings = channel;
  grokimagine::Request &request = settings.request;
  request = grokimagine::Request{};
  request.kind = grokimagine::MediaKind::Image;
  request.prompt = prompt;
  request.resolution = "1k";
  request.aspect_ratio = channel.request.aspect_ratio;
  settings.location.clear();
  settings.request_id.clear();
  settings.fallback_adapt = false;
  if (settings.budget_scope.empty()) settings.budget_usd = 0;
  settings.log_id = channel.log_id + "-preview";
  return settings;
}

ChannelPreview::ChannelPreview(std::shared_ptr<ChannelEvents> events,
                               grokimagine::JobSettings settings, const ChannelFormat &format)
    : events_(std::move(events)),
      cancellable_(grokimagine::GObjectPtr<GCancellable>::adopt(g_cancellable_new())) {
  auto larger = [](int side) { return (side + side * kStillMarginEighths / 8) & ~1; };
  gst_video_info_set_format(&frame_info_, GST_VIDEO_FORMAT_I420, guint(format.width),
                            guint(format.height));
  gst_video_info_set_format(&still_info_, GST_VIDEO_FORMAT_I420, guint(larger(format.width)),
                            guint(larger(format.height)));
  // Frames are written one per output frame while the still shows: a
  // pool spares an allocation each.
  g_autoptr(GstCaps) frame_caps = gst_video_info_to_caps(&frame_info_);
  frames_ = grokimagine::GObjectPtr<GstBufferPool>::adopt(gst_video_buffer_pool_new());
  GstStructure *config = gst_buffer_pool_get_config(frames_.get());
  gst_buffer_pool_config_set_params(config, frame_caps, guint(GST_VIDEO_INFO_SIZE(&frame_info_)), 2,
                                    0);
  if (!gst_buffer_pool_set_config(frames_.get(), config) ||
      !gst_buffer_pool_set_active(frames_.get(), TRUE))
    frames_ = {};
  g_autoptr(GstCaps) raw = gst_video_info_to_caps(&still_info_);
  gst_structure_remove_field(gst_caps_get_structure(raw, 0), "framerate");
  maker_ = std::thread([events = events_, settings = std::move(settings), caps = gst_caps_ref(raw),
                        cancellable = cancellable_, done = result_] {
    g_autoptr(GstCaps) still_caps = caps;
    Result result;
    grokimagine::ImageSet images;
    const grokimagine::JobEvents job_events;
    std::optional<grokimagine::Error> error = images.prepare(settings);
    if (!error) error = images.run(cancellable.get(), job_events);
    grokimagine::Generation &generation = images.generation();
    if (error && generation.submit_in_flight()) {
      // Stopped with the submit out: read its answer if it came (the
      // journal keeps the job either way).
      g_autoptr(GCancellable) now = g_cancellable_new();
      g_cancellable_cancel(now);
      generation.settle_submit(now, job_events);
    }
    result.request_id = generation.request_id();
    if (generation.submitted_this_run()) result.cost_usd = generation.cost().value_or(0);
    if (error) {
      result.error = error->message;
    } else {
      generation.record().delivered({}, 0);
      const grokimagine::Output &image = images.images().front();
      auto still = decode_still(image.data, image.mime_type, still_caps, cancellable.get());
      if (still.ok())
        result.still = std::move(*still);
      else
        result.error = "cannot decode its " + image.mime_type + ": " + still.error().message;
    }
    GST_INFO("preview of '%s': %s", settings.request.prompt.c_str(),
             result.still ? "ready" : result.error.c_str());
    std::unique_lock<std::mutex> lock(events->lock);
    *done = std::move(result);
    events->changed(lock);
  });
}

ChannelPreview::~ChannelPreview() {
  g_cancellable_cancel(cancellable_.get());
  if (maker_.joinable()) maker_.join();
  // Frames still downstream go back to the pool, which frees them then.
  if (frames_) gst_buffer_pool_set_active(frames_.get(), FALSE);
}

GstBuffer *ChannelPreview::frame(GstClockTime shown) const {
  GstBuffer *out = nullptr;
  if (!frames_ || gst_buffer_pool_acquire_buffer(frames_.get(), &out, nullptr) != GST_FLOW_OK)
    out = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&frame_info_), nullptr);
  GstVideoFrame from, to;
  if (!gst_video_frame_map(&from, const_cast<GstVideoInfo *>(&still_info_), (*result_)->still.get(),
                           GST_MAP_READ))
    return out;
  gst_video_frame_map(&to, const_cast<GstVideoInfo *>(&frame_info_), out, GST_MAP_WRITE);
  // Corner to corner and back (a triangle wave), on even pixels: I420's
  // chroma is one sample per two.
  const double cycle = std::fmod(double(shown) / GST_SECOND, 2 * kPanSeconds) / kPanSeconds;
  const double along = cycle <= 1 ? cycle : 2 - cycle;
  const int x = int(along * (still_info_.width - frame_info_.width)) & ~1;
  const int y = int(along * (still_info_.height - frame_info_.height)) & ~1;
  for (guint plane = 0; plane < GST_VIDEO_FRAME_N_PLANES(&to); plane++) {
    const int shift = plane == 0 ? 0 : 1;
    const int width = GST_VIDEO_FRAME_COMP_WIDTH(&to, plane);
    const int height = GST_VIDEO_FRAME_COMP_HEIGHT(&to, plane);
    const int from_stride = GST_VIDEO_FRAME_PLANE_STRIDE(&from, plane);
    const int to_stride = GST_VIDEO_FRAME_PLANE_STRIDE(&to, plane);
    const auto *source = static_cast<const guint8 *>(GST_VIDEO_FRAME_PLANE_DATA(&from, plane)) +
                         (y >> shift) * from_stride + (x >> shift);
    auto *dest = static_cast<guint8 *>(GST_VIDEO_FRAME_PLANE_DATA(&to, plane));
    for (int row = 0; row < height; row++)
      std::copy_n(source + row * from_stride, width, dest + row * to_stride);
  }
  gst_video_frame_unmap(&to);
  gst_video_frame_unmap(&from);
  return out;
}
