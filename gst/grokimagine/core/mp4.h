// SPDX-License-Identifier: LGPL-2.1-or-later
// The one reader of MP4 (ISO/IEC 14496-12) boxes: where the moov is and
// where the first video frame ends (the download), how long a file plays
// (extend's input), and its header times cleared (the channel's extension
// inputs). Bounded walks; nothing here trusts a size it did not check.
// Fuzzed (fuzz/fuzz-mp4.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "error.h"

namespace grokimagine::mp4 {

// Where the moov is, read from the first bytes of a clip of `size` bytes.
struct Layout {
  bool decided = false;  // false while more head bytes could tell
  // The moov box, [moov_begin, moov_end), when it comes before the mdat.
  std::optional<std::uint64_t> moov_begin, moov_end;
  // Where the boxes after the mdat begin when the mdat comes first
  // (mp4mux's default layout: qtdemux must read the moov at the end before
  // any frame).
  std::optional<std::uint64_t> tail;
};
// `max_head` is how many head bytes may be looked at: with that many and
// still no moov nor mdat, the layout is decided as unknown.
Layout find_layout(const std::string &head, std::uint64_t size, std::size_t max_head);

// Reads up to `size` bytes at `offset` of a file into `dest`: how many (0
// past its end), or -1 on an error.
using ReadAt = std::function<std::int64_t(std::uint64_t offset, void *dest, std::size_t size)>;
// A box in a file: where it begins, its payload begins, and it ends.
struct BoxSpan {
  std::uint64_t begin, payload, end;
};
// The top-level box `type` among the boxes from `offset` to `end` of what
// `read` reads (box headers only are read): whole or not (`end` may be
// past what there is). Nothing when the boxes stop making sense first.
std::optional<BoxSpan> find_box(const ReadAt &read, std::uint64_t offset, std::uint64_t end,
                                const char *type);
// `bytes` as a ReadAt, as if they began at file offset `offset`.
ReadAt read_from(const std::string &bytes, std::uint64_t offset = 0);

// A file's moov box: where it is, and its bytes. An error (Io: why, in a
// few plain words) when there is none, it is cut short, or larger than
// `max_bytes`.
struct Moov {
  BoxSpan span;
  std::string bytes;
};
Result<Moov> read_moov(const ReadAt &read, std::uint64_t file_size,
                       std::uint64_t max_bytes = 64 << 20);
// The same from an open file.
Result<Moov> read_moov(int fd);

// How long the movie plays, in seconds, from a moov box's mvhd (`moov`:
// the box's bytes, header included); an error saying why when it cannot
// tell (a fragmented MP4 gives no duration there).
Result<double> movie_duration(const std::string &moov);

// Zeroes the creation and modification times of the mvhd, tkhd and mdhd
// boxes in a moov box's bytes (header included): two encodes of the same
// media then give the same bytes.
void clear_times(std::string &moov);

// Where the first sample of the video track ends in the file, from the moov
// box's bytes (header included): the byte after which a decoder has its
// first frame; with `frames`, its first samples, as far as they lie in its
// first chunk (a frame-threaded decoder outputs its first frame only once
// it has a few). Nothing without a video track or when the tables are cut.
std::optional<std::uint64_t> first_frame_end(const std::string &moov, std::uint64_t frames = 1);

}  // namespace grokimagine::mp4
