// SPDX-License-Identifier: LGPL-2.1-or-later
// A loopback stand-in for the Grok Imagine providers: a SoupServer that
// speaks each provider's API as documented and serves real H.264/AAC MP4s
// from a second port (the "CDN"), which refuses requests carrying the key.
//
// Test hook: besides the provider's routes, the API port answers
// GET /emulator/stats (no key needed) with the counters and job times as
// JSON, for a client in another process (a benchmark driving the
// grokimagine-emulator program):
//   {"submits_total", "submits_accepted", "status_polls", "result_fetches",
//    "downloads", "cdn_requests_with_key", "rate_limited",
//    "jobs": [{"request_id", "submitted_us", "completed_us"}, ...]}
// (the numbers are Counters and job_times()). No real provider has this
// route. It counts in no counter, takes no rate-limit token and is subject
// to no fault.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace grokimagine::emulator {

// Which provider's API the emulator speaks (one per instance).
enum class Provider { Segmind, Xai, Aimlapi, Reapi };

// Where a scripted fault strikes.
enum class Phase {
  Submit,    // the POST that creates a job (or, for sync APIs, does it)
  Status,    // the GET that polls a job
  Result,    // Segmind's GET /v2/requests/{id}
  Download,  // GET of a video or image on the CDN port
};

struct Fault {
  Phase phase = Phase::Submit;
  // HTTP status to answer with instead of the normal response; 0 keeps the
  // normal status (useful with delay_ms or truncate_at alone).
  int status = 0;
  // Body sent with `status` (e.g. malformed JSON, a provider error envelope).
  // Empty: the profile's own error envelope fitting the status.
  std::string body;
  // Wait this long before answering.
  unsigned delay_ms = 0;
  // Download only: announce the full Content-Length, send this many bytes of
  // the clip, then close the connection.
  std::int64_t truncate_at = -1;
  // How many matching requests it applies to; -1 means every one.
  int times = 1;
  // Close the connection without answering (a reset), in any phase.
  bool reset = false;
  // Download only: the file is cut at this offset of the file (not of the
  // body): the head still announces the whole clip (Content-Length, or
  // Content-Range for a Range request), bytes from this offset on are never
  // sent, then the connection closes. A resume from the cut gets no bytes:
  // a body forever shorter than its Content-Length.
  std::int64_t cut_file_at = -1;
  // Download only: after the head and the first `truncate_at` bytes (none
  // when -1), send the rest of the body one byte every this many ms (a CDN
  // that trickles). Emulator shutdown waits up to one interval for it.
  unsigned trickle_ms = 0;
};

// ---- Hooks ----
//
// A test's own answer for one route, instead of a new Fault field for each
// one-off: Emulator::hook(route, closure). The closure runs where faults
// strike: after the emulator has counted and recorded the request (Counters,
// submits(), cdn_ranges() see it as usual) and after the CDN's latency
// (Options::cdn_delay_ms), before the key check, the rate limit, any Fault
// and the answer. It decides with a Reply: answer itself, wait a delay, be
// held at a Gate until the test opens it, then answer or let the emulator's
// own handling go on (a Fault that matched the request is used up either
// way). Hooks cover what faults do: submits, status polls, result fetches
// and every CDN request (not the Files API nor /emulator/stats).
//
// Threads: the closure runs on the emulator's server thread, one request at
// a time, and is the same object each time (a `mutable` lambda may keep
// counts of its own); it must not block (hold at a Gate instead), and what
// it shares with the test must be safe across threads (std::atomic). A held or
// delayed request is a paused message: the server goes on serving its
// other connections meanwhile.

enum class Port { Api, Cdn };

// Which requests a hook sees.
struct Route {
  Port port = Port::Api;
  std::string method;       // "GET", "POST", ...; empty: any
  std::string path_prefix;  // the path begins with this; empty: any
  // The CDN's video GETs (/videos/<id>.mp4): the media bodies.
  static Route cdn_media() { return {Port::Cdn, "GET", "/videos/"}; }
};

// A request as its hook sees it.
struct HookRequest {
  std::string method;
  std::string path;
  std::string range;  // its Range header, "" when none
  int seen = 0;       // requests this hook saw before this one
};

