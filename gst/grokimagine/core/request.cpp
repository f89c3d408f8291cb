// SPDX-License-Identifier: LGPL-2.1-or-later
#include "request.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <cmath>
#include <cstring>
#include <memory>

#include <unistd.h>

#include "local-file.h"
#include "mp4.h"

namespace grokimagine {

Error invalid_setting(std::string message) {
  return Error::of(ErrorKind::InvalidSettings, std::move(message));
}

std::string request_id_problem(const std::string &id) {
  if (id.empty()) return "it is empty";
  if (id.size() > 256) return "it is longer than 256 characters";
  // Escaping leaves these as they are, and a URL resolves them to another path.
  if (id == "." || id == "..") return "it is a relative path segment";
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) return "it contains control characters";
  // Ids go into URLs, file names, logs and the command lines
  // grokimagine-jobs prints: a quote or a space from a hostile answer could
  // add elements to a gst-launch line. Providers' ids are words.
  for (char c : id)
    if (!g_ascii_isalnum(c) && !strchr("._:-", c))
      return (g_ascii_isprint(c) ? std::string("it contains '") + c + "'"
                                 : std::string("it contains a character outside ASCII")) +
             ": request ids are letters, digits and . _ : - only";
  return {};
}

const char *operation_name(Operation operation) {
  switch (operation) {
    case Operation::Generate:
      return "generate";
    case Operation::Extend:
      return "extend";
    case Operation::Edit:
      return "edit";
  }
  return "";
}

std::string ImageInput::base64() const {
  g_autofree gchar *encoded =
      g_base64_encode(reinterpret_cast<const guchar *>(data.data()), data.size());
  return encoded;
}

std::string ImageInput::data_uri() const {
  return "data:" + mime_type + ";base64," + base64();
}

std::string sniff_media_type(const std::string &bytes) {
  g_autofree gchar *content_type = g_content_type_guess(
      nullptr, reinterpret_cast<const guchar *>(bytes.data()), bytes.size(), nullptr);
  g_autofree gchar *mime = g_content_type_get_mime_type(content_type);
  return mime ? mime : "";
}

