// A loopback stand-in for the Grok Imagine providers: a SoupServer that
// speaks each provider's API as documented and serves real H.264/AAC MP4s
// from a second port (the "CDN"), which refuses requests carrying the key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace grokimagine::emulator {

// Where a scripted fault strikes.
enum class Phase {
  Submit,    // POST /v2/{model}
  Status,    // GET /v2/requests/{id}/status
  Result,    // GET /v2/requests/{id}
  Download,  // GET of the MP4 on the CDN port
};

struct Fault {
  Phase phase = Phase::Submit;
  // HTTP status to answer with instead of the normal response; 0 keeps the
  // normal status (useful with delay_ms or truncate_at alone).
  int status = 0;
  // Body sent with `status` (e.g. malformed JSON, a provider error envelope).
  // Empty: a JSON error envelope {"error": "..."} fitting the status.
  std::string body;
  // Wait this long before answering.
  unsigned delay_ms = 0;
  // Download only: announce the full Content-Length, send this many bytes of
  // the clip, then close the connection.
  std::int64_t truncate_at = -1;
  // How many matching requests it applies to; -1 means every one.
  int times = 1;
};

struct Options {
  std::string api_key = "emulator-key";
  // Time a job spends QUEUED, then PROCESSING until generation_ms have
  // passed since the submit (and the clip is encoded), then COMPLETED.
  unsigned queued_ms = 100;
  unsigned generation_ms = 500;
  // Serve clips with the moov atom after mdat (mp4mux's default) instead of
  // faststart.
  bool moov_at_end = false;
  // When non-empty, jobs end FAILED (HTTP 422) with this detail.
  std::string fail_detail;
  // 0: pick free ports.
  unsigned api_port = 0;
  unsigned cdn_port = 0;
};

struct Counters {
  int submits_total = 0;     // POSTs received, whatever the answer
  int submits_accepted = 0;  // POSTs that created a job (the billed ones)
  int status_polls = 0;
  int result_fetches = 0;
  int downloads = 0;              // GETs of an MP4 on the CDN
  int cdn_requests_with_key = 0;  // CDN requests that carried the API key (refused with 403)
};

struct SubmitRecord {
  std::string model;
  std::string request_id;  // empty when the submit was refused
  std::string body;        // the JSON body as received
  // Bytes of the input image the emulator obtained: decoded from base64 /
  // data: URI, or fetched from an http:// loopback URL. -1: no image field.
  std::int64_t image_bytes = -1;
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