// Holds requests until the test opens it; shared by the test and the
// emulator (std::make_shared<Gate>()), used from any thread. A gate the
// test never opens holds its requests until the client gives up (a server
// that never answers) or the emulator stops.
class Gate {
 public:
  // Lets every request held here go on, and any later one pass.
  void open();
  bool is_open() const;
  // Requests held here now.
  int held() const;
  // For the emulator: keeps `resume` to be called (on the thread calling
  // open()) when the gate opens; false, keeping nothing, when it is open.
  bool hold(std::function<void()> resume);

 private:
  mutable std::mutex mutex_;
  bool open_ = false;
  std::vector<std::function<void()>> held_;
};

// What a hook does with one request.
struct Reply {
  // The emulator's own handling (faults included) goes on.
  static Reply go_on() { return {}; }
  // The hook answers: `status`, whole (whatever Range asked), with `body`;
  // an empty body is the provider's error envelope for `status`.
  static Reply answer(int status, std::string body = {}) {
    Reply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
  }
  // A header of the hook's answer (Location, Retry-After, ...).
  Reply &header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // Wait this long first (after the gate, if any).
  Reply &after_ms(unsigned ms) {
    delay_ms = ms;
    return *this;
  }
  // Wait for `held_at` to open first.
  Reply &held_by(std::shared_ptr<Gate> held_at) {
    gate = std::move(held_at);
    return *this;
  }

  int status = 0;  // 0: go on
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  unsigned delay_ms = 0;
  std::shared_ptr<Gate> gate;
};

using Hook = std::function<Reply(const HookRequest &)>;

