// SPDX-License-Identifier: LGPL-2.1-or-later
#include "image.h"

#include "clip.h"
#include "emulator-debug.h"

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
  g_autoptr(GstElement) pipeline = build_pipeline(pipeline_description(spec), error);
  if (pipeline == nullptr) return false;

  const std::string partial_path = path + ".partial";
  set_overlay_text(pipeline, overlay_text(spec), spec.height);
  {
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_object_set(sink, "location", partial_path.c_str(), nullptr);
  }

  const gint64 started_us = g_get_monotonic_time();
  if (!encode_into_place(pipeline, partial_path, path, cancelled, error)) return false;
  GST_INFO("encoded %s (%dx%d) in %" G_GINT64_FORMAT " ms", path.c_str(), spec.width, spec.height,
           (g_get_monotonic_time() - started_us) / 1000);
  return true;
}

}  // namespace grokimagine::emulator
