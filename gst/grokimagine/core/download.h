// Fetches the generated MP4 onto disk on the I/O thread while readers take
// byte ranges from it as they arrive. The file makes the clip seekable and
// sized for qtdemux whatever the CDN does with Range (a moov at the end still
// plays), keeps memory flat in the clip's size, and is the `location` copy.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "error.h"
#include "http.h"

namespace grokimagine {

class Download {
 public:
  // Starts fetching `url` (never with the API key). With a non-empty
  // `keep_path` the file is written beside it and renamed to it only once
  // complete; otherwise it is an anonymous temporary file. A body that is
  // not an MP4 (an error page), or larger than a non-zero `max_bytes`, fails.
  static std::unique_ptr<Download> start(const std::string &url, const std::string &keep_path,
                                         std::uint64_t max_bytes, Error *error);
  // The same for the answer to any request, e.g. a synchronous API whose
  // answer is the clip. Only a GET is ever repeated (resumed); an HTTP error
  // status fails at once, keeping the body for the caller (error_body()).
  static std::unique_ptr<Download> start(const HttpRequest &request, const std::string &keep_path,
                                         std::uint64_t max_bytes, Error *error);
  ~Download();  // cancels; a partial `keep_path` file is removed
  Download(const Download &) = delete;
  Download &operator=(const Download &) = delete;

  enum class Wait { Ready, End, Failed, Cancelled };
  // Blocks until bytes [0, end) are on disk (Ready), the clip ended before
  // `end` (End), the download failed, or `cancellable` fired.
  Wait wait_for(std::uint64_t end, GCancellable *cancellable);
  // Reads bytes already on disk; returns how many, or -1.
  std::int64_t read(std::uint64_t offset, void *dest, std::size_t size) const;

  // The clip's size once the server said it.
  std::optional<std::uint64_t> size() const;
  std::uint64_t downloaded() const;
  Error error() const;
  std::string error_body() const;

  struct State;

 private:
  explicit Download(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace grokimagine