struct Options {
  Provider provider = Provider::Segmind;
  std::string api_key = "emulator-key";
  // Time a job spends QUEUED, then PROCESSING until generation_ms have
  // passed since the submit (and the clip is encoded), then COMPLETED.
  unsigned queued_ms = 100;
  unsigned generation_ms = 500;
  // When > 0: image jobs take this long instead (an image model answers in
  // seconds where a video takes minutes).
  unsigned image_generation_ms = 0;
  // Serve clips with the moov atom after mdat (mp4mux's default) instead of
  // faststart.
  bool moov_at_end = false;
  // Encode noise at 60 Mbit/s: clips of tens of MB (a 2 s 480p clip is over
  // 10 MB, past what qtdemux buffers in push mode without seeking).
  bool bulky = false;
  // When > 0: encode each clip as noise at the bitrate that makes the file
  // about this many bytes (within +-25%; measured within 5% for 15 s
  // clips), at the duration the job asked for (overrides `bulky`). Noise
  // cannot be packed denser than about 40 bytes per pixel per second of clip
  // (near-lossless H.264), which caps what a clip can reach: about 16 MB per
  // second at 480p (848x480), 36 MB/s at 720p (1280x720), 82 MB/s at 1080p
  // (1920x1080), i.e. ~1.2 GB for a 15 s 1080p clip; a larger target comes
  // out at that cap. Below ~70 kB per second the AAC track (16 kB/s) leaves
  // too little for the video and the file falls short. Encoding a 15 s
  // 1080p clip takes 7-11 s on two cores, from 10 MB to 500 MB; equal clips
  // (same size, duration, prompt, options) are encoded once and shared.
  std::int64_t clip_bytes = 0;
  // The CDN ignores Range requests and always sends the whole file (200).
  bool ignore_range = false;
  // The CDN answers Range requests without the file's length
  // ("Content-Range: bytes 0-1023/*", which RFC 9110 allows when the length
  // is unknown, e.g. a file still being written).
  bool cdn_unknown_total = false;
  // A CDN that lies about the bytes it sends (RFC 9110 says otherwise):
  // compresses media (Content-Encoding: gzip, the compressed length as
  // Content-Length) when the request offers gzip, or whatever it offers;
  // or answers a later part of a ranged download (a Range not from byte 0)
  // with a 206 without Content-Range, a 200 carrying only that part (with
  // its length, or chunked without one), or a Content-Range whose total is
  // not the file's size.
  enum class CdnLie {
    None,
    GzipWhenOffered,
    GzipAlways,
    NoContentRange,
    PartAs200,
    PartAs200Unsized,
    WrongTotal
  };
  CdnLie cdn_lie = CdnLie::None;
  // Link shaping of the CDN, to model a real one tens of milliseconds away
  // that caps each connection's throughput. cdn_delay_ms: every CDN answer
  // (its head and body) waits this long after the request arrived.
  // cdn_rate_bytes_per_s (> 0): each body is sent at most this fast. A
  // shaped answer closes its connection when done ("Connection: close"), so
  // the cap is per request and per connection at once: parallel requests
  // each get the full rate, as from a CDN with no shared bottleneck.
  unsigned cdn_delay_ms = 0;
  std::uint64_t cdn_rate_bytes_per_s = 0;
  // cdn_link_rate_bytes_per_s (> 0): the CDN sits behind one access link of
  // this rate that every body shares (each gets a fair share of it), as
  // most users do: more connections then do not raise the total. With
  // cdn_rate_bytes_per_s as well, both caps apply.
  std::uint64_t cdn_link_rate_bytes_per_s = 0;
  // When non-empty, jobs end failed with this detail, in the provider's own
  // way (Segmind: FAILED as HTTP 422; xAI: status failed with error.message;
  // AI/ML API: status error; reAPI: status failed with error {code, message}).
  std::string fail_detail;
  // xAI only: jobs end `done` with video.respect_moderation false and an
  // empty url (a moderation block).
  bool moderate = false;
  // xAI only: jobs whose prompt contains this (when non-empty) end so.
  std::string moderate_prompts_with;
  // xAI only: jobs end with status `expired`.
  bool expire_jobs = false;
  // xAI only: the cost a finished job reports (usage.cost_in_usd_ticks) is
  // this many times the published price: a bill above the price table.
  double cost_scale = 1.0;
  // When > 0: requests per second each API key may make on the API port
  // (never the CDN), as a token bucket per key value holding up to this many
  // tokens, refilled at this many per second. Every authenticated request
  // (submit, status poll, result fetch, image request) takes a token; one
  // finding none is answered 429 with Retry-After (whole seconds until the
  // next token, at least 1) and the profile's error envelope, and takes
  // none. The key is checked first: a wrong key still gets its 401.
  unsigned rate_limit_per_s = 0;
  // Every job's request id begins with this: a hostile API answering ids
  // that would steer a command line (`a" ! filesink location=...`).
  std::string request_id_prefix;
  // 0: pick free ports.
  unsigned api_port = 0;
  unsigned cdn_port = 0;
};

struct Counters {
  int submits_total = 0;     // POSTs received, whatever the answer
  int submits_accepted = 0;  // POSTs that created a job (the billed ones)
  int status_polls = 0;
  int result_fetches = 0;
  int downloads = 0;  // GETs of a video or image on the CDN
  // The most CDN bodies sent at the same time, counting paced bodies only
  // (Options::cdn_rate_bytes_per_s, or a truncate/cut/trickle fault): how
  // many connections a client downloads over at once.
  int cdn_peak_paced_bodies = 0;
  // Body bytes of paced answers written so far.
  std::uint64_t cdn_paced_bytes = 0;
  int cdn_requests_with_key = 0;  // CDN requests that carried the API key (refused with 403)
  // API requests answered 429 by Options::rate_limit_per_s (they count in
  // the counters above as well: a limited submit in submits_total only).
  int rate_limited = 0;
  // xAI's Files API: files uploaded (POST /v1/files) and deleted.
  int uploads = 0;
  int file_deletes = 0;
};

// A file uploaded to xAI's Files API.
struct FileRecord {
  std::string id;
  std::int64_t bytes = 0;
  std::string content_type;  // of the multipart "file" part
  bool deleted = false;
  std::string path;  // where the emulator keeps it
};

// When a job was submitted and when it finished, as g_get_monotonic_time()
// values: CLOCK_MONOTONIC, so a process on the same machine can compare
// them with its own clock.
struct JobTimes {
  std::string request_id;
  gint64 submitted_us = 0;
  // When the job's status would first read terminal: for a job that
  // completes, the moment both generation_ms had passed and its media was
  // encoded; for one that ends otherwise (fail_detail, moderate,
  // expire_jobs), when generation_ms had passed. 0 while not finished.
  gint64 completed_us = 0;
};

