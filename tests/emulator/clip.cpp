#include "clip.h"

#include "emulator-debug.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#include <algorithm>
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

// avenc_aac is the usual encoder; voaacenc is the fallback when the libav
// plugin is not installed.
const char *find_aac_encoder() {
  for (const char *name : {"avenc_aac", "voaacenc"}) {
    g_autoptr(GstElementFactory) factory = gst_element_factory_find(name);
    if (factory != nullptr) return name;
  }
  return nullptr;
}

// Only numbers and fixed element names go into the description; the prompt
// (free text with quotes) is set as a property afterwards.
std::string pipeline_description(const ClipSpec &spec, const char *aac_encoder) {
  const int video_frames = spec.duration_s * kFramesPerSecond;
  const int audio_buffers = spec.duration_s * kAudioBuffersPerSecond;
  return std::string("videotestsrc pattern=") + (spec.bulky ? "snow" : "ball") +
         " num-buffers=" + std::to_string(video_frames) +
         " ! video/x-raw,format=I420,width=" + std::to_string(spec.width) +
         ",height=" + std::to_string(spec.height) +
         ",framerate=" + std::to_string(kFramesPerSecond) +
         "/1,pixel-aspect-ratio=1/1"
         " ! textoverlay name=prompt_overlay halignment=center valignment=center"
         " shaded-background=true"
         " ! videoconvert ! x264enc speed-preset=ultrafast " +
         (spec.bulky ? "bitrate=60000 " : "") + "key-int-max=" + std::to_string(kKeyframeInterval) +
         " ! h264parse ! mp4mux name=mux ! filesink name=sink"
         " audiotestsrc wave=sine freq=440 samplesperbuffer=" +
         std::to_string(kSamplesPerBuffer) + " num-buffers=" + std::to_string(audio_buffers) +
         " ! audio/x-raw,rate=" + std::to_string(kAudioRate) + ",channels=2 ! audioconvert ! " +
         aac_encoder + " ! aacparse ! mux.";
}

}  // namespace

bool run_to_eos(GstElement *pipeline, const std::atomic<bool> &cancelled, std::string *error) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "could not start the encoding pipeline";
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
    *error = std::string("encoding failed: ") + (gerror ? gerror->message : "unknown error");
    GST_WARNING("%s (%s)", error->c_str(), debug_info ? debug_info : "");
    return false;
  }
  *error = "encoding cancelled";
  return false;
}

std::string clip_file_name(const ClipSpec &spec) {
  // The prompt is arbitrary text: hash the whole spec for a safe, unique name
  // and keep the readable parts in front for whoever browses the directory.
  const std::string key = std::to_string(spec.width) + "x" + std::to_string(spec.height) + "/" +
                          std::to_string(spec.duration_s) + "/" +
                          (spec.moov_at_end ? "moov-at-end" : "faststart") + "/" +
                          (spec.bulky ? "bulky" : "light") + "/" + spec.prompt;
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
  const std::string description = pipeline_description(spec, aac_encoder);
  g_autoptr(GError) parse_error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(description.c_str(), &parse_error);
  // A description with a bad property still yields a pipeline, plus an error.
  if (pipeline == nullptr || parse_error != nullptr) {
    *error = std::string("could not build the encoding pipeline: ") +
             (parse_error ? parse_error->message : "unknown error");
    return false;
  }
  // gst_parse_launch hands out a floating reference: sink it so the
  // g_autoptr owns a plain one.
  if (g_object_is_floating(pipeline)) gst_object_ref_sink(pipeline);

  const std::string partial_path = path + ".partial";
  const std::string faststart_scratch_path = path + ".moov";
  const int font_points = std::max(12, spec.height / 24);
  const std::string font = "Sans Bold " + std::to_string(font_points);
  {
    g_autoptr(GstElement) overlay = gst_bin_get_by_name(GST_BIN(pipeline), "prompt_overlay");
    g_autoptr(GstElement) mux = gst_bin_get_by_name(GST_BIN(pipeline), "mux");
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    // textoverlay reads Pango markup: a prompt's '&' or '<' must not be.
    g_autofree gchar *escaped = g_markup_escape_text(spec.prompt.c_str(), -1);
    g_object_set(overlay, "text", escaped, "font-desc", font.c_str(), nullptr);
    // faststart puts moov before mdat; mp4mux needs a scratch file for it,
    // kept next to the clip so the emulator's directory holds everything.
    g_object_set(mux, "faststart", spec.moov_at_end ? FALSE : TRUE, "faststart-file",
                 faststart_scratch_path.c_str(), nullptr);
    g_object_set(sink, "location", partial_path.c_str(), nullptr);
  }

  const gint64 started_us = g_get_monotonic_time();
  const bool encoded = run_to_eos(pipeline, cancelled, error);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_remove(faststart_scratch_path.c_str());
  if (!encoded) {
    g_remove(partial_path.c_str());
    return false;
  }
  if (g_rename(partial_path.c_str(), path.c_str()) != 0) {
    *error = "could not move the encoded clip into place";
    g_remove(partial_path.c_str());
    return false;
  }
  GST_INFO("encoded %s (%dx%d, %d s) in %" G_GINT64_FORMAT " ms", path.c_str(), spec.width,
           spec.height, spec.duration_s, (g_get_monotonic_time() - started_us) / 1000);
  return true;
}

}  // namespace grokimagine::emulator
