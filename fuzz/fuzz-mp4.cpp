// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target: the MP4 box reader (core/mp4) on arbitrary bytes, as a
// clip's head, a whole file and a moov box: the download's layout and
// first-frame reading, a file's duration, clearing its times.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/mp4.h"

using namespace grokimagine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string bytes(reinterpret_cast<const char *>(data), size);
  // A clip's first bytes, the clip claiming to be larger, then smaller.
  for (std::uint64_t claimed :
       {std::uint64_t(size), std::uint64_t(size) * 4, std::uint64_t(size) / 2})
    mp4::find_layout(bytes, claimed, 4096);
  if (auto moov = mp4::read_moov(mp4::read_from(bytes), size); moov.ok()) {
    mp4::first_frame_end(moov->bytes);
    mp4::movie_duration(moov->bytes);
    mp4::clear_times(moov->bytes);
  }
  // The bytes as a moov box themselves.
  std::string moov = bytes;
  mp4::first_frame_end(moov);
  mp4::movie_duration(moov);
  mp4::clear_times(moov);
  mp4::find_box(mp4::read_from(bytes, 100), 100, 100 + std::uint64_t(size) * 2, "moov");
  return 0;
}
