// Everything grokimagineimagesrc does, minus GObject: run the generation,
// then fetch every image it produced (without the key).
#pragma once

#include <vector>

#include "generation.h"

namespace grokimagine {

// Largest single image we accept from the network.
constexpr gsize kMaxImageDownloadBytes = 64 * 1024 * 1024;

class ImageSet {
 public:
  std::optional<Error> prepare(const JobSettings &settings) {
    return generation_.prepare(settings);
  }

  // Runs the job and fetches its images; each then has data and mime_type.
  std::optional<Error> run(GCancellable *cancellable, const JobEvents &events);

  const Generation &generation() const { return generation_; }
  Generation &generation() { return generation_; }
  const std::vector<Output> &images() const { return images_; }

 private:
  std::optional<Error> fetch(Output &image, GCancellable *cancellable) const;

  Generation generation_;
  std::vector<Output> images_;
};

}  // namespace grokimagine
