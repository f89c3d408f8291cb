// SPDX-License-Identifier: LGPL-2.1-or-later
// Internals of the emulator shared by its core (emulator.cpp: servers, jobs,
// faults, media, the CDN) and its provider profiles (segmind.cpp, xai.cpp,
// aimlapi.cpp, reapi.cpp), which speak each API on top of the core.
#pragma once

#include "clip.h"
#include "emulator.h"
#include "glib-ptr.h"
#include "image.h"

#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace grokimagine::emulator {

constexpr const char *kJsonContentType = "application/json";
constexpr const char *kVideoContentType = "video/mp4";
// Too Many Requests, which libsoup has no SOUP_STATUS_ name (nor phrase) for.
constexpr guint kStatusTooManyRequests = 429;

// ---- Small text helpers ----

bool starts_with(const std::string &text, const char *prefix);
bool ends_with(const std::string &text, const char *suffix);
std::string trimmed(const std::string &text);
std::vector<std::string> path_segments(const char *path);
bool is_one_of(const std::string &value, std::initializer_list<const char *> allowed);
// "a, b, c"; with a separator of choice.
std::string joined(std::initializer_list<const char *> items, const char *separator = ", ");
// 32 lowercase hex digits, random.
std::string random_hex();
// A random UUID, "xxxxxxxx-xxxx-4xxx-...".
std::string random_uuid();
GBytes *gzip_bytes(GBytes *bytes);

// ---- JSON ----

// Builds the JSON objects the APIs answer with.
class JsonWriter {
 public:
  JsonWriter();
  JsonWriter &add(const char *name, const std::string &value);
  JsonWriter &add(const char *name, gint64 value);
  JsonWriter &add_double(const char *name, double value);
  JsonWriter &add_bool(const char *name, bool value);
  JsonWriter &add_null(const char *name);
  JsonWriter &begin_object(const char *name);
  JsonWriter &end_object();
  JsonWriter &begin_array(const char *name);
  JsonWriter &end_array();
  // Elements of the array being built.
  JsonWriter &add_element(const std::string &value);
  JsonWriter &begin_element_object();
  std::string finish();

 private:
  GObjectPtr<JsonBuilder> builder_;
};

// A request body parsed as a JSON object.
class JsonBody {
 public:
  // False with `error` set ("not valid JSON (...)" / "must be a JSON object").
  bool parse(const std::string &text, std::string *error);
  JsonObject *object() const { return object_; }

 private:
  GObjectPtr<JsonParser> parser_;
  JsonObject *object_ = nullptr;
};

// A member, treating JSON null like an absent member.
JsonNode *member(JsonObject *object, const char *name);
bool holds_string(JsonNode *node);
bool holds_integer(JsonNode *node);
// The type of a JSON value as an API error would name it: "string",
// "integer", "number", "boolean", "object", "array", "null".
std::string json_type_name(JsonNode *node);
// The string `model` of a JSON object body ("" if none), for the submit
// record of a request refused before validation.
std::string model_in(const std::string &body);

// Optional members, for the APIs whose errors are one line of text
// (Segmind, AI/ML API): an absent or null member leaves `value` as it is;
// a bad one gives false and `error` ("n: must be an integer from 1 to 4").
bool parse_string_member(JsonObject *object, const char *name, std::string *value,
                         std::string *error);
bool parse_choice_member(JsonObject *object, const char *name,
                         std::initializer_list<const char *> allowed, std::string *value,
                         std::string *error);
bool parse_integer_member(JsonObject *object, const char *name, gint64 min, gint64 max, int *value,
                          std::string *error);

// ---- Responses ----

// The reason phrase of `status`, 429 included.
const char *status_phrase(guint status);
void respond(SoupServerMessage *msg, guint status, const std::string &json_body);
void respond_bytes(SoupServerMessage *msg, guint status, const char *content_type, GBytes *body);
void respond_empty(SoupServerMessage *msg, guint status);
// A scripted answer (a fault's, a hook's): `status` with `headers` and
// `body`, whole, whatever Range the request asked.
void respond_scripted(SoupServerMessage *msg, guint status, const std::string &body,
                      const std::vector<std::pair<std::string, std::string>> &headers);