namespace {

bool has_prefix_ci(const std::string &text, const char *prefix) {
  return g_ascii_strncasecmp(text.c_str(), prefix, strlen(prefix)) == 0;
}

// What a local file must be: an image, a video or an audio file.
struct LocalKind {
  const char *noun;         // "image"
  const char *mime_prefix;  // "image/"
  std::int64_t max_bytes;
};
constexpr LocalKind kImageFile{"image", "image/", kMaxImageBytes};
constexpr LocalKind kVideoFile{"video", "video/", kMaxVideoBytes};
constexpr LocalKind kAudioFile{"audio file", "audio/", kMaxAudioBytes};

// `bytes`' type when it is one of `prefix` ("image/"), else empty.
std::string sniff_type(const std::string &bytes, const char *prefix) {
  const std::string mime = sniff_media_type(bytes);
  if (g_str_has_prefix(mime.c_str(), prefix)) return mime;
  // ISO media (MP4, QuickTime) says "ftyp" at byte 4, whatever GIO thinks.
  if (g_str_equal(prefix, "video/") && bytes.size() >= 8 && bytes.compare(4, 4, "ftyp") == 0)
    return "video/mp4";
  return "";
}

Result<ImageInput> read_local_file(const std::string &path, const char *property,
                                   const LocalKind &kind) {
  auto fail = [&](const std::string &why) -> Result<ImageInput> {
    return invalid_setting("Property '" + std::string(property) + "': cannot read '" + path +
                           "': " + why + ". It takes an http(s) URL" +
                           (kind.mime_prefix == kImageFile.mime_prefix ? ", a data: URI" : "") +
                           ", a local path or a file:// URI of a readable " + kind.noun + ".");
  };
  auto contents = read_regular_file(path, std::uint64_t(kind.max_bytes), Symlinks::Follow);
  if (!contents.ok()) return fail(contents.error().message);
  const std::size_t length = contents->size();
  if (length == 0) return fail("the file is empty");
  std::string bytes = std::move(*contents);
  std::string mime = sniff_type(bytes, kind.mime_prefix);
  if (mime.empty())
    return fail(std::string("its content is not ") +
                (kind.mime_prefix == kImageFile.mime_prefix ? "an " : "a ") + kind.noun +
                " (whatever its name says)");
  ImageInput input{{}, mime, std::move(bytes), std::nullopt};
  // Too large for inline: the provider's Files API takes it where it has one.
  if (std::int64_t(input.data.size()) > kMaxInlineBytes) {
    g_autofree gchar *digest = g_compute_checksum_for_data(
        G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(input.data.data()), input.data.size());
    input.upload = UploadInput{path, digest, {}};
  }
  return input;
}

Result<ImageInput> read_image_file(const std::string &path, const char *property) {
  return read_local_file(path, property, kImageFile);
}

// A file:// URI or a path as a local path; an error for another host's
// file or a malformed URI.
Result<std::string> local_path(const std::string &value, const char *property) {
  if (g_ascii_strncasecmp(value.c_str(), "file:", 5) != 0) return value;
  const std::string named = "Property '" + std::string(property) + "': ";
  g_autofree gchar *host = nullptr;
  g_autofree gchar *path = g_filename_from_uri(value.c_str(), &host, nullptr);
  if (!path) return invalid_setting(named + "'" + value + "' is not a valid file:// URI");
  // file://otherhost/... names a file on another machine, not ours.
  if (host && *host && g_ascii_strcasecmp(host, "localhost") != 0)
    return invalid_setting(named + "'" + value + "' names a file on host '" + host +
                           "': only local files (file:///path) are read");
  return std::string(path);
}

Result<ImageInput> decode_data_uri(const std::string &uri, const char *property) {
  const std::string named = "Property '" + std::string(property) + "': ";
  // data:[<mime>][;base64],<payload>
  auto comma = uri.find(',');
  std::string meta = uri.substr(5, comma == std::string::npos ? 0 : comma - 5);
  auto base64_marker = meta.find(";base64");
  if (comma == std::string::npos || base64_marker == std::string::npos)
    return invalid_setting(named + "a data: URI must be data:image/...;base64,...");
  std::string mime = meta.substr(0, base64_marker);
  if (!g_str_has_prefix(mime.c_str(), "image/"))
    return invalid_setting(named + "the data: URI is '" + mime + "', not an image/* type");
  gsize length = 0;
  g_autofree guchar *bytes = g_base64_decode(uri.c_str() + comma + 1, &length);
  if (length == 0) return invalid_setting(named + "the data: URI holds no base64 payload");
  std::string data(reinterpret_cast<char *>(bytes), length);
  if (sniff_type(data, "image/").empty())
    return invalid_setting(named + "the data: URI says " + mime + " but holds no image");
  return ImageInput{{}, mime, std::move(data), std::nullopt};
}

}  // namespace

Result<ImageInput> resolve_image(const std::string &image, const char *property) {
  const std::string named = "Property '" + std::string(property) + "': ";
  if (image.empty()) return ImageInput{};
  if (has_prefix_ci(image, "http://") || has_prefix_ci(image, "https://"))
    return ImageInput{image, {}, {}, std::nullopt};
  if (has_prefix_ci(image, "data:")) return decode_data_uri(image, property);
  if (has_prefix_ci(image, "file:")) {
    auto path = local_path(image, property);
    if (!path.ok()) return path.error();
    return read_image_file(*path, property);
  }
  if (image.find("://") != std::string::npos)
    return invalid_setting(named + "unsupported URI '" + image +
                           "'. It takes an http(s) URL, a data: URI, a local path or a "
                           "file:// URI.");
  return read_image_file(image, property);
}

