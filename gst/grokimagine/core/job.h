// The life of one paid job: submit (or resume) -> poll -> the media URLs.
// Retries what is safe to retry, never submits twice, and stamps the
// request id on every error once it exists.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <string>

#include "providers/provider.h"

namespace grokimagine {

struct JobTiming {
  // Fixed time between status requests; 0 follows the provider's schedule.
  std::chrono::milliseconds poll_interval{0};
  std::chrono::seconds timeout{900};             // overall deadline, from submit to video URL
  int max_attempts = 6;                          // per request, for transient failures
  std::chrono::milliseconds retry_backoff{500};  // before the first retry, then doubled
  std::chrono::seconds request_timeout{30};      // one API request, answer included
};

struct JobEvents {
  std::function<void(const std::string &request_id)> submitted;
  // Called whenever the provider's status word or progress changes.
  std::function<void(const JobStatus &status)> status_changed;
};

class Job {
 public:
  Job(const Provider &provider, Endpoint endpoint, JobTiming timing);

  // Submits `request` or, when `resume_id` is not empty, follows that job
  // without submitting. Returns the generated files (at least one).
  Parsed<std::vector<Output>> run(const Request &request, const Inputs &inputs,
                                  const std::string &resume_id, GCancellable *cancellable,
                                  const JobEvents &events);

 private:
  using Clock = std::chrono::steady_clock;

  Parsed<HttpResponse> send(const HttpRequest &request, Phase phase, GCancellable *cancellable);
  std::chrono::milliseconds backoff(int attempt, const HttpResponse &response) const;
  Error not_completed(const JobStatus &status) const;

  const Provider &provider_;
  Endpoint endpoint_;
  JobTiming timing_;
  Clock::time_point deadline_;
  std::string budget_;  // this key's share of the process-wide request budget
};

}  // namespace grokimagine
