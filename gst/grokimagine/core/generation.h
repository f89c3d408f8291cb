// SPDX-License-Identifier: LGPL-2.1-or-later
// One generation, whatever the media: check the settings and resolve the
// provider, key and inputs (nothing sent), then run the paid job.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "job-record.h"
#include "job.h"
#include "prices.h"

namespace grokimagine {

// The shortest poll-interval accepted (ms), apart from 0 (the provider's
// schedule).
constexpr long long kMinPollIntervalMs = 100;

struct JobSettings {
  std::string provider = "auto";  // a provider's name, or auto: from the environment
  Request request;
  std::string api_url;     // empty: the provider's default
  std::string api_key;     // empty: from the provider's environment variable
  std::string request_id;  // resume this job instead of submitting
  std::string location;    // keep the result here too (video)
  std::uint64_t max_size = std::uint64_t(1) << 30;  // largest video accepted; 0: no limit
  bool allow_insecure_http = false;                 // send the key over plain http to a remote host
  JobTiming timing;
  std::string log_id;  // the element's name, naming its lines in the debug log
  // The job journal's directory: unset for the default (Journal::default_dir),
  // empty for none.
  std::optional<std::string> journal;
  // Where the journal's entries live when machines share them: a
  // PostgreSQL connection string (store.h); unset for GROKIMAGINE_STORE,
  // empty for the journal's directory.
  std::optional<std::string> store;
  Reuse reuse = Reuse::Unfinished;
  std::uint64_t cache_size = std::uint64_t(1)
                             << 30;  // bytes of delivered clips kept (reuse=always)
  double budget_usd = 0;             // 0: none
  // Shares `budget_usd` with every job of the same scope name in the store
  // (on any machine); empty: the budget is this element's.
  std::string budget_scope;
  std::string prices;  // a price file (empty: GROKIMAGINE_PRICES, or none)
  // Providers tried in order after `provider` for a job that cannot be had
  // from it (allows_failover), each with its own key and API URL from the
  // environment; a provider in cool-down after a failure is skipped for
  // `failover_cooldown`.
  std::vector<std::string> fallback_providers;
  std::chrono::seconds failover_cooldown{60};
  // A fallback provider that cannot make the job's duration makes the
  // nearest it can (reapi: 6 to 30 s) instead of being left out.
  bool fallback_adapt = false;
  // A moderated job moves on to the next provider too (on-moderation=
  // fallback), or is the job's error (fail).
  bool fallback_on_moderation = true;
};

class Generation {
 public:
  std::optional<Error> prepare(const JobSettings &settings);

  // Submits (or resumes) and waits for the job's outputs. Errors after the
  // submit carry the request id. Run again after a cancel, it goes on
  // where it stopped: a submit that was out is followed, never repeated.
  Result<std::vector<Output>> run(GCancellable *cancellable, const JobEvents &events);

  // A submit has left and its answer has not been read: stopping now could
  // lose a job the provider accepted.
  bool submit_in_flight() const { return submit_in_flight_ != nullptr; }
  // Reads the answer to the submit in flight, waiting for it until
  // `cancellable` fires (or the request's own timeout), and reports its id
  // through events.submitted. Sends nothing.
  std::optional<Error> settle_submit(GCancellable *cancellable, const JobEvents &events);

  // The job is one synchronous request whose answer is the media.
  bool answers_with_media() const { return provider_->answers_with_media(settings_.request); }
  // Before a submit: the journal's word (follow a job already paid for,
  // or refuse an ambiguous one) and the budget. run() calls it; a
  // synchronous job (answers_with_media) calls it before its POST, then
  // says how that ended: null when the clip arrived whole, else why not
  // (the journal keeps an unanswered one, which may have been billed).
  std::optional<Error> before_submit(GCancellable *cancellable, const JobEvents &events);
  // The synchronous job's POST was answered with the clip: this run pays
  // for it (submitted_this_run).
  void synchronous_submit_answered();
  void synchronous_submit_finished(const Error *error);
  HttpRequest submit_request() const {
    return provider_->submit_request(settings_.request, inputs_, endpoint());
  }

  // What the job costs: the provider's figure once reported, else the
  // estimate from the price table; nullopt when neither is known. `source`
  // is "provider" or "estimate".
  std::optional<double> cost(std::string *source = nullptr) const;
  // What the element has spent before this job, against `budget`.
  void set_spent_usd(double spent) { spent_usd_ = spent; }
  // The journal's record of this job (delivery, the cached clip).
  JobRecord &record() { return record_; }
  // With reuse=always and a delivered clip of this description in the
  // cache: its path (the job's id becomes request_id()); else empty.
  std::string replay_from_cache();

  // output=continuation of an extension: where the new seconds start in
  // the result: the input's length when read locally, else the result's
  // length (from the finished job's status) less `duration`.
  std::optional<double> continuation_start() const;
  // The input video's length in seconds (extend, edit); < 0 when unknown.
  double input_seconds() const { return inputs_.video.duration_s; }
  // File ids this job uploaded and has not deleted yet.
  const std::vector<std::string> &uploaded_files() const { return uploaded_; }

  // The last run() (settle_submit(), a synchronous submit) sent the submit that made this
  // job: the job it pays for. Not one it resumed (request-id, the journal,
  // an earlier run cut short), replayed from the cache or failed over from.
  bool submitted_this_run() const { return submitted_this_run_; }

  const Provider &provider() const { return *provider_; }
  const JobSettings &settings() const { return settings_; }
  const std::string &request_id() const { return request_id_; }

 private:
  Endpoint endpoint() const { return Endpoint{settings_.api_url, settings_.api_key}; }
  // `events`, also keeping the request id, the cost and the journal up to
  // date.
  JobEvents remembering_id(const JobEvents &events);
  // Before a new submit: request:ID resolved to its URL (and checked),
  // local inputs too large for inline uploaded.
  std::optional<Error> resolve_remote_inputs(Job &job, GCancellable *cancellable);
  void delete_uploads(Job &job, GCancellable *cancellable);

  const Provider *provider_ = nullptr;
  JobSettings settings_;
  Inputs inputs_;
  std::string request_id_;
  SubmitInFlight submit_in_flight_;
  JobRecord record_;
  std::optional<double> estimate_;
  std::optional<double> reported_cost_;
  double spent_usd_ = 0;
  // The fleet's request schedule, when a store keeps the journal.
  std::shared_ptr<SharedSchedule> shared_schedule_;
  bool claimed_ = false;  // the journal was asked before this job's submit
  bool submitted_this_run_ = false;
  std::vector<std::string> uploaded_;
  std::optional<double> result_seconds_;  // the finished video's length, from its status
};

}  // namespace grokimagine