std::string request_body(SoupServerMessage *msg);
// The key of x-api-key: KEY (Segmind), if the header is there.
std::optional<std::string> api_key_header(SoupServerMessage *msg);
// The key of Authorization: Bearer KEY (xAI, AI/ML API, reAPI), if any.
std::optional<std::string> bearer_key(SoupServerMessage *msg);

// A request SoupServer must not answer yet (fault delay, image fetch,
// generation of a synchronous answer, connection theft). Destroying it lets
// SoupServer send whatever response was set, so every path answers and none
// can leave a client hanging.
class PausedMessage {
 public:
  explicit PausedMessage(SoupServerMessage *msg);
  ~PausedMessage();
  PausedMessage(const PausedMessage &) = delete;
  PausedMessage &operator=(const PausedMessage &) = delete;

  SoupServerMessage *get() const { return msg_.get(); }
  bool connected() const { return connected_; }
  // Takes the socket away from SoupServer to write a response by hand. Null
  // when the client has already gone.
  GObjectPtr<GIOStream> steal_connection();

 private:
  GObjectPtr<SoupServerMessage> msg_;
  gulong disconnected_handler_ = 0;
  bool connected_ = true;
};
using PausedPtr = std::unique_ptr<PausedMessage>;
// What to do with a paused request once any fault delay has passed.
using Step = std::function<void(PausedPtr)>;

// ---- Input images ----

// One image a submit names.
struct ImageInput {
  enum class Kind { Inline, LoopbackUrl, RemoteUrl };
  Kind kind = Kind::Inline;
  std::string field;  // for messages: "image", "reference_images[2]", ...
  std::string url;    // LoopbackUrl / RemoteUrl
  gint64 inline_bytes = -1;
};

// Which spellings of an image a field accepts.
struct ImageRules {
  bool data_uri = true;    // data:image/<type>;base64,<data>
  bool raw_base64 = true;  // bare base64 text
};

enum class ImageProblem {
  None,
  BadUrl,      // http(s) but no host
  BadDataUri,  // data: but not image/...;base64 (or data: not allowed)
  BadBase64,   // neither a URL nor decodable base64
  NotAllowed,  // a spelling `rules` refuse (bare text where only URLs go)
};

// Classifies `text`; fills `input` (kind, url or inline size).
ImageProblem classify_image(const std::string &text, const ImageRules &rules, ImageInput *input);

struct ImageInputs {
  std::optional<ImageInput> image;  // the first frame / image to edit
  std::vector<ImageInput> references;
};

// What the emulator obtained for each input (-1: none given; 0: a remote URL
// it could not reach).
struct ImageBytes {
  gint64 image = -1;
  std::vector<gint64> references;
};

// ---- Jobs ----

enum class MediaKind { Video, Images };

// How a job ends, fixed when it is created.
enum class Outcome { Complete, Fail, Moderate, Expire };

struct JobSpec {
  std::string id;
  std::string model;
  MediaKind kind = MediaKind::Video;
  std::string prompt;
  FrameSize size{0, 0};
  int duration_s = 0;  // Video
  int count = 1;       // Images
  ImageFormat format = ImageFormat::Png;
  Outcome outcome = Outcome::Complete;
  // xAI extensions and edits: the input video (a file of the emulator's)
  // and its length; the result is the input then duration_s new seconds
  // (extend), or the input restyled (edit).
  std::string input_path;
  double input_seconds = 0;
  bool restyle = false;
  bool audio = true;  // generate_audio
};

// The spec of a video job, before it has an id and an outcome.
JobSpec video_spec(const std::string &model, const std::string &prompt, int duration_s,
                   FrameSize size);

enum class JobStatus { Queued, Processing, Completed, Failed, Moderated, Expired };

bool is_terminal(JobStatus status);

