// SPDX-License-Identifier: LGPL-2.1-or-later
// What the user asked for, independent of any provider, and the checks that
// run on it before anything is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "error.h"

namespace grokimagine {

// A local file that may go to a provider's Files API instead of inline:
// its content hash names it in the journal's fingerprint, whatever id an
// upload gives it.
struct UploadInput {
  std::string path;     // the local file
  std::string sha256;   // of its content
  std::string file_id;  // once uploaded; empty before
};

// The input image, as the provider will receive it: either a URL the
// provider fetches itself, or bytes we read from a local file or data: URI.
struct ImageInput {
  std::string url;  // http(s)://, or empty when `data` is used
  std::string mime_type;
  std::string data;  // raw bytes
  // A local file too large to send inline (see kMaxInlineBytes): sent by
  // the provider's Files API where it has one; `data` still holds it.
  std::optional<UploadInput> upload;

  bool empty() const { return url.empty() && data.empty(); }
  std::string base64() const;
  std::string data_uri() const;
};

enum class MediaKind { Video, Image };

// What a video job does with its inputs (xai only for the last two).
enum class Operation { Generate, Extend, Edit };
const char *operation_name(Operation operation);

// An image pinned at a time in the clip (xai keyframes).
struct Keyframe {
  double time_s = 0;
  std::string image;  // as given: http(s) URL, data: URI, local path or file:// URI
};

struct Request {
  MediaKind kind = MediaKind::Video;
  std::string model;
  std::string prompt;
  // Each as given: http(s) URL, data: URI, local path or file:// URI.
  std::string image;
  std::vector<std::string> reference_images;
  std::string resolution = "480p";
  std::string aspect_ratio = "16:9";
  // Video only.
  int duration = 6;
  Operation operation = Operation::Generate;
  // The input video of extend and edit: an http(s) URL, a local path or
  // file:// URI, or "request:ID" (the result of an earlier job of the key).
  std::string video;
  // extend: play the whole result (false) or only the new seconds (true).
  bool continuation_only = false;
  // "TIME:IMAGE" each, as given (parse_keyframe), e.g. "4.5:mid.png".
  std::vector<std::string> keyframes;
  std::vector<std::string> reference_audios;  // http(s) URLs or local files
  bool generate_audio = true;
  // Image only.
  int count = 1;
  std::string output_format = "png";
  std::string mode = "standard";
};

// The input video of extend / edit, as the provider will receive it.
struct VideoInput {
  std::string url;         // http(s), or data: (small local files)
  std::string request_id;  // request:ID, resolved to `url` before the submit
  std::optional<UploadInput> upload;
  double duration_s = -1;  // known for local files (and request:ID once resolved)
  bool empty() const { return url.empty() && request_id.empty() && !upload; }
};

// The request's inputs, read and ready to send.
struct Inputs {
  ImageInput image;
  std::vector<ImageInput> references;
  VideoInput video;
  std::vector<ImageInput> keyframes;  // same order as Request::keyframes
  std::vector<ImageInput> audios;     // reference audios
};

// Largest local image we read and send inline.
constexpr std::int64_t kMaxImageBytes = 20 * 1024 * 1024;
// Local inputs above this go to the provider's Files API (xai) instead of
// inline as a data: URI: base64 makes 5 MiB about 6.7 MiB of JSON, under
// the 10 MiB xai allows for an input it fetches, and a submit that is
// never retried blindly stays small.
constexpr std::int64_t kMaxInlineBytes = 5 * 1024 * 1024;
// Largest local video read for extend / edit, and audio.
constexpr std::int64_t kMaxVideoBytes = 512 * 1024 * 1024;
constexpr std::int64_t kMaxAudioBytes = 50 * 1024 * 1024;

// What `bytes` are (GIO's guess from their content), whatever a file name,
// a data: URI or a server claims.
std::string sniff_media_type(const std::string &bytes);

// Turns one image property value into an ImageInput, reading local files.
// Errors name `property` and say what is accepted.
Result<ImageInput> resolve_image(const std::string &image, const char *property);
Result<Inputs> resolve_inputs(const Request &request);

// The duration in seconds of an MP4 / QuickTime file, from its moov/mvhd
// box (read box by box, bounded); nullopt with `why` when it cannot tell.
Result<double> mp4_duration(const std::string &path);

// One `keyframes` entry, "TIME:IMAGE" (seconds, then the image as `image`
// takes it: "4.5:https://host/a.png"); the refusal naming the property when
// malformed.
Result<Keyframe> parse_keyframe(const std::string &entry);

// "Property 'resolution' is '4k': segmind allows 480p, 720p, 1080p." when
// `value` is not in `allowed`.
std::optional<Error> check_one_of(const char *property, const std::string &value,
                                  const std::vector<std::string> &allowed, const std::string &who);
std::optional<Error> check_range(const char *property, int value, int min, int max,
                                 const std::string &who);
Error invalid_setting(std::string message);

// Why `id` cannot be a provider's request id (it goes into URL paths, logs
// and printed command lines): empty, too long, a path segment, or holding
// anything but letters, digits and . _ : -. Empty when fine.
std::string request_id_problem(const std::string &id);

}  // namespace grokimagine
