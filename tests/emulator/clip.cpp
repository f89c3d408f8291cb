// SPDX-License-Identifier: LGPL-2.1-or-later
#include "clip.h"

#include "emulator-debug.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#include <algorithm>
#include <cstdint>
#include <string>

#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

constexpr int kFramesPerSecond = 24;
constexpr int kKeyframeInterval = 24;
constexpr int kAudioRate = 48000;
// 480 samples at 48 kHz is 10 ms: 100 buffers make exactly one second, so the
// tone lasts exactly as long as the video.
constexpr int kSamplesPerBuffer = 480;
constexpr int kAudioBuffersPerSecond = kAudioRate / kSamplesPerBuffer;
constexpr GstClockTime kBusPollInterval = 100 * GST_MSECOND;
// Options::bulky: tens of MB even for short clips.
constexpr std::int64_t kBulkyKbps = 60000;
// What the AAC track adds per second (both encoders default to 128 kbit/s),
// taken off a target size before it is spread over the video.
constexpr std::int64_t kAudioBytesPerSecond = 16000;
// x264enc's largest bitrate (2 Gbit/s): beyond what noise reaches anyway.
constexpr std::int64_t kMaxKbps = 2048000;
// Measured: what x264 spends beyond its bitrate at the start of a clip, in
// tenths of a second of that bitrate.
constexpr std::int64_t kStartupTenths = 3;

// avenc_aac is the usual encoder; voaacenc is the fallback when the libav
// plugin is not installed.
const char *find_aac_encoder() {
  for (const char *name : {"avenc_aac", "voaacenc"}) {
    g_autoptr(GstElementFactory) factory = gst_element_factory_find(name);
    if (factory != nullptr) return name;
  }
  return nullptr;
}

// The x264enc properties that set the clip's size. Noise defeats prediction,
// so x264 spends what it is given: its bitrate, spread over the duration,
// lands within a few percent of the target, up to the point where every
// residual is kept whole. Letting the quantizer fall to 0 (x264enc's qp-min
// is 10) is what lets that point reach about 40 bytes per pixel-second.
std::string rate_control(const ClipSpec &spec) {
  if (spec.target_bytes > 0) {
    const std::int64_t seconds = std::max(1, spec.duration_s);
    const std::int64_t video_bytes = spec.target_bytes - kAudioBytesPerSecond * seconds;
    // x264's VBV buffer starts nearly full and gets spent up front: about
    // kStartupTenths of a second's worth on top of any clip, +35% on a 1 s
    // one if not allowed for.
    const std::int64_t kbps = std::clamp<std::int64_t>(
        video_bytes * 8 / 100 / (10 * seconds + kStartupTenths), 1, kMaxKbps);
    return "bitrate=" + std::to_string(kbps) + " qp-min=0 ";
  }
  if (spec.bulky) return "bitrate=" + std::to_string(kBulkyKbps) + " ";
  return "";
}

bool is_noise(const ClipSpec &spec) {
  return spec.bulky || spec.target_bytes > 0;
}

// Only numbers and fixed element names go into the description; the prompt
// (free text with quotes) is set as a property afterwards.
std::string pipeline_description(const ClipSpec &spec, const char *aac_encoder) {
  const int video_frames = spec.duration_s * kFramesPerSecond;
  const int audio_buffers = spec.duration_s * kAudioBuffersPerSecond;
  return std::string("videotestsrc pattern=") + (is_noise(spec) ? "snow" : "ball") +
         " num-buffers=" + std::to_string(video_frames) +
         " ! video/x-raw,format=I420,width=" + std::to_string(spec.width) +
         ",height=" + std::to_string(spec.height) +
         ",framerate=" + std::to_string(kFramesPerSecond) +
         "/1,pixel-aspect-ratio=1/1"
         " ! textoverlay name=prompt_overlay halignment=center valignment=center"
         " shaded-background=true"
         " ! videoconvert ! x264enc speed-preset=ultrafast " +
         rate_control(spec) + "key-int-max=" + std::to_string(kKeyframeInterval) +
         " ! h264parse ! mp4mux name=mux ! filesink name=sink"
         " audiotestsrc wave=sine freq=440 samplesperbuffer=" +
         std::to_string(kSamplesPerBuffer) + " num-buffers=" + std::to_string(audio_buffers) +
         " ! audio/x-raw,rate=" + std::to_string(kAudioRate) + ",channels=2 ! audioconvert ! " +
         aac_encoder + " ! aacparse ! mux.";
}

std::string frame_caps(const ClipSpec &spec) {
  return "video/x-raw,format=I420,width=" + std::to_string(spec.width) +
         ",height=" + std::to_string(spec.height) +
         ",framerate=" + std::to_string(kFramesPerSecond) + "/1,pixel-aspect-ratio=1/1";
}

