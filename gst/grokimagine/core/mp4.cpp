// SPDX-License-Identifier: LGPL-2.1-or-later
#include "mp4.h"

#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace grokimagine::mp4 {

namespace {

std::uint64_t be(const std::string &bytes, std::size_t at, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; i++) value = value << 8 | std::uint8_t(bytes[at + i]);
  return value;
}

// At most this many boxes on a level: a file cannot make a walk long.
constexpr int kMaxBoxes = 4096;

struct Box {
  std::string type;
  std::size_t payload;  // offsets in the bytes walked
  std::size_t end;
};

// The boxes that fill [begin, end) of `bytes` whole; empty when one of them
// does not fit (a cut or corrupt table).
std::vector<Box> children(const std::string &bytes, std::size_t begin, std::size_t end) {
  std::vector<Box> boxes;
  std::size_t at = begin;
  while (at + 8 <= end && boxes.size() < kMaxBoxes) {
    std::uint64_t size = be(bytes, at, 4);
    std::size_t header = 8;
    if (size == 1) {
      if (at + 16 > end) return {};
      size = be(bytes, at + 8, 8);
      header = 16;
    } else if (size == 0) {
      size = end - at;  // to the end of the enclosing box
    }
    if (size < header || size > end - at) return {};
    boxes.push_back({bytes.substr(at + 4, 4), at + header, std::size_t(at + size)});
    at += size;
  }
  return boxes;
}

std::optional<Box> child(const std::string &bytes, const Box &parent, const char *type) {
  for (const Box &box : children(bytes, parent.payload, parent.end))
    if (box.type == type) return box;
  return std::nullopt;
}

// Where the first `count` samples of the track in `stbl` end in the file,
// as far as they lie in its first chunk (one sample at least).
std::optional<std::uint64_t> first_samples_end(const std::string &bytes, const Box &stbl,
                                               std::uint64_t count) {
  const auto sizes = child(bytes, stbl, "stsz");
  // stsz: version and flags, a size for every sample (0: sizes follow), a count.
  if (!sizes || sizes->end - sizes->payload < 12) return std::nullopt;
  const std::uint64_t samples = be(bytes, sizes->payload + 8, 4);
  if (samples == 0) return std::nullopt;
  // stsc: version and flags, an entry count, then (first chunk, samples per
  // chunk, description) entries: the first says how many the first chunk
  // holds. Without one, only the first sample is known to be there.
  const auto per_chunk = child(bytes, stbl, "stsc");
  std::uint64_t in_first_chunk = 1;
  if (per_chunk && per_chunk->end - per_chunk->payload >= 20 &&
      be(bytes, per_chunk->payload + 4, 4) > 0)
    in_first_chunk = std::max<std::uint64_t>(1, be(bytes, per_chunk->payload + 12, 4));
  count = std::max<std::uint64_t>(1, std::min({count, samples, in_first_chunk}));
  const std::uint64_t same_size = be(bytes, sizes->payload + 4, 4);
  std::uint64_t total = same_size * count;
  if (same_size == 0) {
    // A table of sizes, as far as it is there.
    count = std::min<std::uint64_t>(count, (sizes->end - sizes->payload - 12) / 4);
    if (count == 0) return std::nullopt;
    for (std::uint64_t i = 0; i < count; i++) total += be(bytes, sizes->payload + 12 + 4 * i, 4);
  }
  // The first sample is the first of the first chunk: at its offset.
  const auto chunks = child(bytes, stbl, "stco");
  const auto chunks64 = chunks ? std::nullopt : child(bytes, stbl, "co64");
  const Box *offsets = chunks ? &*chunks : chunks64 ? &*chunks64 : nullptr;
  const int width = chunks ? 4 : 8;
  if (!offsets || offsets->end - offsets->payload < std::size_t(8 + width) ||
      be(bytes, offsets->payload + 4, 4) == 0)
    return std::nullopt;
  return be(bytes, offsets->payload + 8, width) + total;
}

}  // namespace

Layout find_layout(const std::string &head, std::uint64_t size, std::size_t max_head) {
  Layout layout;
  std::uint64_t at = 0;
  while (true) {
    if (at + 8 > head.size()) {
      layout.decided = head.size() >= max_head;  // give up past the head
      return layout;
    }
    std::uint64_t box = be(head, at, 4);
    const std::string type = head.substr(at + 4, 4);
    if (box == 1) {
      if (at + 16 > head.size()) {
        layout.decided = head.size() >= max_head;
        return layout;
      }
      box = be(head, at + 8, 8);
    }
    layout.decided = true;
    // Past the clip's end, or to it (0): no box after it to fetch first.
    const bool inside = box >= 8 && box < size - at;
    if (type == "moov") {
      if (inside) layout.moov_begin = at, layout.moov_end = at + box;
      return layout;
    }
    if (type == "mdat") {
      if (inside) layout.tail = at + box;
      return layout;
    }
    if (!inside) return layout;  // to the end of the file, or not boxes: nothing to do
    at += box;
  }
}

