// SPDX-License-Identifier: LGPL-2.1-or-later
#include "generation.h"

#include <algorithm>
#include <cmath>

#include "local-file.h"
#include "log.h"
#include "pacing.h"
#include "store.h"

namespace grokimagine {

namespace {

// The API's base URL: where the key goes, and what every request path is
// appended to, so nothing but scheme, host, port and path.
// `named` says where it came from: the property or the environment.
std::optional<Error> check_api_url(const std::string &api_url, const std::string &named_as) {
  const std::string named = named_as + " is '" + api_url + "': ";
  g_autoptr(GError) error = nullptr;
  g_autoptr(GUri) uri = g_uri_parse(api_url.c_str(), G_URI_FLAGS_NONE, &error);
  if (!uri) return invalid_setting(named + "not a valid URL (" + error->message + ").");
  const std::string scheme = g_uri_get_scheme(uri);
  if (scheme != "http" && scheme != "https")
    return invalid_setting(named + "it must be an http:// or https:// URL.");
  if (!g_uri_get_host(uri) || !*g_uri_get_host(uri))
    return invalid_setting(named + "it names no host.");
  if (g_uri_get_userinfo(uri) || g_uri_get_query(uri) || g_uri_get_fragment(uri))
    return invalid_setting(named +
                           "a base URL takes no user name, query or fragment (scheme, host, "
                           "port and path only).");
  return std::nullopt;
}

// Values GObject ranges cannot refuse without silently keeping the old one
// (they are as wide as their type): refused here, before anything is sent.
std::optional<Error> check_timing(const JobTiming &timing) {
  const std::string who = "the plugin";
  if (auto error =
          check_range("timeout", int(std::min<long long>(timing.timeout.count(), G_MAXINT)), 1,
                      7 * 24 * 3600, who))
    return error;
  if (auto error = check_range("request-timeout",
                               int(std::min<long long>(timing.request_timeout.count(), G_MAXINT)),
                               1, 3600, who))
    return error;
  if (auto error =
          check_range("retries", std::min(timing.max_attempts - 1, G_MAXINT - 1), 0, 20, who))
    return error;
  if (auto error = check_range("retry-backoff",
                               int(std::min<long long>(timing.retry_backoff.count(), G_MAXINT)), 10,
                               60000, who))
    return error;
  // A floor on polling: every status request counts against the key's rate
  // limit, and below a quarter second no provider's job moves.
  const auto poll = std::min<long long>(timing.poll_interval.count(), G_MAXINT);
  if (poll != 0 && (poll < kMinPollIntervalMs || poll > 600000))
    return invalid_setting("Property 'poll-interval' is " + std::to_string(poll) +
                           ": it takes 0 (the provider's schedule) or " +
                           std::to_string(kMinPollIntervalMs) + " to 600000 ms.");
  return std::nullopt;
}

// The key must not cross a network in clear text: plain http is for
// loopback (the emulator, a local proxy) unless the user says otherwise.
std::optional<Error> check_transport(const JobSettings &settings, const std::string &named_as) {
  if (!g_str_has_prefix(settings.api_url.c_str(), "http://") || settings.allow_insecure_http)
    return std::nullopt;
  g_autoptr(GUri) uri = g_uri_parse(settings.api_url.c_str(), G_URI_FLAGS_NONE, nullptr);
  const std::string host = uri && g_uri_get_host(uri) ? g_uri_get_host(uri) : "";
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host.c_str());
  if (host == "localhost" || (address && g_inet_address_get_is_loopback(address)))
    return std::nullopt;
  return invalid_setting(named_as + " is '" + settings.api_url +
                         "': plain http to a remote host would send the API key unencrypted. "
                         "Use https, or set allow-insecure-http=true if you know why.");
}

}  // namespace

