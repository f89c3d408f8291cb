// SPDX-License-Identifier: LGPL-2.1-or-later
#include "job.h"

#include <algorithm>

#include "cancellable.h"
#include "log.h"
#include "pacing.h"
#include "retry.h"

namespace grokimagine {

namespace {

bool is_transient(const HttpResponse &response) {
  return http_status_is_transient(response.status);
}

// A submit may be repeated only where the provider cannot have accepted it:
// a repeated accepted submit is a second bill. Connection refused, 429 and
// 503 say "not taken"; a 500, a 502 or 504 from a gateway, a reset or a
// timeout after sending may all hide an accepted job, so they end the run
// with the error instead (nothing has a request id to resume yet).
bool submit_is_repeatable(const HttpResponse &response) {
  return response.not_sent || response.status == 429 || response.status == 503;
}

bool is_terminal(JobStatus::State state) {
  return state != JobStatus::State::Pending && state != JobStatus::State::Running;
}

const char *phase_name(Phase phase) {
  switch (phase) {
    case Phase::Submit:
      return "submitting the job";
    case Phase::Status:
      return "polling the job status";
    case Phase::Result:
      return "fetching the job result";
    case Phase::Files:
      return "using the Files API";
  }
  return "";
}

}  // namespace

Job::Job(const Provider &provider, Endpoint endpoint, JobTiming timing, std::string log_id,
         std::shared_ptr<SharedSchedule> shared)
    : provider_(provider),
      endpoint_(std::move(endpoint)),
      timing_(timing),
      pacing_bucket_(RequestPacer::bucket(provider, endpoint_)),
      shared_schedule_(std::move(shared)),
      log_id_(std::move(log_id)) {}

void note_maybe_billed(Error &error, const Provider &provider) {
  error.maybe_billed = true;
  if (!error.message.empty() && error.message.back() != '.') error.message += '.';
  error.message += std::string(" The submit reached ") + provider.name() +
                   ", which may have accepted (and billed) the job; check your provider's "
                   "dashboard before submitting again.";
}

Result<HttpResponse> Job::send(const HttpRequest &request, Phase phase, GCancellable *cancellable,
                               SubmitInFlight *in_flight) {
  const RetryPolicy policy(timing_, deadline_);
  HttpRequest timed = request;
  timed.log_id = log_id_;
  timed.log_phase = phase_name(phase);
  auto failure = [&](const HttpResponse &response) {
    if (response.status != 0) return provider_.http_error(response, phase);
    Error error = Error::network(std::string("network error while ") + phase_name(phase) + ": " +
                                 response.transport_error);
    // An answer that cannot be read is still an answer: the job may exist.
    if (phase == Phase::Submit && !response.not_sent) note_maybe_billed(error, provider_);
    return error;
  };
  for (int attempt = 1;; attempt++) {
    std::shared_ptr<HttpAnswer> answer = in_flight ? *in_flight : nullptr;
    if (!answer) {
      if (settle_only_) return Error::cancelled();
      if (!RequestPacer::instance().wait_turn(pacing_bucket_, provider_.requests_per_second(),
                                              cancellable, shared_schedule_.get()))
        return Error::cancelled();
      // Never past the overall deadline, never past the per-request limit.
      timed.timeout_ms = guint(policy.request_timeout().count());
      timed.log_attempt = attempt;
      // A submit once sent is followed to its answer: cancelling it could
      // lose a job the provider has already accepted.
      answer = HttpClient::instance().start(timed, in_flight ? nullptr : cancellable);
      if (in_flight) *in_flight = answer;
    }
    HttpResponse response;
    if (!answer->wait(cancellable, &response)) {
      if (in_flight)
        GST_CAT_INFO_ID(grokimagine_core_debug, log_id(log_id_),
                        "stopped waiting while %s; the request goes on and its answer is kept",
                        phase_name(phase));
      return Error::cancelled();
    }
    if (in_flight) in_flight->reset();
    if (response.cancelled) return Error::cancelled();
    if (response.status != 0) api_answered_ = true;
    bool retry = !response.oversized &&
                 (phase == Phase::Submit ? submit_is_repeatable(response) : is_transient(response));
    if (!retry) {
      if (response.status == 0) return failure(response);
      return response;
    }
    // Nothing has ever answered at this address: a mistyped api-url or a
    // server that is not running, which the backoff (seconds of retries)
    // will not fix. The second attempt is for a server just starting.
    constexpr int kFirstContactAttempts = 2;
    if (response.not_sent && !api_answered_ && attempt >= kFirstContactAttempts) {
      GST_CAT_INFO_ID(grokimagine_core_debug, log_id(log_id_),
                      "%s: attempt %d failed (%s); nothing has answered at %s yet: giving up",
                      phase_name(phase), attempt, response.transport_error.c_str(),
                      endpoint_.api_url.c_str());
      Error error = failure(response);
      error.kind = ErrorKind::Network;
      error.message += "; nothing answered at " + endpoint_.api_url + " (" +
                       std::to_string(attempt) + " attempts): check api-url, or " +
                       provider_.api_url_env() + " where it is set.";
      return error;
    }
    const auto decision = policy.after_failure(attempt, response.header("Retry-After"));
    // The limit is the key's: every job of it waits, not only this one.
    if (response.status == 429)
      RequestPacer::instance().hold_off(pacing_bucket_, Clock::now() + decision.wait,
                                        shared_schedule_.get());
    const std::string why =
        response.status ? "HTTP " + std::to_string(response.status) : response.transport_error;
    switch (decision.verdict) {
      case RetryPolicy::Verdict::OutOfTime: {
        GST_CAT_INFO_ID(grokimagine_core_debug, log_id(log_id_),
                        "%s: attempt %d failed (%s); no time left to retry", phase_name(phase),
                        attempt, why.c_str());
        Error error = failure(response);
        error.kind = ErrorKind::Timeout;
        error.message = decision.reason + ": " + error.message;
        return error;
      }
      case RetryPolicy::Verdict::OutOfAttempts: {
        GST_CAT_INFO_ID(grokimagine_core_debug, log_id(log_id_),
                        "%s: attempt %d failed (%s); no attempts left", phase_name(phase), attempt,
                        why.c_str());
        Error error = failure(response);
        error.kind = ErrorKind::Network;
        error.message += " " + decision.reason;
        return error;
      }
      case RetryPolicy::Verdict::Retry:
        break;
    }
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id(log_id_),
                    "%s: attempt %d failed (%s); retrying in %" G_GINT64_FORMAT " ms%s",
                    phase_name(phase), attempt, why.c_str(), gint64(decision.wait.count()),
                    response.header("Retry-After").empty() ? "" : " (as Retry-After asks)");
    if (settle_only_ || !sleep_cancellable(cancellable, decision.wait)) return Error::cancelled();
  }
}

