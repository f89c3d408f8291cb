// SPDX-License-Identifier: LGPL-2.1-or-later
// check-media: what media files hold, for the examples test.
//
//   check-media FILE...
//     Reads the files without decoding (*.mp4 with qtdemux, samples as
//     stored; anything else, e.g. MPEG-TS, with parsebin) and prints one line
//     per kind of stream, summed over the files in order (the segments of an
//     HLS stream add up to the whole clip):
//       stream video/x-h264 frames=48 bytes=51234 duration=2.000 sha256=... width=848 height=480
//       stream audio/mpeg frames=94 bytes=9876 duration=2.005 sha256=... mpegversion=4 rate=48000
//     H.264 is counted in access units, so frames are video frames; sha256 is
//     over the payloads, so two MP4s holding the same samples have the same
//     digest, whatever else differs.
//
//   check-media --luma X,Y,W,H FILE
//     Decodes the first video stream and prints, per frame, the mean luma
//     (0..255) of the rectangle: "frame pts=1.000 luma=16.2".
//
// Exits 1 on an error (printed), 2 on bad usage.
#include <gst/gst.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace {

struct Stream {
  std::string caps_name;
  std::string fields;  // from the first file's caps
  guint64 frames = 0;
  guint64 bytes = 0;
  GstClockTime duration = 0;
  std::unique_ptr<GChecksum, decltype(&g_checksum_free)> digest{g_checksum_new(G_CHECKSUM_SHA256),
                                                                g_checksum_free};
};

// By caps name, in name order; each stream's sink counts in its own
// streaming thread.
std::map<std::string, Stream> streams;
std::mutex streams_mutex;

struct Region {
  int x = 0, y = 0, width = 0, height = 0;
};

std::string describe_fields(const GstStructure *s) {
  std::string fields;
  for (const char *name : {"width", "height", "mpegversion", "rate", "channels"}) {
    gint value;
    if (gst_structure_get_int(s, name, &value))
      fields += std::string(" ") + name + "=" + std::to_string(value);
  }
  return fields;
}

void count_buffer(GstElement *, GstBuffer *buffer, GstPad *pad, gpointer) {
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  if (!caps) return;
  const GstStructure *s = gst_caps_get_structure(caps, 0);
  std::lock_guard<std::mutex> lock(streams_mutex);
  Stream &stream = streams[gst_structure_get_name(s)];
  if (stream.caps_name.empty()) {
    stream.caps_name = gst_structure_get_name(s);
    stream.fields = describe_fields(s);
  }
  ++stream.frames;
  GstMapInfo map;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    stream.bytes += map.size;
    g_checksum_update(stream.digest.get(), map.data, static_cast<gssize>(map.size));
    gst_buffer_unmap(buffer, &map);
  }
  if (GST_BUFFER_DURATION_IS_VALID(buffer)) stream.duration += GST_BUFFER_DURATION(buffer);
}

// Every stream into a counting fakesink, H.264 in access units;
// behind a queue, so that a demuxer's one thread cannot block in one sink's
// preroll while another waits for data.
void link_parsed(GstElement *demuxer, GstPad *pad, GstElement *pipeline) {
  g_autoptr(GstCaps) caps = gst_pad_query_caps(pad, nullptr);
  const bool h264 = !gst_caps_is_empty(caps) && !gst_caps_is_any(caps) &&
                    gst_structure_has_name(gst_caps_get_structure(caps, 0), "video/x-h264");
  g_autoptr(GError) error = nullptr;
  GstElement *branch = gst_parse_bin_from_description(
      h264 ? "queue ! video/x-h264,alignment=au ! fakesink name=counter"
           : "queue ! fakesink name=counter",
      TRUE, &error);
  g_autoptr(GstElement) counter = gst_bin_get_by_name(GST_BIN(branch), "counter");
  g_object_set(counter, "sync", FALSE, "signal-handoffs", TRUE, nullptr);
  g_signal_connect(counter, "handoff", G_CALLBACK(count_buffer), nullptr);
  gst_bin_add(GST_BIN(pipeline), branch);
  g_autoptr(GstPad) sinkpad = gst_element_get_static_pad(branch, "sink");
  if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK) {
    g_autofree gchar *name = gst_pad_get_name(pad);
    GST_ELEMENT_ERROR(demuxer, STREAM, FAILED, ("Cannot link %s", name), (nullptr));
  }
  gst_element_sync_state_with_parent(branch);
}

