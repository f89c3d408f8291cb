// SPDX-License-Identifier: LGPL-2.1-or-later
// Fetches the generated MP4 onto disk on the I/O thread while readers take
// byte ranges from it as they arrive. The file (ClipFile) makes the clip
// seekable and sized for qtdemux whatever the CDN does with Range (a moov at
// the end still plays), keeps memory flat in the clip's size, and is the
// `location` copy; DownloadProgress is what readers wait on; the HTTP body
// loop is http.h's read_body().
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "download-progress.h"
#include "error.h"
#include "http.h"
#include "retry.h"

namespace grokimagine {

class Download {
 public:
  // A GET of a media URL: follows redirects (CDNs do), never carries the key.
  static HttpRequest media_get(const std::string &url, const std::string &log_id = {});

  // Starts fetching the answer to `request`: a media_get(), or a synchronous
  // API call whose answer is the clip. With a non-empty `keep_path` the file
  // is written beside it (anonymous where the filesystem allows, so that a
  // killed process leaves nothing) and appears there only once complete, with
  // mode 0666 & ~umask; otherwise it is an anonymous temporary file. A body
  // that is not an MP4 (an error page), or larger than a non-zero
  // `max_bytes`, fails.
  //
  // `policy` bounds it. Only a GET is ever repeated, resumed with Range; a
  // POST is sent once (it is a paid submit) and an HTTP error status to it
  // fails at once, keeping the body for the caller (error_body()). A GET is
  // retried on 429/5xx, transport errors, cut bodies and stalls, until
  // policy.max_attempts() attempts in a row brought no progress: no new
  // bytes beyond what was already on disk (bytes a server resends because it
  // ignored Range are not progress, nor are those of a stalled attempt).
  // Stall rule: an attempt that receives fewer than 1 KiB/s over a window of
  // request-timeout seconds is cut (for a GET the window starts when it is
  // sent, for a POST when its answer starts: the generation before it is
  // bounded by the policy's deadline only). A download with a deadline
  // (the synchronous API's: the job's `timeout`) fails at it.
  //
  // A GET asks for the whole clip as one open-ended Range, so that the
  // bytes the decoder waits for have the whole link: when the first bytes
  // show the moov after the mdat, the tail with the moov comes at once on
  // one more connection. Once the first video frame's bytes are here (the
  // moov's tables tell where), and where the CDN takes Range, more
  // connections (3 at once, then three per connection) each take the back
  // half of the longest part left, kept only as far as they raise the
  // total rate (Widening), up to `connections`; a part a round trip from
  // its end has its follower asked for then, so that no connection waits a
  // round trip between parts; a reader that seeks far ahead gets a part of
  // its own.
  // Each part follows the rules above on its own. A CDN that ignores Range
  // gets one request, read in order.
  static Result<std::unique_ptr<Download>> start(const HttpRequest &request,
                                                 const std::string &keep_path,
                                                 std::uint64_t max_bytes, const RetryPolicy &policy,
                                                 unsigned connections = kDefaultConnections);
  // Chosen by measurement (docs/benchmarks.md).
  static constexpr unsigned kDefaultConnections = 4;
  // More gains nothing a CDN would allow one client (the connections sweep).
  static constexpr unsigned kMaxConnections = 16;
  // The `connections` property's refusal, when out of 1..kMaxConnections.
  static std::optional<Error> check_connections(unsigned connections);
  // A clip already on disk (the journal's cache), served as a finished
  // download: no network at all.
  static Result<std::unique_ptr<Download>> open_file(const std::string &path);
  ~Download();  // cancels; a partial `keep_path` file is removed
  Download(const Download &) = delete;
  Download &operator=(const Download &) = delete;

  using Wait = DownloadProgress::Wait;
  // Blocks until bytes [begin, end) are on disk, or [begin, size) once the
  // size is known (Ready); the download is complete and the clip ends at or
  // before `begin` (End); the
  // download failed; or `cancellable` fired. Parts arrive out of order:
  // `begin` need not be 0 (qtdemux seeks to a moov at the end), and it
  // tells the download which bytes to fetch first.
  Wait wait_for(std::uint64_t begin, std::uint64_t end, GCancellable *cancellable);
  Wait wait_for(std::uint64_t end, GCancellable *cancellable) {
    return wait_for(0, end, cancellable);
  }
  // How many bytes from `offset` on are on disk without a gap.
  std::uint64_t available_from(std::uint64_t offset) const;
  // Reads bytes already on disk; returns how many, or -1.
  std::int64_t read(std::uint64_t offset, void *dest, std::size_t size) const;

  // The clip's size once the server said it.
  std::optional<std::uint64_t> size() const;
  std::uint64_t downloaded() const;  // bytes on disk, wherever they are
  bool finished() const;             // complete (and at `location`)
  // See DownloadProgress::on_finished.
  void on_finished(std::function<void()> callback);
  Error error() const;
  std::string error_body() const;

  struct State;

 private:
  explicit Download(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace grokimagine
