// SPDX-License-Identifier: LGPL-2.1-or-later
#include "image-set.h"

#include <gio/gio.h>

#include "cancellable.h"
#include "download.h"
#include "log.h"
#include "request.h"
#include "retry.h"

namespace grokimagine {

std::optional<Error> ImageSet::run(GCancellable *cancellable, const JobEvents &events) {
  return providers_.run(
      generation_, [&] { return run_on_provider(cancellable, events); }, events);
}

std::optional<Error> ImageSet::run_on_provider(GCancellable *cancellable, const JobEvents &events) {
  auto outputs = generation_.run(cancellable, events);
  if (auto *error = std::get_if<Error>(&outputs)) return *error;
  images_ = std::move(std::get<std::vector<Output>>(outputs));
  for (Output &image : images_) {
    if (image.data.empty())
      if (auto error = fetch(image, cancellable))
        return with_request_id(*error, generation_.request_id());
    image.mime_type = sniff_media_type(image.data);
    if (!g_str_has_prefix(image.mime_type.c_str(), "image/"))
      return with_request_id(
          Error::protocol("the provider sent " + image.mime_type + " instead of an image"),
          generation_.request_id());
  }
  return std::nullopt;
}

// The same retry policy as every other request: a 5xx, a 429 or a transport
// error is tried again (an image URL is a plain GET: repeating it costs
// nothing), a 404 is an answer.
std::optional<Error> ImageSet::fetch(Output &image, GCancellable *cancellable) const {
  const JobSettings &settings = generation_.settings();
  const RetryPolicy policy(settings.timing);
  HttpRequest request = Download::media_get(image.url, settings.log_id);
  request.max_body_bytes = kMaxImageDownloadBytes;
  request.log_phase = "fetching an image";
  for (int attempt = 1;; attempt++) {
    request.log_attempt = attempt;
    // Like every request: an attempt that takes longer than request-timeout
    // fails (and may be tried again).
    request.timeout_ms = guint(policy.request_timeout().count());
    HttpResponse response = HttpClient::instance().send(request, cancellable);
    if (response.cancelled || g_cancellable_is_cancelled(cancellable)) return Error::cancelled();
    if (response.status == 200) {
      image.data = std::move(response.body);
      return std::nullopt;
    }
    const bool transient = !response.oversized && http_status_is_transient(response.status);
    Error error = response.status == 0
                      ? Error::network("image download: " + response.transport_error)
                      : Error::of(media_status_kind(response.status),
                                  "the image URL answered HTTP " + std::to_string(response.status),
                                  response.status);
    if (!transient) return error;
    const auto decision = policy.after_failure(attempt, response.header("Retry-After"));
    if (decision.verdict != RetryPolicy::Verdict::Retry) {
      error.message += " " + decision.reason;
      return error;
    }
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id(settings.log_id),
                    "image fetch attempt %d failed (%s); retrying in %" G_GINT64_FORMAT " ms",
                    attempt, error.message.c_str(), gint64(decision.wait.count()));
    if (!sleep_cancellable(cancellable, decision.wait)) return Error::cancelled();
  }
}

}  // namespace grokimagine