// A job as seen at one instant.
struct JobView {
  JobStatus status = JobStatus::Queued;
  std::string id;
  std::string model;
  MediaKind kind = MediaKind::Video;
  FrameSize size{0, 0};
  int duration_s = 0;
  int count = 1;
  ImageFormat format = ImageFormat::Png;
  std::string error;                     // Failed
  std::vector<std::string> media_paths;  // Completed
  double input_seconds = 0;              // extensions: the input's part of the result
  bool restyle = false;
  gint64 elapsed_ms = 0;  // since the submit
  gint64 created_unix = 0;
};

// One encoded file, once made.
struct MediaFile {
  std::string path;  // "" if encoding failed
  // A video's last_video_sample_digest(), "" for an image: what traces an
  // input video back to the job that made it.
  std::string last_video_sample;
  gint64 made_us = 0;  // monotonic: when it was ready (or failed)
};

struct Job {
  JobSpec spec;
  gint64 submitted_us = 0;  // monotonic
  gint64 created_unix = 0;
  // The encoded files, once ready. Empty when no media is made (an outcome
  // other than Complete).
  std::vector<std::shared_future<MediaFile>> media;
  bool expired = false;  // Emulator::expire()
  int polls = 0;
};

// ---- Profiles ----

// One provider's API: routes, validation, envelopes. Runs on the server
// thread.
class Profile {
 public:
  virtual ~Profile() = default;
  // Answers one API request (directly, or by pausing it through the core).
  virtual void handle(SoupServerMessage *msg, const std::string &method, const char *path,
                      GHashTable *query) = 0;
  // Body of an injected fault's answer when Fault::body is empty: this
  // provider's error envelope for `status`.
  virtual std::string fault_body(guint status) const = 0;
  // The key a request carries, in this provider's header, if any.
  virtual std::optional<std::string> credential(SoupServerMessage *msg) const = 0;
  // Answers a request without the right key, the provider's way (401).
  virtual void refuse_credential(SoupServerMessage *msg) const = 0;
};

class Core;
struct ImageBatch;  // input images being fetched for one submit
std::unique_ptr<Profile> make_segmind_profile(Core &core);
std::unique_ptr<Profile> make_xai_profile(Core &core);
std::unique_ptr<Profile> make_aimlapi_profile(Core &core);
std::unique_ptr<Profile> make_reapi_profile(Core &core);

// The provider-independent emulator: two servers on one thread with its own
// GMainContext, jobs and their media, faults, counters, the CDN.
class Core {
 public:
  // A new job's request id: `base` (random), after options.request_id_prefix.
  std::string request_id(const std::string &base) const { return options.request_id_prefix + base; }
  explicit Core(Options emulator_options);
  ~Core();
  Core(const Core &) = delete;
  Core &operator=(const Core &) = delete;

  // ---- For profiles (server thread) ----

  // Pauses `msg`, waits out any fault delay, answers a fault status with its
  // body (or the profile's envelope), else runs `step`.
  void answer(SoupServerMessage *msg, const std::optional<Fault> &fault, Step step);
  void answer(PausedPtr paused, const std::optional<Fault> &fault, Step step);
  // Runs `step` after `delay_ms`, without blocking the server thread.
  void run_later(unsigned delay_ms, PausedPtr paused, Step step);
  std::optional<Fault> take_fault(Phase phase);

  // Takes a submit: counts and records it (under `model`, or the body's
  // "model" member when not given), answers any Submit fault, checks the key
  // and the rate limit, then runs `step` with the body and the record's
  // index.
  using SubmitStep =
      std::function<void(PausedPtr, const std::string &body, std::size_t record_index)>;
  void receive_submit(SoupServerMessage *msg, const std::string &path,
                      const std::optional<std::string> &model, SubmitStep step);
  // Takes a status poll (Phase::Status) or a result fetch (Phase::Result):
  // counts it, answers any fault, checks the key and the rate limit, then
  // runs `step` to answer it.
  using AnswerStep = std::function<void(SoupServerMessage *)>;
  void receive_poll(SoupServerMessage *msg, Phase phase, AnswerStep step);

