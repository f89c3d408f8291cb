// What the download reads from an MP4's boxes (ISO/IEC 14496-12) to give
// the decoder its bytes first: where the moov is, and where the first
// video frame ends. Bounded walks over bytes in memory; nothing here trusts
// a size it did not check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

// The top-level box `type` among the boxes in `bytes` (which begin at file
// offset `offset`): its [begin, end) in the file, if it is there whole or
// not. Nothing when the boxes stop making sense.
std::optional<std::pair<std::uint64_t, std::uint64_t>> find_top_box(const std::string &bytes,
                                                                    std::uint64_t offset,
                                                                    const char *type);

// Where the first sample of the video track ends in the file, from the moov
// box's bytes (header included): the byte after which a decoder has its
// first frame. Nothing without a video track or when the tables are cut.
std::optional<std::uint64_t> first_frame_end(const std::string &moov);

}  // namespace grokimagine::mp4
