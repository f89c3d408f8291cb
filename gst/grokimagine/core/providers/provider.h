// SPDX-License-Identifier: LGPL-2.1-or-later
// A provider is a set of pure functions: build the HTTP requests for a job
// and turn the provider's answers into one JobStatus. Everything stateful
// (retries, polling, deadlines, downloads) lives in the job, shared by all.
//
// Adding a provider: one file beside this one implementing Provider, and
// one row in the table in provider.cpp (README.md: Adding a provider).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "../error.h"
#include "../http-types.h"
#include "../json.h"
#include "../request.h"

namespace grokimagine {

struct Endpoint {
  std::string api_url;  // base URL, no trailing slash
  std::string api_key;
};

// One generated file: a URL to fetch (without the key), or its bytes.
struct Output {
  std::string url;
  std::string mime_type;
  std::string data;
};

struct JobStatus {
  enum class State { Pending, Running, Completed, Failed, Moderated, Expired };
  State state = State::Pending;
  std::string provider_status;     // the provider's own word ("QUEUED", ...)
  int progress = -1;               // 0..100 where the provider reports it
  std::vector<Output> outputs;     // when Completed, if the status names them
  std::string detail;              // the provider's words when it did not complete
  std::optional<double> cost_usd;  // what the provider says the job cost
  // The finished video's length, where the status gives it (xai).
  std::optional<double> video_duration_s;
};

// What a submit returned: the job's id and, from synchronous APIs, the
// finished job itself.
struct Submitted {
  std::string request_id;
  std::optional<JobStatus> finished;
};

enum class Phase { Submit, Status, Result, Files };

// What a poll schedule knows when it picks the next delay.
struct PollState {
  std::chrono::milliseconds elapsed;  // since this run began following the job
  // Until the job should be done, estimated from the progress it reported.
  std::optional<std::chrono::milliseconds> remaining;
};

// A provider's own words for a job's state ("QUEUED", "done", ...), each
// with the state it means: what Provider::state_of reads a status by.
using StatusWords = std::vector<std::pair<const char *, JobStatus::State>>;

// The aspect ratios the Grok Imagine video models take (xai, segmind,
// aimlapi), in the order the refusals and the property blurb list them.
const std::vector<std::string> &grok_aspect_ratios();

// What a provider's video models accept, checked by Provider::check_video.
// Set by name on a local (`VideoLimits limits; limits.resolutions = ...`).
struct VideoLimits {
  int min_duration = 1;
  int max_duration = 15;
  std::vector<std::string> resolutions;
  std::vector<std::string> aspect_ratios;
  size_t max_references = 0;  // 0: no reference images
  // Whether a first frame and reference images may be sent together.
  bool image_with_references = false;
  // Beyond text- and image-to-video: what a provider that does more says.
  bool extend_and_edit = false;  // operation=extend / edit with a `video`
  size_t max_keyframes = 0;
  size_t max_reference_audios = 0;
  bool audio_optional = false;  // generate-audio=false
};

class Provider {
 public:
  virtual ~Provider() = default;

  virtual const char *name() const = 0;
  virtual const char *key_env() const = 0;
  virtual const char *default_api_url() const = 0;
  // The environment variable that overrides default_api_url() when the
  // api-url property is not set (GROKIMAGINE_XAI_API_URL, ...): how a URI
  // played by playbin, which may not choose hosts, reaches a local emulator
  // or a proxy the machine's owner chose, as the key comes from the
  // environment too.
  std::string api_url_env() const;
  // The base URL a job goes to when api-url is not set.
  std::string api_url() const;
  // Empty when the provider does not make this kind of media.
  virtual const char *default_model(MediaKind kind) const = 0;

  // Refuses, before anything is sent, what this provider cannot do; the
  // error names the property and what this provider allows.
  virtual std::optional<Error> validate(const Request &request) const = 0;
  // Refuses a prompt longer than this provider takes: its documented limit
  // in characters, else 4,096 bytes (longer is likelier a file read by
  // mistake than a description). `what` names where it came from.
  std::optional<Error> check_prompt(const std::string &prompt,
                                    const std::string &what = "Property 'prompt'") const;

  // The lengths, in seconds, of the videos operation=extend takes; none
  // when the provider does not extend videos.
  struct InputRange {
    double min_s;
    double max_s;
  };
  virtual std::optional<InputRange> extension_input() const { return std::nullopt; }
  // The longest prompt, in characters, the provider documents; none when
  // it documents none.
  virtual std::optional<std::size_t> max_prompt_chars() const { return std::nullopt; }

  // Checks what only the resolved inputs tell (a local video's length),
  // still before anything is sent; again once request:ID is resolved.
  virtual std::optional<Error> check_inputs(const Request & /*request*/,
                                            const Inputs & /*inputs*/) const {
    return std::nullopt;
  }

  // Local inputs too large for inline (ImageInput::upload) go to the
  // provider's Files API where it has one; the others send them inline.
  virtual bool has_files_api() const { return false; }
  virtual HttpRequest upload_request(const std::string & /*bytes*/,
                                     const std::string & /*mime_type*/,
                                     const Endpoint & /*endpoint*/) const {
    return {};
  }
  // The uploaded file's id.
  virtual Result<std::string> parse_upload(const HttpResponse & /*response*/) const {
    return Error::protocol("no Files API");
  }
  virtual HttpRequest delete_file_request(const std::string & /*file_id*/,
                                          const Endpoint & /*endpoint*/) const {
    return {};
  }