Result<Submitted> Job::submit(const Request &request, const Inputs &inputs,
                              SubmitInFlight &in_flight, GCancellable *cancellable) {
  auto sent = send(in_flight ? HttpRequest{} : provider_.submit_request(request, inputs, endpoint_),
                   Phase::Submit, cancellable, &in_flight);
  if (auto *error = std::get_if<Error>(&sent)) return *error;
  const HttpResponse &response = std::get<HttpResponse>(sent);
  GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "%s answered the submit: HTTP %u",
                  provider_.name(), response.status);
  auto parsed = provider_.parse_submit(response);
  // A server error after the submit arrived may hide an accepted job.
  if (auto *error = std::get_if<Error>(&parsed); error && response.status >= 500)
    note_maybe_billed(*error, provider_);
  return parsed;
}

std::optional<Error> Job::settle_submit(const Request &request, SubmitInFlight &in_flight,
                                        GCancellable *cancellable, const JobEvents &events) {
  if (!in_flight) return std::nullopt;
  deadline_ = Clock::now() + timing_.timeout;
  settle_only_ = true;
  auto submitted = submit(request, Inputs{}, in_flight, cancellable);
  if (auto *error = std::get_if<Error>(&submitted))
    return error->kind == ErrorKind::Cancelled ? std::nullopt : std::optional<Error>(*error);
  const std::string &id = std::get<Submitted>(submitted).request_id;
  GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "job %s was submitted before the stop",
                  id.c_str());
  if (events.submitted) events.submitted(id);
  return std::nullopt;
}

Result<JobStatus> Job::status_of(const std::string &request_id, GCancellable *cancellable) {
  deadline_ = Clock::now() + timing_.timeout;
  GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "asking %s for job %s (an input)",
                  provider_.name(), request_id.c_str());
  auto sent = send(provider_.status_request(request_id, endpoint_), Phase::Status, cancellable);
  if (auto *error = std::get_if<Error>(&sent)) return *error;
  return provider_.parse_status(std::get<HttpResponse>(sent));
}

Result<std::string> Job::upload(const std::string &bytes, const std::string &mime_type,
                                GCancellable *cancellable) {
  deadline_ = Clock::now() + timing_.timeout;
  GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "uploading a %s input of %zu bytes",
                  mime_type.c_str(), bytes.size());
  HttpRequest request = provider_.upload_request(bytes, mime_type, endpoint_);
  auto sent = send(request, Phase::Files, cancellable);
  if (auto *error = std::get_if<Error>(&sent)) return *error;
  auto id = provider_.parse_upload(std::get<HttpResponse>(sent));
  if (auto *file_id = std::get_if<std::string>(&id))
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "uploaded as file %s",
                    file_id->c_str());
  return id;
}

