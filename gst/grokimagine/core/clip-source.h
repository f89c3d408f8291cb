// Everything grokimaginesrc does, minus GObject: run the generation, then
// serve the clip's bytes from the download as they arrive.
#pragma once

#include <memory>

#include "download.h"
#include "generation.h"

namespace grokimagine {

class ClipSource {
 public:
  // Checks the settings and reads local inputs; nothing is sent.
  std::optional<Error> prepare(const JobSettings &settings) {
    return generation_.prepare(settings);
  }

  // Runs the job until the video URL is known, then starts the download.
  std::optional<Error> run(GCancellable *cancellable, const JobEvents &events);

  const Generation &generation() const { return generation_; }
  // Shared: the element's queries (other threads) may still hold it while
  // a stop drops ours.
  std::shared_ptr<Download> download() const { return download_; }
  // Why the download failed, in the provider's terms where the download was
  // the job itself, with the request id.
  Error download_error() const;

 private:
  Generation generation_;
  std::shared_ptr<Download> download_;
};

}  // namespace grokimagine
