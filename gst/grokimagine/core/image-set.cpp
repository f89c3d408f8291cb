#include "image-set.h"

#include <gio/gio.h>

namespace grokimagine {

namespace {

// What the bytes are, whatever the server claimed.
std::string sniff_mime_type(const std::string &data) {
  g_autofree gchar *type = g_content_type_guess(
      nullptr, reinterpret_cast<const guchar *>(data.data()), data.size(), nullptr);
  g_autofree gchar *mime = g_content_type_get_mime_type(type);
  return mime ? mime : "";
}

}  // namespace

std::optional<Error> ImageSet::run(GCancellable *cancellable, const JobEvents &events) {
  auto outputs = generation_.run(cancellable, events);
  if (auto *error = std::get_if<Error>(&outputs)) return *error;
  images_ = std::move(std::get<std::vector<Output>>(outputs));
  for (Output &image : images_) {
    if (image.data.empty())
      if (auto error = fetch(image, cancellable))
        return with_request_id(*error, generation_.request_id());
    image.mime_type = sniff_mime_type(image.data);
    if (!g_str_has_prefix(image.mime_type.c_str(), "image/"))
      return with_request_id(Error{ErrorKind::Protocol,
                                   "the provider sent " + image.mime_type + " instead of an image",
                                   {},
                                   0},
                             generation_.request_id());
  }
  return std::nullopt;
}

std::optional<Error> ImageSet::fetch(Output &image, GCancellable *cancellable) const {
  HttpRequest request{"GET", image.url, {}, {}};
  request.follow_redirects = true;
  request.max_body_bytes = kMaxImageDownloadBytes;
  HttpResponse response = HttpClient::instance().send(request, cancellable);
  if (response.cancelled) return Error{ErrorKind::Cancelled, "cancelled", {}, 0};
  if (response.status == 0)
    return Error{ErrorKind::Network, "image download: " + response.transport_error, {}, 0};
  if (response.status != 200)
    return Error{response.status == 404 || response.status == 410 ? ErrorKind::NotFound
                                                                  : ErrorKind::Protocol,
                 "the image URL answered HTTP " + std::to_string(response.status),
                 {},
                 response.status};
  image.data = std::move(response.body);
  return std::nullopt;
}

}  // namespace grokimagine
