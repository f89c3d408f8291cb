// SPDX-License-Identifier: LGPL-2.1-or-later
// What a download has brought so far, as readers wait on it: which byte
// ranges are on disk (parts arrive out of order when several connections
// fetch the clip), the size once known, and how it ended.
#pragma once

#include <gio/gio.h>

#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "error.h"

namespace grokimagine {

// A set of byte ranges [begin, end), kept merged. Not thread-safe.
class ByteRanges {
 public:
  void add(std::uint64_t begin, std::uint64_t end);
  void remove(std::uint64_t begin, std::uint64_t end);
  // Whether every byte of [begin, end) is in the set (true when empty).
  bool covers(std::uint64_t begin, std::uint64_t end) const;
  // The end of the run of bytes in the set that starts at `offset`
  // (`offset` itself when that byte is not in the set).
  std::uint64_t run_end(std::uint64_t offset) const;
  // The first range not in the set at or after `from`, below `limit`:
  // [begin, end), or nothing.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> first_gap(std::uint64_t from,
                                                                   std::uint64_t limit) const;
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;  // begin -> end
  std::uint64_t bytes_ = 0;
};

class DownloadProgress {
 public:
  enum class Wait { Ready, End, Failed, Cancelled };

  // Readers, any thread. Blocks until bytes [begin, end) are on disk, or
  // [begin, size) once the size is known (Ready); until the download is
  // complete and the clip ends at or before `begin` (End); the download failed; or `cancellable`
  // fired. Records `begin` as where the readers are (wanted()).
  Wait wait_for(std::uint64_t begin, std::uint64_t end, GCancellable *cancellable);
  // How many bytes from `offset` on are on disk without a gap.
  std::uint64_t available_from(std::uint64_t offset) const;
  std::uint64_t received() const;
  std::optional<std::uint64_t> size() const;
  bool finished() const;
  // Where the readers last waited: the download fetches from there first.
  std::uint64_t wanted() const;
  Error error() const;
  std::string error_body() const;

  // The writer (the I/O thread).
  void set_size(std::uint64_t size);
  void add(std::uint64_t offset, std::uint64_t size);
  void mark_finished();  // the size is what was received
  void mark_failed(Error error, std::string body = {});

  // Runs `callback` once the download is complete: on the writer's thread,
  // before readers see the end (so a message it posts comes before their
  // EOS), or at once when it already is; never when it fails. For what must
  // not wait for a reader, which a sink may hold back (prerolled in PAUSED).
  void on_finished(std::function<void()> callback);

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  ByteRanges on_disk_;
  std::optional<std::uint64_t> size_;
  std::uint64_t wanted_ = 0;
  bool finished_ = false;
  bool failed_ = false;
  Error error_;
  std::string error_body_;  // what came with an HTTP error status
  std::function<void()> finished_callback_;
};

}  // namespace grokimagine
