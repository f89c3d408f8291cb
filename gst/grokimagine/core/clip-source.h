// Everything grokimaginesrc does, minus GObject: run the generation, then
// serve the clip's bytes from the download as they arrive.
#pragma once

#include <memory>

#include "download.h"
#include "generation.h"

namespace grokimagine {

class ClipSource {
 public:
  // Checks the settings, reads local inputs and makes sure the clip can be
  // written where it will go (`location`, or $TMPDIR); nothing is sent.
  std::optional<Error> prepare(const JobSettings &settings);

  // Runs the job until the video URL is known, then starts the download.
  std::optional<Error> run(GCancellable *cancellable, const JobEvents &events);

  // How many connections the download may use at once (Download::start).
  void set_connections(unsigned connections) { connections_ = connections; }

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
  Generation generation_;
  std::shared_ptr<Download> download_;
  unsigned connections_ = Download::kDefaultConnections;
};

}  // namespace grokimagine