  virtual HttpRequest submit_request(const Request &request, const Inputs &inputs,
                                     const Endpoint &endpoint) const = 0;
  virtual Result<Submitted> parse_submit(const HttpResponse &response) const = 0;

  // Synchronous APIs whose answer to the submit is the media itself: the
  // submit is then streamed as the download, and there is nothing to poll.
  virtual bool answers_with_media(const Request & /*request*/) const { return false; }

  virtual HttpRequest status_request(const std::string &request_id,
                                     const Endpoint &endpoint) const = 0;
  virtual Result<JobStatus> parse_status(const HttpResponse &response) const = 0;

  // Providers whose status does not name the video serve it in a separate
  // result document, fetched once the status says Completed.
  virtual std::optional<HttpRequest> result_request(const std::string & /*request_id*/,
                                                    const Endpoint & /*endpoint*/) const {
    return std::nullopt;
  }
  virtual Result<JobStatus> parse_result(const HttpResponse &response) const {
    return parse_status(response);
  }

  // The wait before the next status request. The default halves the
  // estimated remaining time (1..15 s) when progress is known, and otherwise
  // starts at 1 s, growing by a tenth of the time waited so far up to 5 s.
  virtual std::chrono::milliseconds poll_delay(const PollState &state) const;
  // The published rate limit per key (requests/s), shared by all jobs of a
  // key; 0 when the provider publishes none (a 429 still holds them all off).
  virtual double requests_per_second() const { return 0; }
  // How long the provider keeps a job and its result: a journal entry
  // older than this cannot be resumed. Where a provider does not say, an
  // hour (Segmind's).
  virtual std::chrono::seconds retention() const { return std::chrono::hours(1); }

  // The seconds a video job of `request` may last (its model's and
  // operation's): what validate() checks `duration` against, and what
  // fallback-adapt clamps it into.
  virtual std::pair<int, int> duration_range(const Request & /*request*/) const { return {1, 15}; }

  // What the video models accept for `request` (its model and operation):
  // what validate() gives check_video(), and what the refusals read to
  // name the providers that do what another does not (providers_that).
  virtual VideoLimits video_limits(const Request & /*request*/) const { return {}; }

  // The error for an HTTP answer the provider has no special meaning for.
  Error http_error(const HttpResponse &response, Phase phase) const;
  // "Property 'reference-images': <name> takes no reference images; use
  // 'image' for a first frame, or provider=<those that do>."
  Error no_reference_images() const;
  // The checks every video provider makes: a prompt or an image, then
  // duration, resolution, aspect ratio and reference images within `limits`.
  std::optional<Error> check_video(const Request &request, const VideoLimits &limits) const;
  // Shared pieces of the providers' request builders and parsers.
  static Headers bearer_headers(const Endpoint &endpoint);
  // `method` of `path` under the API URL, the key as a bearer token.
  static HttpRequest bearer_request(const Endpoint &endpoint, const std::string &path,
                                    const char *method = "GET");
  // A submit's JSON body begun: an object with the model and, when there is
  // one, the prompt; the caller adds the rest, then sends it with
  // bearer_post.
  static JsonBuilder *begin_job_body(const Request &request);
  // POST of the JSON object being built in `body`, ended here, to `path`.
  static HttpRequest bearer_post(const Endpoint &endpoint, const std::string &path,
                                 JsonBuilder *body);
  Error unknown_status(const std::string &word, unsigned http_status) const;
  // The state `word` means in `words`; unknown_status when it is not there.
  Result<JobStatus::State> state_of(const std::string &word, const StatusWords &words,
                                    unsigned http_status) const;
  // The response's body as a JSON object, or the Protocol error
  // "<name> sent an unreadable <what> (why)" ("job status", "answer").
  Result<json::NodePtr> parse_answer(const HttpResponse &response, const char *what) const;
  // `id` as one URL path segment: an id is the provider's word, and
  // "../x?y=1" must not reach another path.
  static std::string path_segment(const std::string &id);
  // A submit answer naming the job's id in `member`.
  Result<Submitted> submitted_id(const HttpResponse &response, const char *member) const;
  // Refuses a model this provider does not offer for the request's kind.
  std::optional<Error> check_model(const Request &request,
                                   const std::vector<std::string> &models) const;
};

// The table of providers, in the order of the `provider` enum (after auto).
const std::vector<const Provider *> &all_providers();
// "a, b or c": `words` joined by ", ", `last` before the last one.
std::string listed(const std::vector<std::string> &words, const char *last = " or ");

// Each provider that makes videos with the limits of its default video
// model (video_limits), in the table's order.
struct ProviderLimits {
  const Provider *provider;
  VideoLimits limits;
};
std::vector<ProviderLimits> default_video_limits();
// "xai, aimlapi or reapi": the providers whose default video model's
// limits allow what `can` asks, from the table; `last` joins the last two.
std::string providers_that(const std::function<bool(const VideoLimits &)> &can,
                           const char *last = " or ");

// The seconds the providers' videos may last (operation=generate), from
// the table: one entry a range, naming the providers that have it
// ("xai, segmind, aimlapi"), in the table's order.
struct DurationRange {
  std::string providers;
  int min_s;
  int max_s;
};
std::vector<DurationRange> duration_ranges();
// "xai, segmind, aimlapi: 1 to 15; reapi: 6 to 30" (`unit` after each).
std::string describe_durations(const std::vector<DurationRange> &ranges, const char *unit = "");
const Provider *find_provider(const std::string &name);

// The provider whose key is in the environment, for provider=auto; an
// error listing the variables when none or several are set.
Result<const Provider *> provider_from_environment();

}  // namespace grokimagine
