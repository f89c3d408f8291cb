// The job journal: the only record that survives a crash. Every paid job is
// written down (durably, before its submit leaves) under a fingerprint of
// what the provider will see, so that running the same description again
// follows the job already paid for instead of paying twice, and two
// processes starting the same description at once submit once.
//
// One JSON file per fingerprint in the journal directory (0700, files
// 0600: prompts and media URLs are private; the key is never written, only
// a hash of it inside the fingerprint). Writes go to a temporary file,
// fsync, rename: a crash leaves the old entry or the new one. A lock file
// per fingerprint (flock) orders processes and threads.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "local-file.h"

namespace grokimagine {

struct JournalEntry {
  enum class State {
    Submitting,  // written before the submit left; no answer recorded
    Submitted,   // the provider gave its request id
    Delivered,   // the clip (or images) reached the element
    Failed,      // the job ended without a result; nothing to resume
  };
  State state = State::Submitting;
  std::string fingerprint;
  gint64 created = 0;  // unix seconds, when the submit was about to leave
  gint64 updated = 0;
  std::string provider;
  std::string api_url;
  std::string model;
  std::string kind;  // "video" or "image"
  std::string prompt;
  int duration = 0;
  std::string resolution;
  std::string aspect_ratio;
  std::string image;
  std::string operation;  // video: generate, extend or edit
  std::string video;      // the input video, as given
  // Files this job uploaded (xai's Files API) and not yet deleted: a run
  // that resumes the job deletes them when it is over.
  std::vector<std::string> uploaded_files;
  std::string request_id;
  std::string media_url;
  gint64 media_expires = 0;  // unix seconds; 0 unknown
  double cost_usd = -1;      // < 0: unknown
  std::string cost_source;   // "provider" or "estimate"
  std::string detail;        // why it failed
  // An earlier job of the description, kept in the journal's history (see
  // Journal::archive); not written, known from where it was read.
  bool archived = false;
};

const char *journal_state_name(JournalEntry::State state);

// Until when (unix seconds) the provider keeps `entry`'s job and can still
// deliver it: its retention, counted from the submit.
inline gint64 retained_until(const JournalEntry &entry, std::chrono::seconds retention) {
  return entry.created + gint64(retention.count());
}

class Journal {
 public:
  // GROKIMAGINE_JOURNAL when set (empty: off), else
  // $XDG_STATE_HOME/grokimagine (~/.local/state/grokimagine).
  static std::string default_dir();

  explicit Journal(std::string dir);
  // Why `dir` cannot hold a journal or its clips: not a directory (or,
  // with Symlinks::Refuse, a link to one), not the user's, writable by
  // others. None when it can.
  static std::optional<std::string> untrusted(const std::string &dir, Symlinks symlinks);
  bool enabled() const { return !dir_.empty(); }
  const std::string &dir() const { return dir_; }

  // Holds the entry of one fingerprint against other processes and threads
  // until destroyed.
  class Lock {
   public:
    explicit Lock(int fd = -1) : fd_(fd) {}
    Lock(Lock &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Lock &operator=(Lock &&other) noexcept;
    ~Lock();
    bool held() const { return fd_ >= 0; }

   private:
    int fd_;
  };

  // Waits for the lock until `cancellable` fires or `wait_ms` pass (then an
  // error saying another job holds it).
  std::optional<Lock> lock(const std::string &fingerprint, guint wait_ms, GCancellable *cancellable,
                           Error *error) const;

  std::optional<JournalEntry> read(const std::string &fingerprint) const;
  // Durably replaces the entry (temporary file, fsync, rename).
  std::optional<Error> write(JournalEntry entry) const;
  void remove(const std::string &fingerprint) const;
  // Keeps `entry` (a job that had a request id) in the history before a new
  // job of the same description replaces it, so that it stays listable and
  // resumable by its id; the newest kHistoryPerDescription are kept.
  std::optional<Error> archive(const JournalEntry &entry) const;
  static constexpr std::size_t kHistoryPerDescription = 32;
  // Every entry, the current ones and the history's, newest first.
  std::vector<JournalEntry> list() const;

  // Where a delivered clip is kept for reuse=always.
  std::string cache_path(const std::string &fingerprint) const;
  // Copies a clip (`read`: offset, buffer, size -> bytes read, 0 at the end)
  // into the cache as `fingerprint`'s, then evicts the least recently used
  // clips until the cache holds at most `cache_bytes`.
  void store_clip(const std::string &fingerprint,
                  const std::function<std::int64_t(std::uint64_t, void *, std::size_t)> &read,
                  std::uint64_t cache_bytes) const;

 private:
  std::optional<Error> ensure_dir() const;
  std::string entry_path(const std::string &fingerprint) const;
  std::string history_dir() const;
  // Durably writes `entry` at `path` (temporary file, fsync, rename).
  std::optional<Error> write_at(const std::string &path, JournalEntry entry) const;

  std::string dir_;
};

// SHA-256 of `text`, in hex.
std::string sha256_hex(const std::string &text);

}  // namespace grokimagine