std::optional<Error> Generation::prepare(const JobSettings &settings) {
  init_logging();
  settings_ = settings;
  if (auto error = check_timing(settings.timing)) return error;
  if (settings.provider == "auto") {
    auto found = provider_from_environment();
    if (auto *error = std::get_if<Error>(&found)) return *error;
    provider_ = std::get<const Provider *>(found);
  } else {
    provider_ = find_provider(settings.provider);
  }
  if (!provider_)
    return invalid_setting("Property 'provider': unknown provider '" + settings.provider + "'");
  Request &request = settings_.request;
  const char *default_model = provider_->default_model(request.kind);
  if (request.model.empty() && default_model) request.model = default_model;
  std::string api_url_named_as = "Property 'api-url'";
  if (settings_.api_url.empty()) {
    settings_.api_url = provider_->api_url();
    if (settings_.api_url != provider_->default_api_url())
      api_url_named_as = "The environment's " + provider_->api_url_env();
  }
  while (!settings_.api_url.empty() && settings_.api_url.back() == '/')
    settings_.api_url.pop_back();
  if (auto error = check_api_url(settings_.api_url, api_url_named_as)) return error;
  if (auto error = check_transport(settings_, api_url_named_as)) return error;
  if (settings_.api_key.empty()) {
    const char *from_env = g_getenv(provider_->key_env());
    if (from_env) settings_.api_key = from_env;
  }
  if (settings_.api_key.empty())
    return Error::of(ErrorKind::NotAuthorized, std::string("No API key for ") + provider_->name() +
                                                   ": set the api-key property or the " +
                                                   provider_->key_env() + " environment variable.");
  request_id_ = settings_.request_id;
  if (!request_id_.empty())
    if (std::string problem = request_id_problem(request_id_); !problem.empty())
      return invalid_setting("Property 'request-id': " + problem + ".");
  if (!request_id_.empty() && answers_with_media())
    return invalid_setting("Property 'request-id' is set, but " + request.model + " on " +
                           provider_->name() + " is synchronous: there is no job to resume.");
  // A resumed job was validated when it was submitted; its settings may
  // not even be known any more.
  if (!request_id_.empty()) {
    GST_CAT_INFO_ID(grokimagine_core_debug, settings_.log_id.c_str(),
                    "prepared to resume job %s on %s (%s)", request_id_.c_str(), provider_->name(),
                    settings_.api_url.c_str());
    return std::nullopt;
  }
  if (auto error = provider_->validate(request)) return error;
  if (auto error = provider_->check_prompt(request.prompt)) return error;
  auto inputs = resolve_inputs(request);
  if (!inputs.ok()) return inputs.error();
  inputs_ = std::move(*inputs);
  if (auto refused = provider_->check_inputs(request, inputs_)) return refused;
  const std::string prices_path =
      !settings_.prices.empty()
          ? settings_.prices
          : (g_getenv("GROKIMAGINE_PRICES") ? g_getenv("GROKIMAGINE_PRICES") : "");
  auto prices = PriceTable::load(prices_path);
  if (!prices.ok()) return prices.error();
  estimate_ = prices->estimate(provider_->name(), request);
  if (!std::isfinite(settings_.budget_usd))
    return invalid_setting("Property 'budget' is " + std::to_string(settings_.budget_usd) +
                           ": it takes US dollars, 0 for none.");
  if (settings_.budget_usd < 0)
    return invalid_setting("Property 'budget' is negative: it takes US dollars, 0 for none.");
  if (settings_.budget_usd > 0 && !estimate_)
    return invalid_setting(
        "Property 'budget' is set, but no price is known for " + std::string(provider_->name()) +
        " " + request.model + " at " + request.resolution +
        ": add a line 'provider model resolution usd-per-second' to a price file (the prices "
        "property or GROKIMAGINE_PRICES).");
  JournalEntry described;
  described.fingerprint = job_fingerprint(provider_->name(), settings_.api_key, submit_request());
  described.provider = provider_->name();
  described.api_url = settings_.api_url;
  described.model = request.model;
  described.kind = request.kind == MediaKind::Video ? "video" : "image";
  described.prompt = request.prompt;
  described.duration = request.kind == MediaKind::Video ? request.duration : 0;
  described.resolution = request.resolution;
  described.aspect_ratio = request.aspect_ratio;
  described.image = request.image;
  if (request.kind == MediaKind::Video) {
    described.operation = operation_name(request.operation);
    described.video = request.video;
  }
  const std::string store = settings_.store ? *settings_.store : default_store();
  if (!settings_.budget_scope.empty()) {
    const std::string &scope = settings_.budget_scope;
    if (scope.size() > 64 || !std::all_of(scope.begin(), scope.end(), [](char c) {
          return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
        }))
      return invalid_setting(
          "Property 'budget-scope' takes a name of up to 64 letters, digits "
          "and '-', '_', '.', ':'.");
    if (settings_.budget_usd <= 0)
      return invalid_setting("Property 'budget-scope' is '" + scope +
                             "' but 'budget' is not set: the scope shares a budget among "
                             "machines; set it (the same on each).");
    if (store.empty())
      return invalid_setting(
          "Property 'budget-scope' needs a store (the store property or "
          "GROKIMAGINE_STORE): the spending it shares is kept there.");
  }
  std::shared_ptr<EntryStore> entries;
  if (!store.empty()) {
    auto opened = open_store(store, settings_.timing.request_timeout);
    if (!opened.ok()) return opened.error();
    entries = std::move(*opened);
  }
  // The store that keeps the fleet's journal also paces its requests.
  shared_schedule_ = std::dynamic_pointer_cast<SharedSchedule>(entries);
  record_.prepare(
      Journal(settings_.journal ? *settings_.journal : Journal::default_dir(), std::move(entries)),
      settings_.reuse, std::move(described), provider_->retention());
  GST_CAT_INFO_ID(grokimagine_core_debug, settings_.log_id.c_str(),
                  "prepared a job for %s (%s), model %s; nothing sent yet", provider_->name(),
                  settings_.api_url.c_str(), request.model.c_str());
  return std::nullopt;
}