void Job::delete_file(const std::string &file_id, GCancellable *cancellable) {
  deadline_ = Clock::now() + timing_.request_timeout * 2;
  auto sent = send(provider_.delete_file_request(file_id, endpoint_), Phase::Files, cancellable);
  const HttpResponse *response = std::get_if<HttpResponse>(&sent);
  if (response && response->status >= 200 && response->status < 300)
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "deleted uploaded file %s",
                    file_id.c_str());
  else
    GST_CAT_WARNING_ID(grokimagine_core_debug, log_id_.c_str(),
                       "could not delete uploaded file %s (%s); it expires by itself",
                       file_id.c_str(),
                       response ? ("HTTP " + std::to_string(response->status)).c_str()
                                : std::get<Error>(sent).message.c_str());
}

Error Job::not_completed(const JobStatus &status) const {
  const std::string provider = provider_.name();
  const std::string detail = status.detail.empty() ? "" : ": " + status.detail;
  switch (status.state) {
    case JobStatus::State::Moderated:
      return Error::of(ErrorKind::Moderated,
                       provider + " withheld the result: it was blocked by moderation" + detail);
    case JobStatus::State::Expired:
      return Error::of(ErrorKind::Expired, provider + " reports the job expired" + detail);
    default:
      return Error::of(ErrorKind::JobFailed, provider + " reports the job failed" +
                                                 (detail.empty() ? ": no detail given" : detail));
  }
}

Result<std::vector<Output>> Job::run(const Request &request, const Inputs &inputs,
                                     const std::string &resume_id, SubmitInFlight &in_flight,
                                     GCancellable *cancellable, const JobEvents &events) {
  deadline_ = Clock::now() + timing_.timeout;
  std::string request_id = resume_id;
  auto stamped = [&request_id](Error error) {
    return with_request_id(std::move(error), request_id);
  };

  PollSchedule schedule(provider_, timing_.poll_interval, Clock::now());
  std::optional<JobStatus> last;
  if (request_id.empty()) {
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "%s %s job to %s, model %s",
                    in_flight ? "following the answer to the" : "submitting a",
                    request.kind == MediaKind::Video ? "video" : "image", provider_.name(),
                    request.model.c_str());
    auto submitted = submit(request, inputs, in_flight, cancellable);
    if (auto *error = std::get_if<Error>(&submitted)) return *error;
    request_id = std::get<Submitted>(submitted).request_id;
    last = std::get<Submitted>(submitted).finished;
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "job submitted: request id %s",
                    request_id.c_str());
  } else {
    GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "resuming job %s on %s",
                    request_id.c_str(), provider_.name());
  }
  if (events.submitted) events.submitted(request_id);
  if (last && events.status_changed) events.status_changed(*last);

  while (!last || !is_terminal(last->state)) {
    if (last) {
      const auto delay = schedule.next_delay(Clock::now());
      if (Clock::now() + delay > deadline_)
        return stamped(Error::timeout("the job did not finish within the timeout of " +
                                      std::to_string(timing_.timeout.count()) + " s (last status " +
                                      last->provider_status + "); set request-id to resume it"));
      GST_CAT_DEBUG_ID(grokimagine_core_debug, log_id_.c_str(),
                       "job %s: next status request in %lld ms", request_id.c_str(),
                       static_cast<long long>(delay.count()));
      if (!sleep_cancellable(cancellable, delay)) return Error::cancelled();
    }
    auto sent = send(provider_.status_request(request_id, endpoint_), Phase::Status, cancellable);
    if (auto *error = std::get_if<Error>(&sent)) return stamped(*error);
    auto parsed = provider_.parse_status(std::get<HttpResponse>(sent));
    if (auto *error = std::get_if<Error>(&parsed)) return stamped(*error);
    JobStatus &status = std::get<JobStatus>(parsed);
    schedule.observe(status, Clock::now());
    bool changed = !last || status.provider_status != last->provider_status ||
                   status.progress != last->progress;
    last = std::move(status);
    if (changed) {
      GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "job %s: status %s, progress %d",
                      request_id.c_str(), last->provider_status.c_str(), last->progress);
      if (events.status_changed) events.status_changed(*last);
    }
  }
  if (last->state != JobStatus::State::Completed) return stamped(not_completed(*last));

  if (last->outputs.empty()) {
    GST_CAT_DEBUG_ID(grokimagine_core_debug, log_id_.c_str(), "job %s: fetching its result",
                     request_id.c_str());
    if (auto result = provider_.result_request(request_id, endpoint_)) {
      auto sent = send(*result, Phase::Result, cancellable);
      if (auto *error = std::get_if<Error>(&sent)) return stamped(*error);
      auto parsed = provider_.parse_result(std::get<HttpResponse>(sent));
      if (auto *error = std::get_if<Error>(&parsed)) return stamped(*error);
      last = std::get<JobStatus>(parsed);
      if (last->state != JobStatus::State::Completed) return stamped(not_completed(*last));
    }
  }
  if (last->outputs.empty())
    return stamped(Error::protocol(std::string(provider_.name()) +
                                   " reports the job complete but names no result"));
  GST_CAT_INFO_ID(grokimagine_core_debug, log_id_.c_str(), "job %s done: %zu file(s)",
                  request_id.c_str(), last->outputs.size());
  return last->outputs;
}

}  // namespace grokimagine
