// SPDX-License-Identifier: LGPL-2.1-or-later
#include "clip-file.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local-file.h"
#include "log.h"

namespace grokimagine {

namespace {

// A `.part` file nobody holds a lock on is left over by a dead process,
// unless it was created a moment ago and is not locked yet.
constexpr gint64 kStalePartAgeS = 60;

// ".clip.mp4." and ".part": the names of `location` temporaries.
std::string part_prefix(const std::string &base) {
  return "." + base + ".";
}
constexpr const char *kPartSuffix = ".part";

// Removes `.<base>.*.part` files beside `keep_path` that a killed process
// left (where O_TMPFILE is not available, or killed between naming the
// file and renaming it). Ours hold an flock while they live.
void remove_stale_parts(const std::string &dir, const std::string &base, const char *log_id) {
  g_autoptr(GDir) listing = g_dir_open(dir.c_str(), 0, nullptr);
  if (!listing) return;
  const std::string prefix = part_prefix(base);
  while (const char *name = g_dir_read_name(listing)) {
    if (!g_str_has_prefix(name, prefix.c_str()) || !g_str_has_suffix(name, kPartSuffix)) continue;
    g_autofree gchar *path = g_build_filename(dir.c_str(), name, nullptr);
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat info;
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
        time(nullptr) - info.st_mtime > kStalePartAgeS && flock(fd, LOCK_EX | LOCK_NB) == 0) {
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id, "removing %s, left by a dead process",
                      name);
      g_unlink(path);
    }
    close(fd);  // drops the lock too
  }
}

// An unnamed file in `dir` (O_TMPFILE): nothing to clean up after a kill.
// -1 with errno when the filesystem cannot (EOPNOTSUPP, EISDIR, EINVAL).
int open_unnamed(const std::string &dir) {
#ifdef O_TMPFILE
  // 0666: the umask makes it what filesink would create.
  return open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
#else
  errno = EOPNOTSUPP;
  return -1;
#endif
}

bool unnamed_unsupported(int error) {
  return error == EOPNOTSUPP || error == EISDIR || error == EINVAL;
}

}  // namespace

ClipFile::~ClipFile() {
  if (fd_ >= 0) close(fd_);
  if (!temp_path_.empty()) g_unlink(temp_path_.c_str());
}

std::optional<Error> ClipFile::create(const std::string &keep, const char *log_id) {
  const char *tmp_dir = g_get_tmp_dir();
  if (keep.empty()) {
    fd_ = open_unnamed(tmp_dir);
    if (fd_ >= 0) return std::nullopt;
    g_autoptr(GError) gerror = nullptr;
    g_autofree gchar *path = nullptr;
    fd_ = g_file_open_tmp("grokimagine-XXXXXX.mp4", &path, &gerror);
    if (fd_ < 0)
      return Error::io(std::string("cannot create a temporary file: ") + gerror->message);
    // Anonymous: the clip goes away with us.
    g_unlink(path);
    return std::nullopt;
  }
  keep_path_ = keep;
  g_autofree gchar *dir = g_path_get_dirname(keep.c_str());
  g_autofree gchar *base = g_path_get_basename(keep.c_str());
  auto cannot_write = [&](int code) {
    return Error::io("Property 'location': cannot write beside '" + keep +
                     "': " + g_strerror(code));
  };
  remove_stale_parts(dir, base, log_id);
  fd_ = open_unnamed(dir);
  if (fd_ >= 0) {
    unnamed_ = true;
  } else {
    if (!unnamed_unsupported(errno)) return cannot_write(errno);
    g_autofree gchar *temp =
        g_build_filename(dir, (part_prefix(base) + "XXXXXX" + kPartSuffix).c_str(), nullptr);
    // 0666 & ~umask, as filesink creates files (mkstemp's 0600 would hide
    // the clip from the group).
    fd_ = g_mkstemp_full(temp, O_RDWR | O_CLOEXEC, 0666);
    if (fd_ < 0) return cannot_write(errno);
    temp_path_ = temp;
  }
  // Tells remove_stale_parts() that this one is alive, once it has a name.
  flock(fd_, LOCK_EX | LOCK_NB);
  return std::nullopt;
}

std::optional<Error> ClipFile::open_existing(const std::string &path, std::uint64_t *size) {
  // In the journal's clip cache: a link or a FIFO there is not a clip.
  auto opened = open_regular_file(path, Symlinks::Refuse);
  if (!opened.ok())
    return Error::io("cannot open the cached clip '" + path + "': " + opened.error().message);
  fd_ = *opened;
  struct stat info;
  if (fstat(fd_, &info) != 0)
    return Error::io("cannot open the cached clip '" + path + "': " + g_strerror(errno));
  *size = std::uint64_t(info.st_size);
  return std::nullopt;
}

std::optional<Error> ClipFile::write(std::uint64_t offset, const void *data, std::size_t size) {
  const auto *bytes = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t written = pwrite(fd_, bytes, size, off_t(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return Error::io(std::string("cannot write the video file: ") + g_strerror(errno));
    }
    bytes += written;
    size -= std::size_t(written);
    offset += std::uint64_t(written);
  }
  return std::nullopt;
}

std::int64_t ClipFile::read(std::uint64_t offset, void *dest, std::size_t size) const {
  return pread(fd_, dest, size, off_t(offset));
}

std::optional<std::string> not_replaceable(const std::string &path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode)) return std::nullopt;
  if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode)) return std::string("it is a device");
  if (S_ISFIFO(info.st_mode)) return std::string("it is a FIFO");
  return std::string("it is not a regular file");
}

std::optional<Error> ClipFile::publish() {
  if (keep_path_.empty()) return std::nullopt;
  // Checked before the job too; again here, where it would be replaced.
  if (auto why = not_replaceable(keep_path_)) return Error::io(*why);
  if (unnamed_) {
    // linkat() cannot replace: link under a temporary name, then rename.
    g_autofree gchar *dir = g_path_get_dirname(keep_path_.c_str());
    g_autofree gchar *base = g_path_get_basename(keep_path_.c_str());
    g_autofree gchar *proc = g_strdup_printf("/proc/self/fd/%d", fd_);
    for (int tries = 0; temp_path_.empty(); tries++) {
      g_autofree gchar *name =
          g_strdup_printf("%s%08x%s", part_prefix(base).c_str(), g_random_int(), kPartSuffix);
      g_autofree gchar *path = g_build_filename(dir, name, nullptr);
      if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ||
          linkat(fd_, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
        temp_path_ = path;
      else if (errno != EEXIST || tries > 16)
        return Error::io(g_strerror(errno));
    }
  }
  if (g_rename(temp_path_.c_str(), keep_path_.c_str()) != 0) return Error::io(g_strerror(errno));
  temp_path_.clear();
  return std::nullopt;
}

void ClipFile::discard() {
  if (!temp_path_.empty()) g_unlink(temp_path_.c_str());
  temp_path_.clear();
}

}  // namespace grokimagine
