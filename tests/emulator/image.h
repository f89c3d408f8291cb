// SPDX-License-Identifier: LGPL-2.1-or-later
// Encodes the still images the emulator serves for image jobs: real PNG,
// JPEG or WebP files, so clients see what a provider would send.
#pragma once

#include <atomic>
#include <string>

namespace grokimagine::emulator {

enum class ImageFormat { Png, Jpeg, Webp };

// "png", "jpeg", "webp": the output_format value and the URL extension.
const char *image_extension(ImageFormat format);
// "image/png", "image/jpeg", "image/webp".
const char *image_content_type(ImageFormat format);

struct ImageSpec {
  int width = 0;
  int height = 0;
  ImageFormat format = ImageFormat::Png;
  std::string prompt;  // drawn on the image
  // Image `index` (0-based) of `count` in one request: each gets its own
  // test pattern and an "index+1/count" line, so they differ.
  int index = 0;
  int count = 1;
};

// A file name (no directory) that is the same for equal specs.
std::string image_file_name(const ImageSpec &spec);

// Encodes `spec` into `path` (via a temporary name, then renamed). Blocks;
// meant for a worker thread. False with `error` filled on failure or when
// `cancelled` becomes true.
bool encode_image(const ImageSpec &spec, const std::string &path,
                  const std::atomic<bool> &cancelled, std::string *error);

}  // namespace grokimagine::emulator