std::optional<BoxSpan> find_box(const ReadAt &read, std::uint64_t offset, std::uint64_t end,
                                const char *type) {
  std::uint64_t at = offset;
  for (int boxes = 0; boxes < kMaxBoxes && at + 8 <= end; boxes++) {
    std::string head(16, '\0');
    if (read(at, head.data(), 8) != 8) return std::nullopt;
    std::uint64_t size = be(head, 0, 4);
    std::uint64_t header = 8;
    if (size == 1) {
      if (read(at + 8, head.data() + 8, 8) != 8) return std::nullopt;
      size = be(head, 8, 8);
      header = 16;
    } else if (size == 0) {
      size = end - at;  // to the end of the file
    }
    // A size no file has (it would end past 2^64) is no box.
    if (size < header || size > UINT64_MAX - at) return std::nullopt;
    if (head.compare(4, 4, type) == 0) return BoxSpan{at, at + header, at + size};
    if (size > end - at) return std::nullopt;
    at += size;
  }
  return std::nullopt;
}

ReadAt read_from(const std::string &bytes, std::uint64_t offset) {
  return [&bytes, offset](std::uint64_t at, void *dest, std::size_t size) -> std::int64_t {
    if (at < offset || at - offset >= bytes.size()) return 0;
    const std::size_t count = std::min<std::uint64_t>(size, bytes.size() - (at - offset));
    bytes.copy(static_cast<char *>(dest), count, std::size_t(at - offset));
    return std::int64_t(count);
  };
}

Result<Moov> read_moov(const ReadAt &read, std::uint64_t file_size, std::uint64_t max_bytes) {
  const auto span = find_box(read, 0, file_size, "moov");
  if (!span) return Error::io("it is not an MP4 (no moov box)");
  if (span->end > file_size) return Error::io("its moov box is cut short");
  if (span->end - span->begin > max_bytes)
    return Error::io("its moov box is larger than " + std::to_string(max_bytes >> 20) + " MiB");
  Moov moov{*span, std::string(span->end - span->begin, '\0')};
  if (read(span->begin, moov.bytes.data(), moov.bytes.size()) != std::int64_t(moov.bytes.size()))
    return Error::io("its moov box cannot be read");
  return moov;
}

Result<Moov> read_moov(int fd) {
  struct stat info;
  if (fstat(fd, &info) != 0) return Error::io(g_strerror(errno));
  return read_moov(
      [fd](std::uint64_t offset, void *dest, std::size_t size) {
        return std::int64_t(pread(fd, dest, size, off_t(offset)));
      },
      std::uint64_t(info.st_size));
}

Result<double> movie_duration(const std::string &moov) {
  const std::vector<Box> top = children(moov, 0, moov.size());
  if (top.size() != 1 || top[0].type != "moov") return Error::io("its moov box is cut short");
  const auto header = child(moov, top[0], "mvhd");
  if (!header) return Error::io("its moov box has no mvhd");
  // Version and flags, two times, the timescale, the duration: 32 bits
  // each (version 0), or 64 for the times and the duration (version 1).
  const std::size_t length = header->end - header->payload;
  const bool wide = length >= 1 && moov[header->payload] == 1;
  if (length < (wide ? 32u : 20u)) return Error::io("its mvhd box is cut short");
  const std::uint64_t timescale = be(moov, header->payload + (wide ? 20 : 12), 4);
  const std::uint64_t duration = be(moov, header->payload + (wide ? 24 : 16), wide ? 8 : 4);
  if (timescale == 0 || duration == 0 || duration == 0xffffffff || duration == UINT64_MAX)
    return Error::io("its header gives no duration (a fragmented MP4?)");
  return double(duration) / double(timescale);
}

namespace {

void clear_times_in(std::string &bytes, const Box &parent) {
  for (const Box &box : children(bytes, parent.payload, parent.end)) {
    if (box.type == "trak" || box.type == "mdia") {
      clear_times_in(bytes, box);
    } else if (box.type == "mvhd" || box.type == "tkhd" || box.type == "mdhd") {
      // Version, flags, then the two times: 32 bits each (version 0) or 64.
      const std::size_t times = bytes[box.payload] == 1 ? 16 : 8;
      if (box.end - box.payload >= 4 + times) bytes.replace(box.payload + 4, times, times, '\0');
    }
  }
}

}  // namespace

void clear_times(std::string &moov) {
  const std::vector<Box> top = children(moov, 0, moov.size());
  if (top.size() == 1 && top[0].type == "moov") clear_times_in(moov, top[0]);
}

std::optional<std::uint64_t> first_frame_end(const std::string &moov, std::uint64_t frames) {
  const std::vector<Box> top = children(moov, 0, moov.size());
  if (top.size() != 1 || top[0].type != "moov") return std::nullopt;
  for (const Box &trak : children(moov, top[0].payload, top[0].end)) {
    if (trak.type != "trak") continue;
    const auto media = child(moov, trak, "mdia");
    const auto handler = media ? child(moov, *media, "hdlr") : std::nullopt;
    // hdlr: version and flags, pre_defined, then the handler type.
    if (!handler || handler->end - handler->payload < 12 ||
        moov.compare(handler->payload + 8, 4, "vide") != 0)
      continue;
    const auto info = child(moov, *media, "minf");
    const auto table = info ? child(moov, *info, "stbl") : std::nullopt;
    return table ? first_samples_end(moov, *table, frames) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace grokimagine::mp4
