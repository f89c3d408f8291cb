#include "clip-source.h"

namespace grokimagine {

std::optional<Error> ClipSource::run(GCancellable *cancellable, const JobEvents &events) {
  Error failure;
  const JobSettings &settings = generation_.settings();
  if (generation_.answers_with_media()) {
    // The answer to the submit is the clip: the download is the job.
    if (events.status_changed)
      events.status_changed(JobStatus{JobStatus::State::Running, "PROCESSING", -1, {}, {}});
    // Bounded by the job's `timeout` like any job, and sent once: it is the
    // paid submit.
    HttpRequest submit = generation_.submit_request();
    submit.log_id = settings.log_id;
    download_ = Download::start(
        submit, settings.location, settings.max_size,
        RetryPolicy(settings.timing, RetryPolicy::Clock::now() + settings.timing.timeout),
        &failure);
  } else {
    auto outputs = generation_.run(cancellable, events);
    if (auto *error = std::get_if<Error>(&outputs)) return *error;
    const std::string &url = std::get<std::vector<Output>>(outputs).front().url;
    download_ = Download::start(Download::media_get(url, settings.log_id), settings.location,
                                settings.max_size, RetryPolicy(settings.timing), &failure);
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
