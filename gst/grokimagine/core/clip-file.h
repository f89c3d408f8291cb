// SPDX-License-Identifier: LGPL-2.1-or-later
// The file a clip is downloaded to: written at any offset as parts arrive,
// read back by the pipeline and the journal, anonymous until complete
// wherever the filesystem allows (a killed process leaves nothing), then
// given its name at `location` at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "error.h"

namespace grokimagine {

// Why a clip cannot take the name `path`: something there that is not a
// regular file (a device such as /dev/null, a FIFO, a socket), which the
// rename would replace. None when nothing is there or a regular file (or a
// link to one) is.
std::optional<std::string> not_replaceable(const std::string &path);

class ClipFile {
 public:
  ClipFile() = default;
  ~ClipFile();  // closes; a named temporary is removed
  ClipFile(const ClipFile &) = delete;
  ClipFile &operator=(const ClipFile &) = delete;

  // A new, empty file. With a non-empty `keep_path` it is created beside it
  // (O_TMPFILE, else a locked `.<name>.XXXXXX.part`, removing those dead
  // processes left) and publish() names it; otherwise it is an anonymous
  // temporary file in $TMPDIR.
  std::optional<Error> create(const std::string &keep_path, const char *log_id);
  // A complete clip already on disk (the journal's cache), read-only.
  std::optional<Error> open_existing(const std::string &path, std::uint64_t *size);

  // Any thread.
  std::optional<Error> write(std::uint64_t offset, const void *data, std::size_t size);
  std::int64_t read(std::uint64_t offset, void *dest, std::size_t size) const;

  // The complete file takes its name at keep_path, replacing what was there
  // (rename); nothing to do without one. The reason on failure.
  std::optional<Error> publish();
  // A failed download: `location` never holds a partial clip.
  void discard();
  const std::string &keep_path() const { return keep_path_; }

 private:
  int fd_ = -1;
  std::string keep_path_;
  // Only with keep_path: the named temporary while it exists (always, where
  // O_TMPFILE is unsupported; between link and rename otherwise).
  std::string temp_path_;
  bool unnamed_ = false;  // an O_TMPFILE file, linked in by publish()
};

}  // namespace grokimagine
