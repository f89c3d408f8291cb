// Encodes the MP4 the emulator serves for a job: a real H.264 + AAC file, so
// the plugin's demuxing/decoding paths see what a provider would send.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <string>

namespace grokimagine::emulator {

struct ClipSpec {
  int width = 0;
  int height = 0;
  int duration_s = 0;
  std::string prompt;  // drawn on the frames
  bool moov_at_end = false;
  bool bulky = false;  // noise at a high bitrate instead of a ball on black
};

// A file name (no directory) that is the same for equal specs, so encoded
// clips can be reused across jobs.
std::string clip_file_name(const ClipSpec &spec);

// Encodes `spec` into `path` (written under a temporary name, then renamed,
// so `path` only ever holds a complete file). Blocks; meant for a worker
// thread. Returns false with `error` filled on failure or when `cancelled`
// becomes true.
bool encode_clip(const ClipSpec &spec, const std::string &path, const std::atomic<bool> &cancelled,
                 std::string *error);

// Plays `pipeline` to EOS, polling `cancelled` between bus waits. False with
// `error` filled on an error or cancellation. Shared with the image encoder.
bool run_to_eos(GstElement *pipeline, const std::atomic<bool> &cancelled, std::string *error);

}  // namespace grokimagine::emulator