struct SubmitRecord {
  std::string model;
  std::string request_id;  // empty when the submit was refused
  std::string body;        // the JSON body as received
  // Bytes of the input image the emulator obtained: decoded from base64 /
  // data: URI, or fetched from an http:// loopback URL. -1: no image field.
  std::int64_t image_bytes = -1;
  // The same for each reference image, in order.
  std::vector<std::int64_t> reference_image_bytes;
  std::string path;  // the request path, e.g. "/v1/videos/generations"
  // xAI extensions and edits: how the input video came ("url" (http),
  // "data" (data: URI), "file_id", "" when none) and its length in seconds.
  std::string video_source;
  double video_seconds = -1;
  // xAI extensions and edits: the request id of the emulator's video job
  // whose result's last H.264 sample (as qtdemux outputs it) is
  // byte-identical to the input video's, i.e. the input is that result or a
  // remux of its samples (a tail cut at a keyframe included). Several jobs
  // sharing one clip (equal specs): the latest submitted. "" when no result
  // matches or there is no input video.
  std::string video_from_request_id;
  // xAI generations: the keyframes given ({image, timestamp_s}), -1: none.
  int keyframes = -1;
  // xAI: generate_audio as sent (true when absent).
  bool generate_audio = true;
  gint64 received_us = 0;  // g_get_monotonic_time() when it arrived
};

// Output frame size for a resolution ("480p", "720p", "1080p") and aspect
// ratio ("16:9", ...): the short side is the resolution, the long side the
// short side times the ratio, rounded down to a multiple of 16.
// 480p 16:9 -> 848x480, 9:16 -> 480x848, 1:1 -> 480x480, 4:3 -> 640x480.
struct FrameSize {
  int width;
  int height;
};
FrameSize frame_size(const std::string &resolution, const std::string &aspect_ratio);

// Generated image size: the long side is 1024 ("1k") or 2048 ("2k"), the
// short side the long side divided by the ratio ("16:9", "9:19.5", ...),
// rounded down to a multiple of 16. "1:1" 1k -> 1024x1024.
FrameSize image_size(const std::string &resolution, const std::string &aspect_ratio);

class Emulator {
 public:
  explicit Emulator(Options options = {});
  ~Emulator();
  Emulator(const Emulator &) = delete;
  Emulator &operator=(const Emulator &) = delete;

  // "http://127.0.0.1:PORT" of the API and of the CDN.
  std::string api_url() const;
  std::string cdn_url() const;
  const Options &options() const;

  void add_fault(const Fault &fault);
  // Runs `hook` for each request on `route` (see Hooks above); the first
  // hook registered whose route matches is the one that runs.
  void hook(Route route, Hook hook);
  // Make a known request id answer 404 from now on (an expired result).
  void expire(const std::string &request_id);

  Counters counters() const;
  std::vector<SubmitRecord> submits() const;
  // Every request header name/value pair the CDN saw, "Name: value" each.
  std::vector<std::string> cdn_request_headers() const;
  // The Range header of each GET the CDN received, in arrival order ("" for
  // a GET without one).
  std::vector<std::string> cdn_ranges() const;
  // For each GET the CDN received, in arrival order: Counters::
  // cdn_paced_bytes when it arrived (what the link had carried before it).
  std::vector<std::uint64_t> cdn_paced_bytes_at_requests() const;
  // Path of the MP4 served for a completed request id (empty if unknown or
  // not yet encoded), for byte-for-byte comparisons.
  std::string clip_path(const std::string &request_id) const;
  // Every accepted job, in submission order.
  std::vector<JobTimes> job_times() const;
  // When each API request with the right key arrived (submits, polls,
  // results, files; limited ones too), as g_get_monotonic_time() values.
  std::vector<gint64> api_request_times() const;
  // Every file uploaded to the Files API (xAI), in upload order.
  std::vector<FileRecord> files() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grokimagine::emulator
