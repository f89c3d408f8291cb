// SPDX-License-Identifier: LGPL-2.1-or-later
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
// per fingerprint (flock) orders processes and threads. With a `store` the
// entries live there instead (EntryStore), shared by every machine that
// uses it; delivered clips stay in the directory, on each machine.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <chrono>
#include <functional>
#include <memory>
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

// A budget shared by every machine of a store (budget-scope): a job's
// estimate is reserved in the scope, in the same transaction as its claim,
// and refused there when the scope's spending would pass the budget.
struct ScopedBudget {
  std::string scope;
  double budget_usd = 0;
  double reserve_usd = 0;  // this job's estimate
};

// An entry as the journal writes it (JSON), and read back: none when the
// text is not one (or names a request id the plugin would not have written).
std::string journal_entry_to_json(const JournalEntry &entry);
std::optional<JournalEntry> journal_entry_from_json(const std::string &text);

// Where entries live when several machines share them (store.h): the same
// operations as the journal's files, each bounded in time. Every message
// names the store without its password.
class EntryStore {
 public:
  virtual ~EntryStore() = default;
  // Holds `fingerprint`'s entry against every other user of the store until
  // the returned function runs (or the process ends); waits at most
  // `wait_ms` for another holder.
  virtual Result<std::function<void()>> lock(const std::string &fingerprint, guint wait_ms,
                                             GCancellable *cancellable) = 0;
  // The entry, none when there is none; an error when the store could not
  // say (which is not "none": an entry may be there).
  virtual Result<std::optional<JournalEntry>> read(const std::string &fingerprint) = 0;
  // Writes the entry; with `budget`, reserves its estimate in the scope in
  // the same transaction, or writes nothing and refuses (InvalidSettings)
  // when the scope's spending and reservations would pass its budget. A
  // cost from the provider replaces the entry's reservation.
  virtual std::optional<Error> write(const JournalEntry &entry, const ScopedBudget *budget) = 0;
  // Removes the entry, and the reservation of a job never submitted.
  virtual void remove(const std::string &fingerprint) = 0;
  virtual std::optional<Error> archive(const JournalEntry &entry, std::size_t keep) = 0;
  virtual Result<std::vector<JournalEntry>> list() = 0;
  virtual std::string describe() const = 0;
};

class Journal {
 public:
  // GROKIMAGINE_JOURNAL when set (empty: off), else
  // $XDG_STATE_HOME/grokimagine (~/.local/state/grokimagine).
  static std::string default_dir();

  // `dir` holds the entries, or with a `store` only the delivered clips
  // (empty: none kept).
  explicit Journal(std::string dir, std::shared_ptr<EntryStore> store = nullptr);
  // Why `dir` cannot hold a journal or its clips: not a directory (or,
  // with Symlinks::Refuse, a link to one), not the user's, writable by
  // others. None when it can.
  static std::optional<std::string> untrusted(const std::string &dir, Symlinks symlinks);
  bool enabled() const { return store_ || !dir_.empty(); }
  const std::string &dir() const { return dir_; }
  // Where the entries are, for messages: the directory, or the store.
  std::string where() const;

  // Holds the entry of one fingerprint against other processes and threads
  // (and, with a store, machines) until destroyed.
  class Lock {
   public:
    explicit Lock(std::function<void()> release) : release_(std::move(release)) {}
    Lock(Lock &&other) noexcept : release_(std::move(other.release_)) { other.release_ = nullptr; }
    Lock &operator=(Lock &&other) noexcept;
    ~Lock();

   private:
    std::function<void()> release_;
  };

  // Waits for the lock until `cancellable` fires or `wait_ms` pass (then an
  // error saying another job holds it).
  Result<Lock> lock(const std::string &fingerprint, guint wait_ms, GCancellable *cancellable) const;

  // The entry, none when there is none; an error when the journal could
  // not say (a store out of reach: an entry may be there).
  Result<std::optional<JournalEntry>> read(const std::string &fingerprint) const;
  // Durably replaces the entry (temporary file, fsync, rename); `budget`
  // (a store's only) as EntryStore::write.
  std::optional<Error> write(JournalEntry entry, const ScopedBudget *budget = nullptr) const;
  void remove(const std::string &fingerprint) const;
  // Keeps `entry` (a job that had a request id) in the history before a new
  // job of the same description replaces it, so that it stays listable and
  // resumable by its id; the newest kHistoryPerDescription are kept.
  std::optional<Error> archive(const JournalEntry &entry) const;
  static constexpr std::size_t kHistoryPerDescription = 32;
  // Every entry, the current ones and the history's, newest first.
  Result<std::vector<JournalEntry>> list() const;

  // Where a delivered clip is kept for reuse=always (empty: no directory).
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
  std::shared_ptr<EntryStore> store_;
};

// SHA-256 of `text`, in hex.
std::string sha256_hex(const std::string &text);

}  // namespace grokimagine