namespace {

// `video`: an http(s) URL, request:ID, or a local MP4 whose length is read
// here, before anything is sent.
Result<VideoInput> resolve_video(const std::string &video) {
  VideoInput input;
  if (video.empty()) return input;
  if (has_prefix_ci(video, "request:")) {
    input.request_id = video.substr(8);
    if (std::string problem = request_id_problem(input.request_id); !problem.empty())
      return invalid_setting("Property 'video' is '" + video + "': the request id " + problem +
                             ".");
    return input;
  }
  if (has_prefix_ci(video, "http://") || has_prefix_ci(video, "https://")) {
    input.url = video;
    return input;
  }
  if (has_prefix_ci(video, "data:") ||
      (!has_prefix_ci(video, "file:") && video.find("://") != std::string::npos))
    return invalid_setting("Property 'video' is '" + video.substr(0, 64) +
                           "': it takes an http(s) URL, a local path, a file:// URI or "
                           "request:ID (the result of an earlier job).");
  auto path = local_path(video, "video");
  if (!path.ok()) return path.error();
  auto file = read_local_file(*path, "video", kVideoFile);
  if (!file.ok()) return file.error();
  auto seconds = mp4_duration(*path);
  if (!seconds.ok())
    return invalid_setting("Property 'video': cannot tell how long '" + *path +
                           "' is: " + seconds.error().message + ". It takes an MP4 file.");
  input.duration_s = *seconds;
  if (file->upload)
    input.upload = file->upload;
  else
    input.url = "data:video/mp4;base64," + file->base64();
  return input;
}

Result<ImageInput> resolve_audio(const std::string &audio) {
  if (has_prefix_ci(audio, "http://") || has_prefix_ci(audio, "https://"))
    return ImageInput{audio, {}, {}, std::nullopt};
  if (!has_prefix_ci(audio, "file:") && audio.find("://") != std::string::npos)
    return invalid_setting("Property 'reference-audios': unsupported URI '" + audio +
                           "'. It takes http(s) URLs, local paths or file:// URIs.");
  auto path = local_path(audio, "reference-audios");
  if (!path.ok()) return path.error();
  return read_local_file(*path, "reference-audios", kAudioFile);
}

}  // namespace

Result<Keyframe> parse_keyframe(const std::string &entry) {
  const auto colon = entry.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size())
    return invalid_setting("Property 'keyframes': '" + entry +
                           "' is not TIME:IMAGE (e.g. 4.5:mid.png).");
  const std::string time = entry.substr(0, colon);
  gchar *end = nullptr;
  const double seconds = g_ascii_strtod(time.c_str(), &end);
  if (end == time.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds < 0)
    return invalid_setting("Property 'keyframes': '" + time + "' in '" + entry +
                           "' is not a time in seconds.");
  return Keyframe{seconds, entry.substr(colon + 1)};
}

Result<double> mp4_duration(const std::string &path) {
  const auto fd = open_regular_file(path, Symlinks::Follow);
  if (!fd.ok()) return fd.error();
  auto moov = mp4::read_moov(*fd);
  close(*fd);
  if (!moov.ok()) return moov.error();
  return mp4::movie_duration(moov->bytes);
}

Result<Inputs> resolve_inputs(const Request &request) {
  Inputs inputs;
  auto video = resolve_video(request.video);
  if (!video.ok()) return video.error();
  inputs.video = std::move(*video);
  for (const auto &entry : request.keyframes) {
    auto keyframe = parse_keyframe(entry);
    if (!keyframe.ok()) return keyframe.error();
    auto image = resolve_image(keyframe->image, "keyframes");
    if (!image.ok()) return image.error();
    inputs.keyframes.push_back(std::move(*image));
  }
  for (const auto &audio : request.reference_audios) {
    auto resolved = resolve_audio(audio);
    if (!resolved.ok()) return resolved.error();
    inputs.audios.push_back(std::move(*resolved));
  }
  auto image = resolve_image(request.image, "image");
  if (!image.ok()) return image.error();
  inputs.image = std::move(*image);
  for (const auto &reference : request.reference_images) {
    auto resolved = resolve_image(reference, "reference-images");
    if (!resolved.ok()) return resolved.error();
    inputs.references.push_back(std::move(*resolved));
  }
  return inputs;
}

std::optional<Error> check_one_of(const char *property, const std::string &value,
                                  const std::vector<std::string> &allowed, const std::string &who) {
  for (const auto &candidate : allowed)
    if (candidate == value) return std::nullopt;
  std::string list;
  for (const auto &candidate : allowed) list += (list.empty() ? "" : ", ") + candidate;
  return invalid_setting("Property '" + std::string(property) + "' is '" + value + "': " + who +
                         " allows " + list + ".");
}

std::optional<Error> check_range(const char *property, int value, int min, int max,
                                 const std::string &who) {
  if (value >= min && value <= max) return std::nullopt;
  return invalid_setting("Property '" + std::string(property) + "' is " + std::to_string(value) +
                         ": " + who + " allows " + std::to_string(min) + " to " +
                         std::to_string(max) + ".");
}

}  // namespace grokimagine
