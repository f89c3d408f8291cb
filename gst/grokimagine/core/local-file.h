// SPDX-License-Identifier: LGPL-2.1-or-later
// Local files the plugin and its tool read (prices, journal entries, images
// and videos to send): only regular files, opened without waiting and read
// with a bound. A FIFO would block the read for ever, a device never end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "error.h"

namespace grokimagine {

enum class Symlinks { Follow, Refuse };

// An open descriptor on `path` if it is a regular file (or, with
// Symlinks::Follow, a symlink to one); otherwise an Io error saying why in
// a few plain words, for the caller to name the file and its use.
Result<int> open_regular_file(const std::string &path, Symlinks symlinks);

// The whole file, if it is a regular file of at most `max_bytes`; else an
// Io error saying why, as open_regular_file.
Result<std::string> read_regular_file(const std::string &path, std::uint64_t max_bytes,
                                      Symlinks symlinks);

}  // namespace grokimagine
