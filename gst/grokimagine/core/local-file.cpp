// SPDX-License-Identifier: LGPL-2.1-or-later
#include "local-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace grokimagine {

Result<int> open_regular_file(const std::string &path, Symlinks symlinks) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
  const int flags =
      O_RDONLY | O_CLOEXEC | O_NONBLOCK | (symlinks == Symlinks::Refuse ? O_NOFOLLOW : 0);
  const int fd = open(path.c_str(), flags);
  if (fd < 0) return Error::io(errno == ELOOP ? "it is a symbolic link" : g_strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return Error::io("not a regular file");
  }
  // Regular files never block; reads go on as usual.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<std::string> read_regular_file(const std::string &path, std::uint64_t max_bytes,
                                      Symlinks symlinks) {
  const auto opened = open_regular_file(path, symlinks);
  if (!opened.ok()) return opened.error();
  const int fd = *opened;
  std::string why;
  std::string contents;
  char buffer[64 * 1024];
  while (true) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      why = g_strerror(errno);
      break;
    }
    if (got == 0) {
      close(fd);
      return contents;
    }
    // The size is checked on what is read: the file may grow meanwhile.
    if (contents.size() + std::uint64_t(got) > max_bytes) {
      constexpr std::uint64_t kMiB = 1024 * 1024;
      why = "larger than " + (max_bytes % kMiB == 0 ? std::to_string(max_bytes / kMiB) + " MiB"
                                                    : std::to_string(max_bytes) + " bytes");
      break;
    }
    contents.append(buffer, std::size_t(got));
  }
  close(fd);
  return Error::io(why);
}

}  // namespace grokimagine
