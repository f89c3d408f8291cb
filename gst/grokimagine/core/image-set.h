// SPDX-License-Identifier: LGPL-2.1-or-later
// Everything grokimagineimagesrc does, minus GObject: run the generation,
// then fetch every image it produced (without the key).
#pragma once

#include <vector>

#include "failover.h"
#include "generation.h"

namespace grokimagine {

// Largest single image we accept from the network.
constexpr gsize kMaxImageDownloadBytes = 64 * 1024 * 1024;

// The bytes at `url` (an image, a slate), fetched without the key under the
// same retry policy as every other request (`timing`): a 5xx, a 429 or a
// transport error is tried again (a plain GET: repeating it costs
// nothing), a 404 is an answer. At most `max_bytes`; `what` names it in
// messages ("image": "the image URL answered HTTP 404").
Result<std::string> fetch_media(const std::string &url, const JobTiming &timing,
                                const std::string &log_name, gsize max_bytes, const char *what,
                                GCancellable *cancellable);

class ImageSet {
 public:
  // As ClipSource::prepare: the settings, and each fallback provider's.
  std::optional<Error> prepare(const JobSettings &settings) {
    return providers_.prepare(generation_, settings);
  }
  // The fallback providers left out at prepare(), each with why.
  const std::vector<std::string> &skipped() const { return providers_.skipped(); }

  // Runs the job and fetches its images; each then has data and mime_type.
  // When the job cannot be had from its provider (allows_failover), the
  // next fallback provider runs it (events.failed_over).
  std::optional<Error> run(GCancellable *cancellable, const JobEvents &events);

  const Generation &generation() const { return generation_; }
  Generation &generation() { return generation_; }
  const std::vector<Output> &images() const { return images_; }

 private:
  std::optional<Error> run_on_provider(GCancellable *cancellable, const JobEvents &events);

  Generation generation_;
  ProviderSequence providers_;
  std::vector<Output> images_;
};

}  // namespace grokimagine
