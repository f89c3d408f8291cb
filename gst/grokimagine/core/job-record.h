// SPDX-License-Identifier: LGPL-2.1-or-later
// One job's entry in the journal, from before its submit to its delivery:
// what makes running the same description twice cost one job.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "journal.h"
#include "providers/provider.h"

namespace grokimagine {

// What a journal entry of the same description is good for (`reuse`).
enum class Reuse {
  Unfinished,  // follow a job submitted but never delivered (the default)
  Always,      // also replay a delivered clip from the cache, with no network
  Never,       // always a new take (still recorded)
};

class JobRecord {
 public:
  // `entry` describes the job (provider, model, prompt, ...); `fingerprint`
  // is of what the provider will see. A journal that is off records nothing.
  void prepare(Journal journal, Reuse reuse, JournalEntry entry, std::chrono::seconds retention);
  bool enabled() const { return journal_.enabled(); }
  const std::string &fingerprint() const { return entry_.fingerprint; }

  // Before submitting: the id of an unfinished job of the same description
  // to follow instead (empty: submit, the entry is now written as
  // Submitting and held locked until submitted()); an error for an entry
  // whose submit left without an answer (it may have been billed), or when
  // another process holds the entry for longer than `wait_ms`. With
  // `budget`, the claim also reserves the job's estimate in its scope, or
  // is refused when that would pass the scope's budget.
  Result<std::string> claim(guint wait_ms, GCancellable *cancellable,
                            const ScopedBudget *budget = nullptr);
  // The provider named the job.
  void submitted(const std::string &request_id);
  // The job's outcome: its media URL, or whether an error leaves it worth
  // resuming (a deadline, a network failure) or not (failed, moderated,
  // unknown to the provider; or refused before anything was accepted).
  void finished(const Result<std::vector<Output>> &result, bool submit_in_flight);
  void set_cost(double usd, const std::string &source);
  // Files uploaded for this job (kept in the entry, so a run that resumes
  // the job can delete them), and forgotten once deleted.
  void uploaded(const std::string &file_id);
  void uploads_deleted();
  const std::vector<std::string> &uploaded_files() const { return entry_.uploaded_files; }
  // The clip reached the element; with reuse=always it is kept in the cache
  // (`read` gives its bytes: offset, buffer, size -> bytes read).
  void delivered(const std::function<std::int64_t(std::uint64_t, void *, std::size_t)> &read,
                 std::uint64_t cache_bytes);

  // A delivered clip of the same description to replay (reuse=always), or
  // empty; `request_id` is its job's.
  std::string cached_clip(std::string *request_id) const;

 private:
  void save();

  Journal journal_{""};
  Reuse reuse_ = Reuse::Unfinished;
  std::chrono::seconds retention_{3600};
  JournalEntry entry_;
  std::optional<Journal::Lock> lock_;
  bool recording_ = false;  // this run wrote the entry (it submitted)
};

// The fingerprint of a submit: provider, API URL, a hash of the key, and the
// request exactly as it will be sent (method, URL, body: every field and
// the bytes of every inline input), taken before inputs that need the
// network are resolved: an input for the Files API is named by its
// content ("sha256:..."), not the id an upload gives it, and request:ID
// by itself, not the URL it resolves to, so a rerun finds the entry.
std::string job_fingerprint(const std::string &provider, const std::string &api_key,
                            const HttpRequest &submit);

}  // namespace grokimagine
