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
    if (image.data.empty()) {
      const JobSettings &settings = generation_.settings();
      auto fetched = fetch_media(image.url, settings.timing, settings.log_id,
                                 kMaxImageDownloadBytes, "image", cancellable);
      if (!fetched.ok()) return with_request_id(fetched.error(), generation_.request_id());
      image.data = std::move(*fetched);
    }
    image.mime_type = sniff_media_type(image.data);
    if (!g_str_has_prefix(image.mime_type.c_str(), "image/"))
      return with_request_id(
          Error::protocol("the provider sent " + image.mime_type + " instead of an image"),
          generation_.request_id());
  }
  return std::nullopt;
}

Result<std::string> fetch_media(const std::string &url, const JobTiming &timing,
                                const std::string &log_name, gsize max_bytes, const char *what,
                                GCancellable *cancellable) {
  const RetryPolicy policy(timing);
  HttpRequest request = Download::media_get(url, log_name);
  request.max_body_bytes = max_bytes;
  const std::string phase = std::string("fetching the ") + what;
  request.log_phase = phase;
  for (int attempt = 1;; attempt++) {
    request.log_attempt = attempt;
    // Like every request: an attempt that takes longer than request-timeout
    // fails (and may be tried again).
    request.timeout_ms = guint(policy.request_timeout().count());
    HttpResponse response = HttpClient::instance().send(request, cancellable);
    if (response.cancelled || g_cancellable_is_cancelled(cancellable)) return Error::cancelled();
    if (response.status == 200) return std::move(response.body);
    const bool transient = !response.oversized && http_status_is_transient(response.status);
    Error error = response.status == 0
                      ? Error::network(std::string(what) + " download: " + response.transport_error)
                      : Error::of(media_status_kind(response.status),
                                  std::string("the ") + what + " URL answered HTTP " +
                                      std::to_string(response.status),
                                  response.status);
    if (!transient) return error;
    const auto decision = policy.after_failure(attempt, response.header("Retry-After"));
    if (decision.verdict != RetryPolicy::Verdict::Retry) {
      error.message += " " + decision.reason;
      return error;
    }
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id(log_name),
                    "%s: attempt %d failed (%s); retrying in %" G_GINT64_FORMAT " ms",
                    phase.c_str(), attempt, error.message.c_str(), gint64(decision.wait.count()));
    if (!sleep_cancellable(cancellable, decision.wait)) return Error::cancelled();
  }
}

}  // namespace grokimagine
