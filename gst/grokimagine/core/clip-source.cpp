#include "clip-source.h"

namespace grokimagine {

std::optional<Error> ClipSource::run(GCancellable *cancellable, const JobEvents &events) {
  auto outputs = generation_.run(cancellable, events);
  if (auto *error = std::get_if<Error>(&outputs)) return *error;
  const std::string &url = std::get<std::vector<Output>>(outputs).front().url;
  Error error;
  download_ = Download::start(url, generation_.settings().location, &error);
  if (!download_) return with_request_id(error, generation_.request_id());
  return std::nullopt;
}

}  // namespace grokimagine