// Extensions and edits: the input's frames decoded and brought to the
// output's size and rate, then (extend) new frames, or (edit) restyled.
std::string input_description(const ClipSpec &spec, const char *aac_encoder) {
  const std::string encode = " ! videoconvert ! x264enc speed-preset=ultrafast key-int-max=" +
                             std::to_string(kKeyframeInterval) +
                             " ! h264parse ! mp4mux name=mux ! filesink name=sink ";
  const std::string input =
      "filesrc name=input ! qtdemux name=demux demux.video_0 ! queue ! "
      "h264parse ! avdec_h264 ! videoconvert ! videoscale ! videorate ! " +
      frame_caps(spec);
  std::string description;
  double seconds = spec.input_seconds;
  if (spec.restyle) {
    description = input +
                  " ! videobalance saturation=0 ! textoverlay name=prompt_overlay "
                  "halignment=center valignment=center shaded-background=true" +
                  encode;
  } else {
    seconds += spec.duration_s;
    description = "concat name=c" + encode + input +
                  " ! c. videotestsrc pattern=ball num-buffers=" +
                  std::to_string(spec.duration_s * kFramesPerSecond) + " ! " + frame_caps(spec) +
                  " ! textoverlay name=prompt_overlay halignment=center valignment=center "
                  "shaded-background=true ! c. ";
  }
  if (spec.audio)
    description +=
        " audiotestsrc wave=sine freq=440 samplesperbuffer=" + std::to_string(kSamplesPerBuffer) +
        " num-buffers=" + std::to_string(int(seconds * kAudioBuffersPerSecond + 0.5)) +
        " ! audio/x-raw,rate=" + std::to_string(kAudioRate) + ",channels=2 ! audioconvert ! " +
        aac_encoder + " ! aacparse ! mux.";
  return description;
}

}  // namespace

bool probe_clip(const std::string &path, int *width, int *height, double *seconds,
                std::string *error) {
  g_autoptr(GstElement) pipeline = build_pipeline(
      "filesrc name=input ! qtdemux name=demux demux.video_0 ! h264parse name=parse ! fakesink",
      error);
  if (pipeline == nullptr) return false;
  g_autoptr(GstElement) input = gst_bin_get_by_name(GST_BIN(pipeline), "input");
  g_object_set(input, "location", path.c_str(), nullptr);
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  const GstStateChangeReturn state =
      gst_element_get_state(pipeline, nullptr, nullptr, 5 * GST_SECOND);
  bool ok = false;
  if (state == GST_STATE_CHANGE_SUCCESS) {
    g_autoptr(GstElement) parse = gst_bin_get_by_name(GST_BIN(pipeline), "parse");
    g_autoptr(GstPad) pad = gst_element_get_static_pad(parse, "src");
    g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
    gint64 duration = -1;
    if (caps && gst_pad_query_duration(pad, GST_FORMAT_TIME, &duration) && duration > 0) {
      GstStructure *structure = gst_caps_get_structure(caps, 0);
      ok = gst_structure_get_int(structure, "width", width) &&
           gst_structure_get_int(structure, "height", height);
      *seconds = double(duration) / GST_SECOND;
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!ok) *error = "not an H.264 MP4 the emulator can read";
  return ok;
}

std::string last_video_sample_digest(const std::string &path, const std::atomic<bool> &cancelled) {
  std::string error;
  g_autoptr(GstElement) pipeline = build_pipeline(
      "filesrc name=input ! qtdemux name=demux demux.video_0 ! fakesink name=sink "
      "signal-handoffs=true",
      &error);
  if (pipeline == nullptr) return "";
  g_autoptr(GstElement) input = gst_bin_get_by_name(GST_BIN(pipeline), "input");
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(input, "location", path.c_str(), nullptr);
  GstBuffer *last_sample = nullptr;
  g_signal_connect(sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *sample, GstPad *, GstBuffer **last) {
                     gst_buffer_replace(last, sample);
                   }),
                   &last_sample);
  const bool demuxed = run_to_eos(pipeline, cancelled, &error);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  std::string digest;
  GstMapInfo map;
  if (demuxed && last_sample != nullptr && gst_buffer_map(last_sample, &map, GST_MAP_READ)) {
    g_autofree gchar *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, map.data, map.size);
    digest = hex;
    gst_buffer_unmap(last_sample, &map);
  }
  gst_clear_buffer(&last_sample);
  return digest;
}

bool run_to_eos(GstElement *pipeline, const std::atomic<bool> &cancelled, std::string *error) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "could not start the pipeline";
    return false;
  }
  // Short bus waits so a destructor asking us to stop is heard quickly.
  while (!cancelled.load()) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
        bus, kBusPollInterval, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (message == nullptr) continue;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) return true;
    g_autoptr(GError) gerror = nullptr;
    g_autofree gchar *debug_info = nullptr;
    gst_message_parse_error(message, &gerror, &debug_info);
    *error = std::string("pipeline failed: ") + (gerror ? gerror->message : "unknown error");
    GST_WARNING("%s (%s)", error->c_str(), debug_info ? debug_info : "");
    return false;
  }
  *error = "cancelled";
  return false;
}

GstElement *build_pipeline(const std::string &description, std::string *error) {
  g_autoptr(GError) parse_error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &parse_error);
  // A description with a bad property still yields a pipeline, plus an error.
  if (pipeline == nullptr || parse_error != nullptr) {
    if (pipeline != nullptr) gst_object_unref(pipeline);
    *error = std::string("could not build the pipeline: ") +
             (parse_error ? parse_error->message : "unknown error");
    return nullptr;
  }
  // gst_parse_launch hands out a floating reference: sink it so the caller
  // owns a plain one.
  if (g_object_is_floating(pipeline)) gst_object_ref_sink(pipeline);
  return pipeline;
}

