// SPDX-License-Identifier: LGPL-2.1-or-later
// Local files the plugin and its tool read (prices, journal entries, images
// and videos to send): only regular files, opened without waiting and read
// with a bound. A FIFO would block the read for ever, a device never end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace grokimagine {

enum class Symlinks { Follow, Refuse };

// An open descriptor on `path` if it is a regular file (or, with
// Symlinks::Follow, a symlink to one); -1 and `why` otherwise.
int open_regular_file(const std::string &path, Symlinks symlinks, std::string *why);

// The whole file, if it is a regular file of at most `max_bytes`; why not
// in `why`.
std::optional<std::string> read_regular_file(const std::string &path, std::uint64_t max_bytes,
                                             Symlinks symlinks, std::string *why);

}  // namespace grokimagine