bool run(GstElement *pipeline) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::fprintf(stderr, "check-media: the pipeline does not start\n");
    return false;
  }
  g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!message) {
    std::fprintf(stderr, "check-media: no EOS within 60 s\n");
    return false;
  }
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) error = nullptr;
    g_autofree gchar *debug = nullptr;
    gst_message_parse_error(message, &error, &debug);
    std::fprintf(stderr, "check-media: %s (%s)\n", error->message, debug ? debug : "");
    return false;
  }
  return true;
}

bool parse_file(const char *path) {
  g_autoptr(GstElement) pipeline = gst_pipeline_new(nullptr);
  GstElement *source = gst_element_factory_make("filesrc", nullptr);
  // An MP4's samples are access units already: take them as stored, since a
  // parser may rewrite some (h264parse adds SPS/PPS to keyframes).
  GstElement *demuxer =
      gst_element_factory_make(g_str_has_suffix(path, ".mp4") ? "qtdemux" : "parsebin", nullptr);
  g_object_set(source, "location", path, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, demuxer, nullptr);
  gst_element_link(source, demuxer);
  g_signal_connect(demuxer, "pad-added", G_CALLBACK(link_parsed), pipeline);
  if (run(pipeline)) return true;
  std::fprintf(stderr, "check-media: while reading %s\n", path);
  return false;
}

void print_luma(GstElement *, GstBuffer *buffer, GstPad *pad, gpointer data) {
  const Region &region = *static_cast<Region *>(data);
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  GstVideoInfo info;
  if (!caps || !gst_video_info_from_caps(&info, caps)) return;
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ)) return;
  const int x_end = std::min(region.x + region.width, GST_VIDEO_INFO_WIDTH(&info));
  const int y_end = std::min(region.y + region.height, GST_VIDEO_INFO_HEIGHT(&info));
  const auto *pixels = static_cast<const guint8 *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  guint64 sum = 0, count = 0;
  for (int y = region.y; y < y_end; ++y)
    for (int x = region.x; x < x_end; ++x, ++count) sum += pixels[y * stride + x];
  gst_video_frame_unmap(&frame);
  std::printf("frame pts=%.3f luma=%.1f\n",
              GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) / double(GST_SECOND) : -1.0,
              count ? double(sum) / double(count) : 0.0);
}

void link_decoded(GstElement *, GstPad *pad, GstElement *convert) {
  g_autoptr(GstCaps) caps = gst_pad_query_caps(pad, nullptr);
  if (gst_caps_is_empty(caps) ||
      !g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "video/"))
    return;
  g_autoptr(GstPad) sinkpad = gst_element_get_static_pad(convert, "sink");
  if (!gst_pad_is_linked(sinkpad)) gst_pad_link(pad, sinkpad);
}

bool luma(const char *path, Region *region) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "filesrc name=source ! decodebin name=decoder "
      "videoconvert name=convert ! video/x-raw,format=GRAY8 ! fakesink name=sink sync=false "
      "signal-handoffs=true",
      &error);
  if (!pipeline) {
    std::fprintf(stderr, "check-media: %s\n", error->message);
    return false;
  }
  g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
  g_autoptr(GstElement) decoder = gst_bin_get_by_name(GST_BIN(pipeline), "decoder");
  g_autoptr(GstElement) convert = gst_bin_get_by_name(GST_BIN(pipeline), "convert");
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(source, "location", path, nullptr);
  g_signal_connect(decoder, "pad-added", G_CALLBACK(link_decoded), convert);
  g_signal_connect(sink, "handoff", G_CALLBACK(print_luma), region);
  return run(pipeline);
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc == 4 && g_str_equal(argv[1], "--luma")) {
    Region region;
    if (std::sscanf(argv[2], "%d,%d,%d,%d", &region.x, &region.y, &region.width, &region.height) !=
        4) {
      std::fprintf(stderr, "check-media: --luma X,Y,W,H\n");
      return 2;
    }
    return luma(argv[3], &region) ? 0 : 1;
  }
  if (argc < 2 || g_str_has_prefix(argv[1], "-")) {
    std::fprintf(stderr, "usage: check-media FILE... | check-media --luma X,Y,W,H FILE\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i)
    if (!parse_file(argv[i])) return 1;
  for (const auto &[name, stream] : streams)
    std::printf("stream %s frames=%" G_GUINT64_FORMAT " bytes=%" G_GUINT64_FORMAT
                " duration=%.3f sha256=%s%s\n",
                name.c_str(), stream.frames, stream.bytes, stream.duration / double(GST_SECOND),
                g_checksum_get_string(stream.digest.get()), stream.fields.c_str());
  return 0;
}
