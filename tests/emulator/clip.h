// SPDX-License-Identifier: LGPL-2.1-or-later
// Encodes the MP4 the emulator serves for a job: a real H.264 + AAC file, so
// the plugin's demuxing/decoding paths see what a provider would send.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace grokimagine::emulator {

struct ClipSpec {
  int width = 0;
  int height = 0;
  int duration_s = 0;
  std::string prompt;  // drawn on the frames
  bool moov_at_end = false;
  bool bulky = false;  // noise at a high bitrate instead of a ball on black
  // When > 0: noise at the bitrate that makes the file about this size
  // (Options::clip_bytes documents the reachable range).
  std::int64_t target_bytes = 0;
  // xAI extensions and edits: an input MP4 whose frames come first
  // (extend: then duration_s new seconds; edit with `restyle`: the input's
  // frames restyled, duration_s ignored), at the input's size (width, height).
  std::string input_path;
  double input_seconds = 0;
  bool restyle = false;
  bool audio = true;  // an AAC track
};

// An MP4's video size and length, read by prerolling it; false with `error`.
bool probe_clip(const std::string &path, int *width, int *height, double *seconds,
                std::string *error);

// SHA-256 (hex) of the last sample of an MP4's H.264 track, as qtdemux
// outputs it (demuxed, not decoded): a clip and any remux copying its
// samples, such as a tail cut at a keyframe, give the same digest. "" when
// the file has no such track, on failure, or when `cancelled` becomes true.
std::string last_video_sample_digest(const std::string &path, const std::atomic<bool> &cancelled);

// A file name (no directory) that is the same for equal specs, so encoded
// clips can be reused across jobs.
std::string clip_file_name(const ClipSpec &spec);

// Encodes `spec` into `path` (written under a temporary name, then renamed,
// so `path` only ever holds a complete file). Blocks; meant for a worker
// thread. Returns false with `error` filled on failure or when `cancelled`
// becomes true.
bool encode_clip(const ClipSpec &spec, const std::string &path, const std::atomic<bool> &cancelled,
                 std::string *error);

// ---- Shared with the image encoder ----

// Plays `pipeline` to EOS, polling `cancelled` between bus waits. False with
// `error` filled on an error or cancellation.
bool run_to_eos(GstElement *pipeline, const std::atomic<bool> &cancelled, std::string *error);

// A pipeline from a gst-launch description, as a plain (not floating)
// reference; null with `error` filled.
GstElement *build_pipeline(const std::string &description, std::string *error);

// Draws `text` with the "prompt_overlay" textoverlay of `pipeline`, in a font
// sized for frames `height` pixels tall.
void set_overlay_text(GstElement *pipeline, const std::string &text, int height);

// Runs `pipeline`, whose sink writes `partial_path`, to EOS and stops it,
// then renames the file to `path`, so `path` only ever holds a complete
// file. False with `error` filled (and no file left) otherwise.
bool encode_into_place(GstElement *pipeline, const std::string &partial_path,
                       const std::string &path, const std::atomic<bool> &cancelled,
                       std::string *error);

}  // namespace grokimagine::emulator