void set_overlay_text(GstElement *pipeline, const std::string &text, int height) {
  const std::string font = "Sans Bold " + std::to_string(std::max(12, height / 24));
  g_autoptr(GstElement) overlay = gst_bin_get_by_name(GST_BIN(pipeline), "prompt_overlay");
  // textoverlay reads Pango markup: a prompt's '&' or '<' must not be.
  g_autofree gchar *escaped = g_markup_escape_text(text.c_str(), -1);
  g_object_set(overlay, "text", escaped, "font-desc", font.c_str(), nullptr);
}

bool encode_into_place(GstElement *pipeline, const std::string &partial_path,
                       const std::string &path, const std::atomic<bool> &cancelled,
                       std::string *error) {
  const bool encoded = run_to_eos(pipeline, cancelled, error);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!encoded) {
    g_remove(partial_path.c_str());
    return false;
  }
  if (g_rename(partial_path.c_str(), path.c_str()) != 0) {
    *error = "could not move " + partial_path + " into place";
    g_remove(partial_path.c_str());
    return false;
  }
  return true;
}

std::string clip_file_name(const ClipSpec &spec) {
  // The prompt is arbitrary text: hash the whole spec for a safe, unique name
  // and keep the readable parts in front for whoever browses the directory.
  const std::string key = std::to_string(spec.width) + "x" + std::to_string(spec.height) + "/" +
                          std::to_string(spec.duration_s) + "/" + spec.input_path + "/" +
                          (spec.restyle ? "restyle/" : "") + (spec.audio ? "" : "silent/") +
                          (spec.moov_at_end ? "moov-at-end" : "faststart") + "/" +
                          (spec.bulky ? "bulky" : "light") + "/" +
                          std::to_string(spec.target_bytes) + "/" + spec.prompt;
  g_autofree gchar *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key.c_str(), -1);
  return std::to_string(spec.width) + "x" + std::to_string(spec.height) + "-" +
         std::to_string(spec.duration_s) + "s-" + std::string(digest, 16) + ".mp4";
}

bool encode_clip(const ClipSpec &spec, const std::string &path, const std::atomic<bool> &cancelled,
                 std::string *error) {
  const char *aac_encoder = find_aac_encoder();
  if (aac_encoder == nullptr) {
    *error = "no AAC encoder (avenc_aac or voaacenc) installed";
    return false;
  }
  std::string description = pipeline_description(spec, aac_encoder);
  if (!spec.input_path.empty()) {
    description = input_description(spec, aac_encoder);
  } else if (!spec.audio) {
    description = description.substr(0, description.find(" audiotestsrc"));
  }
  g_autoptr(GstElement) pipeline = build_pipeline(description, error);
  if (pipeline == nullptr) return false;
  if (!spec.input_path.empty()) {
    g_autoptr(GstElement) input = gst_bin_get_by_name(GST_BIN(pipeline), "input");
    g_object_set(input, "location", spec.input_path.c_str(), nullptr);
  }

  const std::string partial_path = path + ".partial";
  const std::string faststart_scratch_path = path + ".moov";
  set_overlay_text(pipeline, spec.prompt, spec.height);
  {
    g_autoptr(GstElement) mux = gst_bin_get_by_name(GST_BIN(pipeline), "mux");
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    // faststart puts moov before mdat; mp4mux needs a scratch file for it,
    // kept next to the clip so the emulator's directory holds everything.
    g_object_set(mux, "faststart", spec.moov_at_end ? FALSE : TRUE, "faststart-file",
                 faststart_scratch_path.c_str(), nullptr);
    g_object_set(sink, "location", partial_path.c_str(), nullptr);
  }

  const gint64 started_us = g_get_monotonic_time();
  const bool encoded = encode_into_place(pipeline, partial_path, path, cancelled, error);
  g_remove(faststart_scratch_path.c_str());
  if (!encoded) return false;
  GStatBuf info;
  const gint64 size = g_stat(path.c_str(), &info) == 0 ? static_cast<gint64>(info.st_size) : -1;
  GST_INFO("encoded %s (%dx%d, %d s, %" G_GINT64_FORMAT " bytes) in %" G_GINT64_FORMAT " ms",
           path.c_str(), spec.width, spec.height, spec.duration_s, size,
           (g_get_monotonic_time() - started_us) / 1000);
  // Past what noise can reach, or below what the audio takes: say so, as the
  // client will see a size it did not ask for.
  if (spec.target_bytes > 0 &&
      (size < spec.target_bytes * 3 / 4 || size > spec.target_bytes * 5 / 4)) {
    GST_WARNING("%s is %" G_GINT64_FORMAT " bytes, asked for %" G_GINT64_FORMAT, path.c_str(), size,
                static_cast<gint64>(spec.target_bytes));
  }
  return true;
}

}  // namespace grokimagine::emulator
