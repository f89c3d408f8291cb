#include "mp4.h"

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

// Where the first sample of the track in `stbl` ends in the file.
std::optional<std::uint64_t> first_sample_end(const std::string &bytes, const Box &stbl) {
  const auto sizes = child(bytes, stbl, "stsz");
  // stsz: version and flags, a size for every sample (0: sizes follow), a count.
  if (!sizes || sizes->end - sizes->payload < 12 || be(bytes, sizes->payload + 8, 4) == 0)
    return std::nullopt;
  std::uint64_t first_size = be(bytes, sizes->payload + 4, 4);
  if (first_size == 0) {
    if (sizes->end - sizes->payload < 16) return std::nullopt;
    first_size = be(bytes, sizes->payload + 12, 4);
  }
  // The first sample is the first of the first chunk: at its offset.
  const auto chunks = child(bytes, stbl, "stco");
  const auto chunks64 = chunks ? std::nullopt : child(bytes, stbl, "co64");
  const Box *offsets = chunks ? &*chunks : chunks64 ? &*chunks64 : nullptr;
  const int width = chunks ? 4 : 8;
  if (!offsets || offsets->end - offsets->payload < std::size_t(8 + width) ||
      be(bytes, offsets->payload + 4, 4) == 0)
    return std::nullopt;
  return be(bytes, offsets->payload + 8, width) + first_size;
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
    if (type == "moov") {
      if (box >= 8) layout.moov_begin = at, layout.moov_end = at + box;
      return layout;
    }
    if (type == "mdat") {
      if (box >= 8 && at + box < size) layout.tail = at + box;
      return layout;
    }
    if (box < 8) return layout;  // to the end of the file, or not boxes: nothing to do
    at += box;
  }
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> find_top_box(const std::string &bytes,
                                                                    std::uint64_t offset,
                                                                    const char *type) {
  std::size_t at = 0;
  for (int boxes = 0; boxes < kMaxBoxes && at + 8 <= bytes.size(); boxes++) {
    std::uint64_t size = be(bytes, at, 4);
    if (size == 1) {
      if (at + 16 > bytes.size()) return std::nullopt;
      size = be(bytes, at + 8, 8);
    }
    if (bytes.compare(at + 4, 4, type) == 0 && size >= 8)
      return std::pair(offset + at, offset + at + size);
    if (size < 8 || size > bytes.size() - at) return std::nullopt;
    at += size;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> first_frame_end(const std::string &moov) {
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
    return table ? first_sample_end(moov, *table) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace grokimagine::mp4
