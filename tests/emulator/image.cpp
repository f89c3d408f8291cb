#include "image.h"

#include "clip.h"
#include "emulator-debug.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#include <algorithm>
#include <iterator>
#include <string>

#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

// One per image of a request (xAI allows 10), all deterministic (no "snow")
// and visibly different from each other.
const char *const kPatterns[] = {"smpte",  "pinwheel", "spokes",  "circular",   "gradient",
                                 "colors", "gamut",    "smpte75", "zone-plate", "checkers-8"};

const char *encoder_for(ImageFormat format) {
  switch (format) {
    case ImageFormat::Png:
      return "pngenc";
    case ImageFormat::Jpeg:
      return "jpegenc";
    case ImageFormat::Webp:
      return "webpenc";
  }
  return "pngenc";
}

// Only numbers and fixed names go into the description; the prompt is set as
// a property afterwards.
std::string pipeline_description(const ImageSpec &spec) {
  const std::size_t pattern =
      static_cast<std::size_t>(std::max(0, spec.index)) % std::size(kPatterns);
  return std::string("videotestsrc num-buffers=1 pattern=") + kPatterns[pattern] +
         " ! video/x-raw,width=" + std::to_string(spec.width) +
         ",height=" + std::to_string(spec.height) +
         ",framerate=1/1,pixel-aspect-ratio=1/1"
         " ! textoverlay name=prompt_overlay halignment=center valignment=center"
         " shaded-background=true ! videoconvert ! " +
         encoder_for(spec.format) + " ! filesink name=sink";
}

std::string overlay_text(const ImageSpec &spec) {
  return spec.prompt + "\n" + std::to_string(spec.index + 1) + "/" + std::to_string(spec.count);
}

}  // namespace

const char *image_extension(ImageFormat format) {
  switch (format) {
    case ImageFormat::Png:
      return "png";
    case ImageFormat::Jpeg:
      return "jpeg";
    case ImageFormat::Webp:
      return "webp";
  }
  return "png";
}

const char *image_content_type(ImageFormat format) {
  switch (format) {
    case ImageFormat::Png:
      return "image/png";
    case ImageFormat::Jpeg:
      return "image/jpeg";
    case ImageFormat::Webp:
      return "image/webp";
  }
  return "image/png";
}

std::string image_file_name(const ImageSpec &spec) {
  const std::string size = std::to_string(spec.width) + "x" + std::to_string(spec.height);
  const std::string key = size + "/" + std::to_string(spec.index) + "/" +
                          std::to_string(spec.count) + "/" + image_extension(spec.format) + "/" +
                          spec.prompt;
  g_autofree gchar *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key.c_str(), -1);
  return "image-" + size + "-" + std::to_string(spec.index + 1) + "of" +
         std::to_string(spec.count) + "-" + std::string(digest, 16) + "." +
         image_extension(spec.format);
}

bool encode_image(const ImageSpec &spec, const std::string &path,
                  const std::atomic<bool> &cancelled, std::string *error) {
  const std::string description = pipeline_description(spec);
  g_autoptr(GError) parse_error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(description.c_str(), &parse_error);
  if (pipeline == nullptr || parse_error != nullptr) {
    *error = std::string("could not build the image pipeline: ") +
             (parse_error ? parse_error->message : "unknown error");
    return false;
  }
  if (g_object_is_floating(pipeline)) gst_object_ref_sink(pipeline);

  const std::string partial_path = path + ".partial";
  const std::string text = overlay_text(spec);
  const std::string font = "Sans Bold " + std::to_string(std::max(12, spec.height / 24));
  {
    g_autoptr(GstElement) overlay = gst_bin_get_by_name(GST_BIN(pipeline), "prompt_overlay");
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    // textoverlay reads Pango markup: a prompt's '&' or '<' must not be.
    g_autofree gchar *escaped = g_markup_escape_text(text.c_str(), -1);
    g_object_set(overlay, "text", escaped, "font-desc", font.c_str(), nullptr);
    g_object_set(sink, "location", partial_path.c_str(), nullptr);
  }

  const gint64 started_us = g_get_monotonic_time();
  const bool encoded = run_to_eos(pipeline, cancelled, error);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!encoded) {
    g_remove(partial_path.c_str());
    return false;
  }
  if (g_rename(partial_path.c_str(), path.c_str()) != 0) {
    *error = "could not move the encoded image into place";
    g_remove(partial_path.c_str());
    return false;
  }
  GST_INFO("encoded %s (%dx%d) in %" G_GINT64_FORMAT " ms", path.c_str(), spec.width, spec.height,
           (g_get_monotonic_time() - started_us) / 1000);
  return true;
}

}  // namespace grokimagine::emulator
