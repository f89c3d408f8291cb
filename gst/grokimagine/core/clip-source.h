// SPDX-License-Identifier: LGPL-2.1-or-later
// Everything grokimaginesrc does, minus GObject: run the generation, then
// serve the clip's bytes from the download as they arrive.
#pragma once

#include <memory>

#include "download.h"
#include "failover.h"
#include "generation.h"

namespace grokimagine {

class ClipSource {
 public:
  // Checks the settings, reads local inputs and makes sure the clip can be
  // written where it will go (`location`, or $TMPDIR); nothing is sent.
  // Each fallback provider is checked the same way with its own key: one
  // that cannot take the job is left out, and said why (skipped()).
  std::optional<Error> prepare(const JobSettings &settings);
  // The fallback providers left out at prepare(), each with why.
  const std::vector<std::string> &skipped() const { return providers_.skipped(); }

  // Runs the job until the video URL is known, then starts the download.
  // When the job cannot be had from its provider (allows_failover), the
  // next fallback provider runs it (events.failed_over), each at most once.
  std::optional<Error> run(GCancellable *cancellable, const JobEvents &events);

  // How many connections the download may use at once (Download::start).
  void set_connections(unsigned connections) { connections_ = connections; }

  // The job's generation on the provider it is being had from.
  const Generation &generation() const { return generation_; }
  Generation &generation() { return generation_; }
  // Shared: the element's queries (other threads) may still hold it while
  // a stop drops ours.
  std::shared_ptr<Download> download() const { return download_; }
  // The whole clip is here: the journal records the job delivered (and,
  // with reuse=always, keeps the clip).
  void delivered();
  // Why the download failed, in the provider's terms where the download was
  // the job itself (the journal then records how that job ended), with the
  // request id.
  Error download_failed();

 private:
  std::optional<Error> run_on_provider(GCancellable *cancellable, const JobEvents &events);

  Generation generation_;
  ProviderSequence providers_;
  std::shared_ptr<Download> download_;
  unsigned connections_ = Download::kDefaultConnections;
};

}  // namespace grokimagine