std::string Generation::replay_from_cache() {
  if (!request_id_.empty() || submit_in_flight_) return {};
  std::string id;
  std::string path = record_.cached_clip(&id);
  if (!path.empty()) request_id_ = id;
  return path;
}

std::optional<double> Generation::cost(std::string *source) const {
  if (source) *source = reported_cost_ ? "provider" : "estimate";
  return reported_cost_ ? reported_cost_ : estimate_;
}

std::optional<Error> Generation::before_submit(GCancellable *cancellable, const JobEvents &events) {
  submitted_this_run_ = false;
  if (claimed_ || !request_id_.empty() || submit_in_flight_) return std::nullopt;
  // Long enough for another pipeline's submit (its request timeout) to answer.
  const guint wait_ms = guint(settings_.timing.request_timeout.count()) * 1000 + 5000;
  // A scope's budget is checked in the store, with the claim: machines
  // starting jobs at once cannot all pass it.
  std::optional<ScopedBudget> scoped;
  if (!settings_.budget_scope.empty() && estimate_)
    scoped = ScopedBudget{settings_.budget_scope, settings_.budget_usd, *estimate_};
  auto claim = record_.claim(wait_ms, cancellable, scoped ? &*scoped : nullptr);
  if (auto *error = std::get_if<Error>(&claim)) return *error;
  claimed_ = true;
  const std::string &resume = std::get<std::string>(claim);
  if (!resume.empty()) {
    GST_CAT_INFO_ID(grokimagine_core_debug, settings_.log_id.c_str(),
                    "the journal has this job: following %s instead of submitting", resume.c_str());
    request_id_ = resume;
    // Inputs it uploaded are this run's to delete once the job is over.
    uploaded_ = record_.uploaded_files();
    if (events.resumed) events.resumed(resume);
    return std::nullopt;
  }
  if (!scoped && settings_.budget_usd > 0 && estimate_ &&
      spent_usd_ + *estimate_ > settings_.budget_usd) {
    record_.finished(invalid_setting("over budget"), false);
    return invalid_setting("Property 'budget' is " + format_usd(settings_.budget_usd) +
                           ": this element has spent " + format_usd(spent_usd_) +
                           " and this job would cost " + format_usd(*estimate_) +
                           ". Nothing was sent.");
  }
  if (events.submitting) events.submitting();
  return std::nullopt;
}

void Generation::synchronous_submit_answered() {
  submitted_this_run_ = true;
  if (estimate_) record_.set_cost(*estimate_, "estimate");
}

void Generation::synchronous_submit_finished(const Error *error) {
  if (error) {
    record_.finished(*error, false);
  } else {
    record_.finished(std::vector<Output>{}, false);
  }
}

namespace {

// After these the job is over (or was never taken): its uploaded inputs
// are no use any more. After a timeout, a lost network or a stop the job
// may still run on the provider, which may still read them; they expire.
bool job_is_over(const Result<std::vector<Output>> &result) {
  const Error *error = std::get_if<Error>(&result);
  if (!error) return true;
  switch (error->kind) {
    case ErrorKind::JobFailed:
    case ErrorKind::Moderated:
    case ErrorKind::Expired:
    case ErrorKind::BadRequest:
    case ErrorKind::NotAuthorized:
    case ErrorKind::InsufficientCredits:
    case ErrorKind::InvalidSettings:
    case ErrorKind::NotFound:
      return !error->maybe_billed;
    default:
      return false;
  }
}

}  // namespace

