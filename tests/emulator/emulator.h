// A loopback stand-in for the Grok Imagine providers: a SoupServer that
// speaks each provider's API as documented and serves real H.264/AAC MP4s
// from a second port (the "CDN"), which refuses requests carrying the key.
#pragma once

#include <glib.h>

#include <cstdint>
#include <memory>
#include <string>
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
  // With `status`: a Retry-After header (seconds), as rate limits send.
  std::string retry_after;
  // With `status`: a Location header (a redirect).
  std::string location;
  // Close the connection without answering (a reset), in any phase.
  bool reset = false;
};

struct Options {
  Provider provider = Provider::Segmind;
  std::string api_key = "emulator-key";
  // Time a job spends QUEUED, then PROCESSING until generation_ms have
  // passed since the submit (and the clip is encoded), then COMPLETED.
  unsigned queued_ms = 100;
  unsigned generation_ms = 500;
  // Serve clips with the moov atom after mdat (mp4mux's default) instead of
  // faststart.
  bool moov_at_end = false;
  // Encode noise at 60 Mbit/s: clips of tens of MB (a 2 s 480p clip is over
  // 10 MB, past what qtdemux buffers in push mode without seeking).
  bool bulky = false;
  // The CDN ignores Range requests and always sends the whole file (200).
  bool ignore_range = false;
  // When non-empty, jobs end failed with this detail, in the provider's own
  // way (Segmind: FAILED as HTTP 422; xAI: status failed with error.message;
  // AI/ML API: status error; reAPI: status failed with error {code, message}).
  std::string fail_detail;
  // xAI only: jobs end `done` with video.respect_moderation false and an
  // empty url (a moderation block).
  bool moderate = false;
  // xAI only: jobs end with status `expired`.
  bool expire_jobs = false;
  // 0: pick free ports.
  unsigned api_port = 0;
  unsigned cdn_port = 0;
};

struct Counters {
  int submits_total = 0;     // POSTs received, whatever the answer
  int submits_accepted = 0;  // POSTs that created a job (the billed ones)
  int status_polls = 0;
  int result_fetches = 0;
  int downloads = 0;              // GETs of a video or image on the CDN
  int cdn_requests_with_key = 0;  // CDN requests that carried the API key (refused with 403)
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
  std::string path;        // the request path, e.g. "/v1/videos/generations"
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
  // Make a known request id answer 404 from now on (an expired result).
  void expire(const std::string &request_id);

  Counters counters() const;
  std::vector<SubmitRecord> submits() const;
  // Every request header name/value pair the CDN saw, "Name: value" each.
  std::vector<std::string> cdn_request_headers() const;
  // Path of the MP4 served for a completed request id (empty if unknown or
  // not yet encoded), for byte-for-byte comparisons.
  std::string clip_path(const std::string &request_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grokimagine::emulator
