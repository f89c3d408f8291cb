#include "request.h"

#include <gio/gio.h>

namespace grokimagine {

Error invalid_setting(std::string message) {
  return Error{ErrorKind::InvalidSettings, std::move(message), {}, 0};
}

std::string request_id_problem(const std::string &id) {
  if (id.empty()) return "it is empty";
  if (id.size() > 256) return "it is longer than 256 characters";
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) return "it contains control characters";
  return {};
}

std::string ImageInput::base64() const {
  g_autofree gchar *encoded =
      g_base64_encode(reinterpret_cast<const guchar *>(data.data()), data.size());
  return encoded;
}

std::string ImageInput::data_uri() const {
  return "data:" + mime_type + ";base64," + base64();
}

namespace {

bool has_prefix_ci(const std::string &text, const char *prefix) {
  return g_ascii_strncasecmp(text.c_str(), prefix, strlen(prefix)) == 0;
}

// What the bytes are, whatever the file is called or a data: URI claims: a
// text file named x.png must not be paid for and refused by the provider.
std::string sniff_image_type(const std::string &bytes) {
  g_autofree gchar *content_type = g_content_type_guess(
      nullptr, reinterpret_cast<const guchar *>(bytes.data()), bytes.size(), nullptr);
  g_autofree gchar *mime = g_content_type_get_mime_type(content_type);
  return mime && g_str_has_prefix(mime, "image/") ? mime : "";
}

std::optional<ImageInput> read_image_file(const std::string &path, const char *property,
                                          Error *error) {
  auto fail = [&](const std::string &why) -> std::optional<ImageInput> {
    *error = invalid_setting("Property '" + std::string(property) + "': cannot read '" + path +
                             "': " + why +
                             ". It takes an http(s) URL, a data: URI, a local path or a "
                             "file:// URI of a readable image.");
    return std::nullopt;
  };
  g_autoptr(GFile) file = g_file_new_for_path(path.c_str());
  g_autoptr(GError) gerror = nullptr;
  g_autoptr(GFileInfo) info =
      g_file_query_info(file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                        G_FILE_QUERY_INFO_NONE, nullptr, &gerror);
  if (!info) return fail(gerror->message);
  if (g_file_info_get_file_type(info) != G_FILE_TYPE_REGULAR) return fail("not a regular file");
  if (g_file_info_get_size(info) > kMaxImageBytes)
    return fail("larger than " + std::to_string(kMaxImageBytes / (1024 * 1024)) + " MiB");
  g_autofree gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_load_contents(file, nullptr, &contents, &length, nullptr, &gerror))
    return fail(gerror->message);
  if (length == 0) return fail("the file is empty");
  std::string bytes(contents, length);
  std::string mime = sniff_image_type(bytes);
  if (mime.empty()) return fail("its content is not an image (whatever its name says)");
  return ImageInput{{}, mime, std::move(bytes)};
}

std::optional<ImageInput> decode_data_uri(const std::string &uri, const char *property,
                                          Error *error) {
  const std::string named = "Property '" + std::string(property) + "': ";
  // data:[<mime>][;base64],<payload>
  auto comma = uri.find(',');
  std::string meta = uri.substr(5, comma == std::string::npos ? 0 : comma - 5);
  auto base64_marker = meta.find(";base64");
  if (comma == std::string::npos || base64_marker == std::string::npos) {
    *error = invalid_setting(named + "a data: URI must be data:image/...;base64,...");
    return std::nullopt;
  }
  std::string mime = meta.substr(0, base64_marker);
  if (!g_str_has_prefix(mime.c_str(), "image/")) {
    *error = invalid_setting(named + "the data: URI is '" + mime + "', not an image/* type");
    return std::nullopt;
  }
  gsize length = 0;
  g_autofree guchar *bytes = g_base64_decode(uri.c_str() + comma + 1, &length);
  if (length == 0) {
    *error = invalid_setting(named + "the data: URI holds no base64 payload");
    return std::nullopt;
  }
  std::string data(reinterpret_cast<char *>(bytes), length);
  if (sniff_image_type(data).empty()) {
    *error = invalid_setting(named + "the data: URI says " + mime + " but holds no image");
    return std::nullopt;
  }
  return ImageInput{{}, mime, std::move(data)};
}

}  // namespace

std::optional<ImageInput> resolve_image(const std::string &image, const char *property,
                                        Error *error) {
  const std::string named = "Property '" + std::string(property) + "': ";
  if (image.empty()) return ImageInput{};
  if (has_prefix_ci(image, "http://") || has_prefix_ci(image, "https://"))
    return ImageInput{image, {}, {}};
  if (has_prefix_ci(image, "data:")) return decode_data_uri(image, property, error);
  if (has_prefix_ci(image, "file:")) {
    g_autofree gchar *host = nullptr;
    g_autofree gchar *path = g_filename_from_uri(image.c_str(), &host, nullptr);
    if (!path) {
      *error = invalid_setting(named + "'" + image + "' is not a valid file:// URI");
      return std::nullopt;
    }
    // file://otherhost/... names a file on another machine, not ours.
    if (host && *host && g_ascii_strcasecmp(host, "localhost") != 0) {
      *error = invalid_setting(named + "'" + image + "' names a file on host '" + host +
                               "': only local files (file:///path) are read");
      return std::nullopt;
    }
    return read_image_file(path, property, error);
  }
  if (image.find("://") != std::string::npos) {
    *error = invalid_setting(named + "unsupported URI '" + image +
                             "'. It takes an http(s) URL, a data: URI, a local path or a "
                             "file:// URI.");
    return std::nullopt;
  }
  return read_image_file(image, property, error);
}

std::optional<Inputs> resolve_inputs(const Request &request, Error *error) {
  Inputs inputs;
  auto image = resolve_image(request.image, "image", error);
  if (!image) return std::nullopt;
  inputs.image = std::move(*image);
  for (const auto &reference : request.reference_images) {
    auto resolved = resolve_image(reference, "reference-images", error);
    if (!resolved) return std::nullopt;
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
