// SPDX-License-Identifier: LGPL-2.1-or-later
#include "job-record.h"

#include <glib/gstdio.h>
#include <utime.h>

#include "log.h"

namespace grokimagine {

namespace {

gint64 now_s() {
  return g_get_real_time() / G_USEC_PER_SEC;
}

// Errors after which the job will never deliver: resuming it again is
// pointless, and a new run should submit anew.
bool job_is_over(ErrorKind kind) {
  return kind == ErrorKind::JobFailed || kind == ErrorKind::Moderated ||
         kind == ErrorKind::Expired || kind == ErrorKind::NotFound;
}

}  // namespace

std::string job_fingerprint(const std::string &provider, const std::string &api_key,
                            const HttpRequest &submit) {
  // The key only as a hash of a hash: the journal never holds the key.
  const std::string key_hash = sha256_hex("grokimagine-key:" + api_key);
  return sha256_hex(provider + '\n' + key_hash + '\n' + submit.method + ' ' + submit.url + '\n' +
                    submit.body);
}

void JobRecord::prepare(Journal journal, Reuse reuse, JournalEntry entry,
                        std::chrono::seconds retention) {
  journal_ = std::move(journal);
  reuse_ = reuse;
  entry_ = std::move(entry);
  retention_ = retention;
  lock_.reset();
  recording_ = false;
}

Result<std::string> JobRecord::claim(guint wait_ms, GCancellable *cancellable,
                                     const ScopedBudget *budget) {
  if (!journal_.enabled()) return std::string();
  auto lock = journal_.lock(entry_.fingerprint, wait_ms, cancellable);
  if (!lock.ok()) return lock.error();
  const gint64 now = now_s();
  // A journal that cannot say whether the job was paid for must not be
  // taken for one that has no entry: nothing is sent.
  auto read = journal_.read(entry_.fingerprint);
  if (!read.ok()) return read.error();
  const std::optional<JournalEntry> &found = *read;
  const bool fresh = found && now < retained_until(*found, retention_);
  if (found && fresh && reuse_ != Reuse::Never) {
    if (found->state == JournalEntry::State::Submitted && !found->request_id.empty()) {
      GST_CAT_INFO(grokimagine_core_debug,
                   "journal %s: following job %s, submitted %" G_GINT64_FORMAT " s ago",
                   entry_.fingerprint.c_str(), found->request_id.c_str(), now - found->created);
      entry_ = *found;
      recording_ = true;  // the entry is ours to update from here
      return found->request_id;
    }
    if (found->state == JournalEntry::State::Submitting) {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(found->created);
      g_autofree gchar *at = g_date_time_format(when, "%F %T");
      const gint64 left_min = (retained_until(*found, retention_) - now + 59) / 60;
      return Error::of(ErrorKind::InvalidSettings,
                       "The same job was submitted at " + std::string(at) +
                           " and no answer was recorded (a crash, or an error that may hide an "
                           "accepted job): the provider may have billed it. Nothing was sent now. "
                           "Check the provider's dashboard; to submit anyway set reuse=never, or "
                           "wait " +
                           std::to_string(left_min) +
                           " min until the provider could no longer deliver it (journal entry " +
                           entry_.fingerprint + " in " + journal_.where() + ").");
    }
  }
  // The job this one replaces stays listable and resumable by its id.
  if (found && !found->request_id.empty())
    if (auto failure = journal_.archive(*found))
      GST_CAT_WARNING(grokimagine_core_debug, "journal %s: job %s not kept in the history: %s",
                      entry_.fingerprint.c_str(), found->request_id.c_str(),
                      failure->message.c_str());
  entry_.state = JournalEntry::State::Submitting;
  entry_.created = now;
  entry_.request_id.clear();
  entry_.media_url.clear();
  entry_.media_expires = 0;
  entry_.detail.clear();
  // Written before the submit leaves: a crash from here on is on record.
  if (auto failure = journal_.write(entry_, budget)) return *failure;
  recording_ = true;
  lock_ = std::move(*lock);
  return std::string();
}

void JobRecord::save() {
  if (!recording_) return;
  if (auto failure = journal_.write(entry_))
    GST_CAT_WARNING(grokimagine_core_debug, "%s", failure->message.c_str());
}

void JobRecord::submitted(const std::string &request_id) {
  if (!recording_ || entry_.request_id == request_id) return;
  entry_.state = JournalEntry::State::Submitted;
  entry_.request_id = request_id;
  save();
  // Another pipeline waiting on the same description now follows this job.
  lock_.reset();
}

void JobRecord::finished(const Result<std::vector<Output>> &result, bool submit_in_flight) {
  if (!recording_) return;
  if (const auto *outputs = std::get_if<std::vector<Output>>(&result)) {
    if (!outputs->empty()) entry_.media_url = outputs->front().url;
    entry_.media_expires = now_s() + retention_.count();
    save();
  } else {
    const Error &error = std::get<Error>(result);
    if (entry_.state == JournalEntry::State::Submitting) {
      // No id: unless the submit may have been accepted, nothing exists.
      if (!submit_in_flight && !error.maybe_billed) {
        journal_.remove(entry_.fingerprint);
        recording_ = false;
      }
    } else if (job_is_over(error.kind)) {
      entry_.state = JournalEntry::State::Failed;
      entry_.detail = error.message;
      save();
    }
  }
  lock_.reset();
}

void JobRecord::uploaded(const std::string &file_id) {
  entry_.uploaded_files.push_back(file_id);
  save();
}

void JobRecord::uploads_deleted() {
  if (entry_.uploaded_files.empty()) return;
  entry_.uploaded_files.clear();
  save();
}

void JobRecord::set_cost(double usd, const std::string &source) {
  if (entry_.cost_usd == usd && entry_.cost_source == source) return;
  // The provider's figure is never replaced by an estimate.
  if (source == "estimate" && entry_.cost_source == "provider") return;
  entry_.cost_usd = usd;
  entry_.cost_source = source;
  if (entry_.state != JournalEntry::State::Submitting) save();
}

void JobRecord::delivered(
    const std::function<std::int64_t(std::uint64_t, void *, std::size_t)> &read,
    std::uint64_t cache_bytes) {
  if (!recording_ || entry_.state == JournalEntry::State::Delivered) return;
  entry_.state = JournalEntry::State::Delivered;
  save();
  if (reuse_ == Reuse::Always && read) journal_.store_clip(entry_.fingerprint, read, cache_bytes);
}

std::string JobRecord::cached_clip(std::string *request_id) const {
  if (!journal_.enabled() || reuse_ != Reuse::Always) return {};
  auto read = journal_.read(entry_.fingerprint);
  const std::optional<JournalEntry> found = read.ok() ? *read : std::nullopt;
  if (!found || found->state != JournalEntry::State::Delivered) return {};
  std::string path = journal_.cache_path(entry_.fingerprint);
  if (path.empty() || !g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR)) return {};
  // Used now: the least recently used clips are evicted first.
  g_utime(path.c_str(), nullptr);
  *request_id = found->request_id;
  return path;
}

}  // namespace grokimagine