  // Obtains the bytes of every input image (fetching loopback URLs
  // asynchronously, all at once), records them on the submit, then calls
  // `done`, or `failed` with the field and reason of the first fetch that
  // failed.
  using ImagesDone = std::function<void(PausedPtr, const ImageBytes &)>;
  using ImagesFailed =
      std::function<void(PausedPtr, const std::string &field, const std::string &reason)>;
  void resolve_images(PausedPtr paused, std::size_t record_index, const ImageInputs &inputs,
                      ImagesDone done, ImagesFailed failed);
  // Obtains the input images as resolve_images() does, then creates the job
  // and answers 200 with the JSON `accepted` makes of it (the job exists by
  // then); `failed` answers a failed fetch instead.
  using AcceptedBody = std::function<std::string(const JobSpec &)>;
  void accept_job(PausedPtr paused, std::size_t record_index, const ImageInputs &inputs,
                  const JobSpec &spec, AcceptedBody accepted, ImagesFailed failed);

  // The outcome `options` ask for a job of `prompt`; moderation and expiry
  // only where the provider has them (xAI).
  Outcome planned_outcome(bool has_moderation_and_expiry, const std::string &prompt) const;
  // Creates a job (counted as accepted, noted on the submit record) and
  // starts making its media.
  void create_job(std::size_t record_index, const JobSpec &spec);
  std::optional<JobView> view_job(const std::string &id) const;
  // How long a job of `kind` generates (Options::image_generation_ms).
  gint64 generation_ms(MediaKind kind) const;
  // Counts a poll of `id` and returns how many it has had, this one included.
  int count_job_poll(const std::string &id);
  // Calls `step` once `id` is in a terminal state (generation_ms after its
  // submit, media made), checking without blocking the server thread.
  using JobStep = std::function<void(PausedPtr, const std::optional<JobView> &)>;
  void when_finished(PausedPtr paused, const std::string &id, JobStep step);

  // CDN URL of media `index` of a job: /videos/<id>.mp4 or
  // /images/<id>-<index>.<ext>.
  std::string media_url(const JobView &view, int index) const;
  // A mapping of a media file (cached), or null.
  GBytes *mapped_file(const std::string &path);

  // ---- For Emulator ----

  const Options options;
  // Set by the server thread before the constructor returns, then constant.
  std::string api_url;
  std::string cdn_url;

  mutable std::mutex mutex;
  Counters counters;
  std::vector<SubmitRecord> submit_records;
  std::vector<std::string> cdn_headers;
  std::vector<std::string> cdn_ranges;                     // of each GET, in order
  std::vector<std::uint64_t> cdn_paced_bytes_at_requests;  // of each GET, in order
  // The shared access link (Options::cdn_link_rate_bytes_per_s): bytes it
  // may carry now, refilled at its rate, and when it was last refilled.
  double link_allowance = 0;
  gint64 link_refilled_us = 0;
  // At most `want` bytes the link lets one of `sharing` bodies send now.
  std::size_t take_from_link(std::size_t want, int sharing);
  int paced_bodies = 0;  // being sent now (write_raw)
  std::vector<Fault> faults;
  // Emulator::hook(), in registration order.
  struct RegisteredHook {
    Route route;
    std::shared_ptr<Hook> hook;  // one closure, whose state lasts between calls
    int seen = 0;                // requests it ran for
  };
  std::vector<RegisteredHook> hooks;
  std::map<std::string, Job> jobs;

  // Every job's times, in submission order.
  std::vector<JobTimes> job_times() const;
  std::vector<gint64> api_request_times() const {
    std::lock_guard<std::mutex> lock(mutex);
    return api_request_us;
  }
  // Files uploaded to xAI's Files API, by id, in `file_order`; guarded by `mutex`.
  std::map<std::string, FileRecord> files;
  std::vector<std::string> file_order;

