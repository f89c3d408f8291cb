// What the user asked for, independent of any provider, and the checks that
// run on it before anything is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "error.h"

namespace grokimagine {

// The input image, as the provider will receive it: either a URL the
// provider fetches itself, or bytes we read from a local file or data: URI.
struct ImageInput {
  std::string url;  // http(s)://, or empty when `data` is used
  std::string mime_type;
  std::string data;  // raw bytes

  bool empty() const { return url.empty() && data.empty(); }
  std::string base64() const;
  std::string data_uri() const;
};

enum class MediaKind { Video, Image };

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
  // Image only.
  int count = 1;
  std::string output_format = "png";
  std::string mode = "standard";
};

// The request's images, read and ready to send.
struct Inputs {
  ImageInput image;
  std::vector<ImageInput> references;
};

// Largest local image we read and send inline.
constexpr std::int64_t kMaxImageBytes = 20 * 1024 * 1024;

// Turns one image property value into an ImageInput, reading local files.
// Errors name `property` and say what is accepted.
std::optional<ImageInput> resolve_image(const std::string &image, const char *property,
                                        Error *error);
std::optional<Inputs> resolve_inputs(const Request &request, Error *error);

// "Property 'resolution' is '4k': segmind allows 480p, 720p, 1080p." when
// `value` is not in `allowed`.
std::optional<Error> check_one_of(const char *property, const std::string &value,
                                  const std::vector<std::string> &allowed, const std::string &who);
std::optional<Error> check_range(const char *property, int value, int min, int max,
                                 const std::string &who);
Error invalid_setting(std::string message);

// Why `id` cannot be a provider's request id (it goes into URL paths and
// logs): empty, too long, or holding control characters. Empty when fine.
std::string request_id_problem(const std::string &id);

}  // namespace grokimagine