std::optional<Error> Generation::resolve_remote_inputs(Job &job, GCancellable *cancellable) {
  Request &request = settings_.request;
  VideoInput &video = inputs_.video;
  // request:ID: the URL of an earlier job's result, asked for now (an old
  // URL may have expired) with this job's key, endpoint and retries.
  if (!video.request_id.empty() && video.url.empty()) {
    const std::string named = "Property 'video' is 'request:" + video.request_id + "': ";
    auto status = job.status_of(video.request_id, cancellable);
    if (auto *error = std::get_if<Error>(&status)) {
      if (error->kind == ErrorKind::Cancelled) return *error;
      Error refused = *error;
      refused.message = named + refused.message;
      return refused;
    }
    const JobStatus &found = std::get<JobStatus>(status);
    if (found.state != JobStatus::State::Completed || found.outputs.empty() ||
        found.outputs.front().url.empty())
      return invalid_setting(named + "that job is " + found.provider_status +
                             ", not done with a video. Nothing was submitted.");
    video.url = found.outputs.front().url;
    if (found.video_duration_s) video.duration_s = *found.video_duration_s;
    if (auto refused = provider_->check_inputs(request, inputs_)) return refused;
  }
  if (!provider_->has_files_api()) return std::nullopt;
  auto upload = [&](UploadInput &input, const std::string &mime_type,
                    const std::string &bytes) -> std::optional<Error> {
    if (!input.file_id.empty()) return std::nullopt;
    auto id = job.upload(bytes, mime_type, cancellable);
    if (auto *error = std::get_if<Error>(&id)) return *error;
    input.file_id = std::get<std::string>(id);
    uploaded_.push_back(input.file_id);
    record_.uploaded(input.file_id);
    return std::nullopt;
  };
  if (video.upload && video.upload->file_id.empty()) {
    // The video is not kept in memory: read again for the upload.
    auto read = read_regular_file(video.upload->path, kMaxVideoBytes, Symlinks::Follow);
    if (!read.ok())
      return invalid_setting("Property 'video': cannot read '" + video.upload->path +
                             "': " + read.error().message);
    std::string bytes = std::move(*read);
    g_autofree gchar *digest = g_compute_checksum_for_data(
        G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(bytes.data()), bytes.size());
    if (video.upload->sha256 != digest)
      return invalid_setting("Property 'video': '" + video.upload->path +
                             "' changed since it was checked; start again.");
    if (auto error = upload(*video.upload, "video/mp4", bytes)) return error;
  }
  for (auto *list : {&inputs_.keyframes, &inputs_.audios, &inputs_.references})
    for (ImageInput &input : *list)
      if (input.upload)
        if (auto error = upload(*input.upload, input.mime_type, input.data)) return error;
  if (inputs_.image.upload)
    if (auto error = upload(*inputs_.image.upload, inputs_.image.mime_type, inputs_.image.data))
      return error;
  return std::nullopt;
}

std::optional<double> Generation::continuation_start() const {
  const Request &request = settings_.request;
  if (request.operation != Operation::Extend || !request.continuation_only) return std::nullopt;
  if (inputs_.video.duration_s >= 0) return inputs_.video.duration_s;
  // A URL (or a resumed job): the result's length, as the status gave it,
  // less the seconds added.
  if (result_seconds_) return std::max(0.0, *result_seconds_ - request.duration);
  return std::nullopt;
}

Result<std::vector<Output>> Generation::run(GCancellable *cancellable, const JobEvents &events) {
  if (auto error = before_submit(cancellable, events)) return *error;
  Job job(*provider_, endpoint(), settings_.timing, settings_.log_id, shared_schedule_);
  if (request_id_.empty() && !submit_in_flight_) {
    if (auto error = resolve_remote_inputs(job, cancellable)) {
      // Nothing was submitted: the journal entry goes (a stop here must not
      // leave an "ambiguous" submit behind). Uploads stay for a run that
      // goes on (their ids are kept), unless the inputs were refused.
      Result<std::vector<Output>> failed = *error;
      record_.finished(failed, false);
      if (error->kind != ErrorKind::Cancelled) delete_uploads(job, cancellable);
      return failed;
    }
  }
  auto result = job.run(settings_.request, inputs_, request_id_, submit_in_flight_, cancellable,
                        remembering_id(events));
  record_.finished(result, submit_in_flight());
  if (!submit_in_flight() && job_is_over(result)) delete_uploads(job, cancellable);
  return result;
}

void Generation::delete_uploads(Job &job, GCancellable *cancellable) {
  if (uploaded_.empty()) return;
  for (const std::string &file_id : uploaded_) job.delete_file(file_id, cancellable);
  uploaded_.clear();
  record_.uploads_deleted();
}

std::optional<Error> Generation::settle_submit(GCancellable *cancellable, const JobEvents &events) {
  Job job(*provider_, endpoint(), settings_.timing, settings_.log_id, shared_schedule_);
  return job.settle_submit(settings_.request, submit_in_flight_, cancellable,
                           remembering_id(events));
}

JobEvents Generation::remembering_id(const JobEvents &events) {
  JobEvents tracked = events;
  tracked.submitted = [this, submitted = events.submitted](const std::string &id) {
    // No id yet: the id is the answer to a submit this generation sent.
    if (request_id_.empty()) submitted_this_run_ = true;
    request_id_ = id;
    // Until (unless) the provider reports what it cost: what grokimagine-jobs shows.
    if (estimate_) record_.set_cost(*estimate_, "estimate");
    record_.submitted(id);
    if (submitted) submitted(id);
  };
  tracked.status_changed = [this, changed = events.status_changed](const JobStatus &status) {
    if (status.video_duration_s) result_seconds_ = status.video_duration_s;
    if (status.cost_usd) {
      reported_cost_ = status.cost_usd;
      record_.set_cost(*status.cost_usd, "provider");
    }
    if (changed) changed(status);
  };
  return tracked;
}

}  // namespace grokimagine
