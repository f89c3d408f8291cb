// SPDX-License-Identifier: LGPL-2.1-or-later
// The life of one paid job: submit (or resume) -> poll -> the media URLs.
// Retries what is safe to retry, never submits twice, and stamps the
// request id on every error once it exists.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http.h"
#include "providers/provider.h"
#include "retry.h"

namespace grokimagine {

class SharedSchedule;  // pacing.h

struct JobEvents {
  // The checks that may stop a job without sending it passed (the journal,
  // the budget): its inputs are uploaded and its submit sent next.
  std::function<void()> submitting;
  std::function<void(const std::string &request_id)> submitted;
  // Called whenever the provider's status word or progress changes.
  std::function<void(const JobStatus &status)> status_changed;
  // The journal had this description submitted and not delivered: the run
  // follows that job (called before `submitted`) instead of paying again.
  std::function<void(const std::string &request_id)> resumed;
  // reuse=always: the clip of that delivered job is played from the cache,
  // with no request at all.
  std::function<void(const std::string &request_id)> replayed;
  // The job moves on to the next provider (`to`) because of `reason`, the
  // failed attempt's request id if one existed (failover.h).
  struct Failover {
    std::string from, to, reason, request_id;
  };
  std::function<void(const Failover &failover)> failed_over;
};

// A submit that has left, and may therefore have been accepted (billed): its
// answer is followed even when the caller stops waiting (a flushing seek, a
// stop), and it is never sent again in the same run. Null when none is out.
using SubmitInFlight = std::shared_ptr<HttpAnswer>;

// `error` ended a submit that reached `provider` (a 5xx, an answer cut or
// never read): the provider may have accepted, and billed, the job.
void note_maybe_billed(Error &error, const Provider &provider);

class Job {
 public:
  // `shared`: the fleet's request schedule (a store), else this process's.
  Job(const Provider &provider, Endpoint endpoint, JobTiming timing, std::string log_id,
      std::shared_ptr<SharedSchedule> shared = nullptr);

  // Submits `request` or, when `resume_id` is not empty, follows that job
  // without submitting; with `in_flight` set, waits for that submit's
  // answer instead of sending another. A cancelled wait leaves `in_flight`
  // holding the submit still out. Returns the generated files (at least one).
  Result<std::vector<Output>> run(const Request &request, const Inputs &inputs,
                                  const std::string &resume_id, SubmitInFlight &in_flight,
                                  GCancellable *cancellable, const JobEvents &events);

  // Only learns the id of the submit in `in_flight` (waiting until
  // `cancellable` fires or the request's own timeout), never sending
  // anything: what a stop does so that a billed job is not lost.
  std::optional<Error> settle_submit(const Request &request, SubmitInFlight &in_flight,
                                     GCancellable *cancellable, const JobEvents &events);

  // One status request for an earlier job of the same key (request:ID as
  // an input), with the retries, pacing and logging of every poll.
  Result<JobStatus> status_of(const std::string &request_id, GCancellable *cancellable);
  // A local input to the provider's Files API: its file id. An upload is
  // retried like a poll: a repeat costs nothing but a stray file, which
  // expires by itself.
  Result<std::string> upload(const std::string &bytes, const std::string &mime_type,
                             GCancellable *cancellable);
  // Deletes an uploaded input once its job is over; failures are logged.
  void delete_file(const std::string &file_id, GCancellable *cancellable);

 private:
  using Clock = std::chrono::steady_clock;

  // With `in_flight` (submits): the request is not aborted by `cancellable`,
  // only the wait for it is, and it is left in `in_flight` to be followed.
  Result<HttpResponse> send(const HttpRequest &request, Phase phase, GCancellable *cancellable,
                            SubmitInFlight *in_flight = nullptr);
  Result<Submitted> submit(const Request &request, const Inputs &inputs, SubmitInFlight &in_flight,
                           GCancellable *cancellable);
  Error not_completed(const JobStatus &status) const;

  const Provider &provider_;
  Endpoint endpoint_;
  JobTiming timing_;
  Clock::time_point deadline_;
  std::string pacing_bucket_;  // this key's bucket in the process-wide request pacing
  std::shared_ptr<SharedSchedule> shared_schedule_;
  std::string log_id_;
  bool settle_only_ = false;   // send nothing new: only follow the submit in flight
  bool api_answered_ = false;  // an HTTP answer came from the API at least once
};

}  // namespace grokimagine
