#include "clip-source.h"

namespace grokimagine {

std::optional<Error> ClipSource::run(GCancellable *cancellable, const JobEvents &events) {
  Error failure;
  if (generation_.answers_with_media()) {
    // The answer to the submit is the clip: the download is the job.
    if (events.status_changed)
      events.status_changed(JobStatus{JobStatus::State::Running, "PROCESSING", -1, {}, {}});
    download_ = Download::start(generation_.submit_request(), generation_.settings().location,
                                generation_.settings().max_size, &failure);
  } else {
    auto outputs = generation_.run(cancellable, events);
    if (auto *error = std::get_if<Error>(&outputs)) return *error;
    const std::string &url = std::get<std::vector<Output>>(outputs).front().url;
    download_ = Download::start(url, generation_.settings().location,
                                generation_.settings().max_size, &failure);
  }
  if (!download_) return with_request_id(failure, generation_.request_id());
  return std::nullopt;
}

Error ClipSource::download_error() const {
  Error error = download_->error();
  if (generation_.answers_with_media() && error.http_status >= 300) {
    HttpResponse answer;
    answer.status = error.http_status;
    answer.body = download_->error_body();
    error = generation_.provider().http_error(answer, Phase::Submit);
  }
  return with_request_id(error, generation_.request_id());
}

}  // namespace grokimagine