  // Checks the request's key (answering the profile's 401 when it is wrong),
  // then takes a rate-limit token for it (answering 429 when there is
  // none). True when the request may go on; false once it is answered.
  bool admit(SoupServerMessage *msg);
  // A path for a file of this emulator's (removed with it).
  std::string scratch_path(const std::string &name) const { return media_dir + "/" + name; }
  // The encoded clip of a finished job, "" when unknown or not made.
  std::string finished_clip(const std::string &request_id) const;
  // The latest video job whose result ends with the same H.264 sample as the
  // MP4 at `path` (SubmitRecord::video_from_request_id), "" when none does.
  // Demuxes `path`: blocks.
  std::string video_job_ending_like(const std::string &path) const;

 private:
  void serve();
  bool start_servers(std::string *error);
  void stop_servers();
  void on_api_request(SoupServerMessage *msg, const char *path, GHashTable *query);
  // Counts a submit and records it; returns the record's index.
  std::size_t record_submit(const std::string &path, const std::string &model,
                            const std::string &body);
  void answer_stats(SoupServerMessage *msg);
  // Takes a token from `key`'s bucket; without one, sets `retry_after_s`.
  bool take_token(const std::string &key, unsigned *retry_after_s);
  void on_cdn_request(SoupServerMessage *msg, const char *path);
  // The reply of the first hook whose route `msg` is on, if any.
  std::optional<Reply> run_hook(SoupServerMessage *msg);
  // Keeps `paused` until `gate` opens, then runs `step` (unless the client
  // has gone, or the emulator stops first).
  void hold(PausedPtr paused, const std::shared_ptr<Gate> &gate, Step step);
  void resume_held(guint64 id);
  void serve_media(PausedPtr paused, const std::string &path, bool carries_key,
                   const std::optional<Fault> &fault);
  // Writes the head and `first` bytes of `body` on the raw connection (at
  // most rate_bytes_per_s fast when > 0), then either closes it (trickle_ms
  // 0) or sends the rest a byte at a time.
  void write_raw(PausedPtr paused, guint status, GBytes *body, std::int64_t first,
                 unsigned trickle_ms, std::uint64_t rate_bytes_per_s = 0);
  std::shared_future<MediaFile> media_for(
      const std::string &file_name, MediaKind kind,
      std::function<bool(const std::string &path, std::string *error)> encode);
  void fetch_image(const std::shared_ptr<ImageBatch> &batch, std::size_t slot,
                   const std::string &url);
  void finish_images(const std::shared_ptr<ImageBatch> &batch);
  void remove_media_dir();

  std::string media_dir;
  std::unique_ptr<Profile> profile;

  MainContextPtr context;
  MainLoopPtr loop;
  std::promise<void> ready;
  std::thread server_thread;

  // Only touched on the server thread.
  GObjectPtr<SoupServer> api_server;
  GObjectPtr<SoupServer> cdn_server;
  GObjectPtr<SoupSession> image_session;
  GObjectPtr<GCancellable> shutdown_cancellable;
  std::set<GSource *> pending_timers;  // delays holding paused requests
  // Requests held at a Gate, by a number of their own.
  std::map<guint64, std::pair<PausedPtr, Step>> held_requests;
  guint64 next_held = 0;
  unsigned cdn_port = 0;      // set before the constructor returns
  int pending_async_ops = 0;  // image fetches and raw writes in flight
  std::map<std::string, BytesPtr> mapped_files;
  // Options::rate_limit_per_s: tokens left per key, as of `refilled_us`.
  struct TokenBucket {
    double tokens = 0;
    gint64 refilled_us = 0;
  };
  std::map<std::string, TokenBucket> token_buckets;
  // g_get_monotonic_time() of every API request with the right key, in
  // arrival order (under mutex).
  std::vector<gint64> api_request_us;

  // Guarded by `mutex`, shared with the encoders.
  std::map<std::string, std::shared_future<MediaFile>> media_by_path;
  std::vector<std::thread> encoders;
  std::atomic<bool> stopping{false};
};

}  // namespace grokimagine::emulator
