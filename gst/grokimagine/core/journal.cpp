// SPDX-License-Identifier: LGPL-2.1-or-later
#include "journal.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "cancellable.h"
#include "json.h"
#include "local-file.h"
#include "log.h"
#include "request.h"

namespace grokimagine {

namespace {

constexpr const char *kEntrySuffix = ".json";

struct StateName {
  JournalEntry::State state;
  const char *name;
};
constexpr StateName kStateNames[] = {
    {JournalEntry::State::Submitting, "submitting"},
    {JournalEntry::State::Submitted, "submitted"},
    {JournalEntry::State::Delivered, "delivered"},
    {JournalEntry::State::Failed, "failed"},
};

std::optional<JournalEntry::State> state_from_name(const std::string &name) {
  for (const auto &known : kStateNames)
    if (name == known.name) return known.state;
  return std::nullopt;
}

// A fingerprint names files: hex only, so nothing else reaches a path.
bool is_fingerprint(const std::string &text) {
  return !text.empty() && text.size() <= 128 &&
         std::all_of(text.begin(), text.end(), [](char c) { return g_ascii_isxdigit(c); });
}

}  // namespace

std::string journal_entry_to_json(const JournalEntry &entry) {
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json::add_member(builder, "version", gint64(1));
  json::add_member(builder, "state", journal_state_name(entry.state));
  json::add_member(builder, "fingerprint", entry.fingerprint);
  json::add_member(builder, "created", entry.created);
  json::add_member(builder, "updated", entry.updated);
  json::add_member(builder, "provider", entry.provider);
  json::add_member(builder, "api_url", entry.api_url);
  json::add_member(builder, "model", entry.model);
  json::add_member(builder, "kind", entry.kind);
  json::add_member(builder, "prompt", entry.prompt);
  json::add_member(builder, "duration", gint64(entry.duration));
  json::add_member(builder, "resolution", entry.resolution);
  json::add_member(builder, "aspect_ratio", entry.aspect_ratio);
  json::add_member(builder, "image", entry.image);
  if (!entry.operation.empty()) json::add_member(builder, "operation", entry.operation);
  if (!entry.video.empty()) json::add_member(builder, "video", entry.video);
  if (!entry.uploaded_files.empty()) {
    json_builder_set_member_name(builder, "uploaded_files");
    json_builder_begin_array(builder);
    for (const auto &id : entry.uploaded_files) json_builder_add_string_value(builder, id.c_str());
    json_builder_end_array(builder);
  }
  json::add_member(builder, "request_id", entry.request_id);
  json::add_member(builder, "media_url", entry.media_url);
  json::add_member(builder, "media_expires", entry.media_expires);
  json_builder_set_member_name(builder, "cost_usd");
  json_builder_add_double_value(builder, entry.cost_usd);
  json::add_member(builder, "cost_source", entry.cost_source);
  json::add_member(builder, "detail", entry.detail);
  json_builder_end_object(builder);
  return json::to_string(builder);
}

std::optional<JournalEntry> journal_entry_from_json(const std::string &text) {
  auto root = json::parse_object(text);
  if (!root.ok()) return std::nullopt;
  JsonNode *node = root->get();
  auto state = state_from_name(json::string_at(node, "state"));
  if (!state) return std::nullopt;
  auto integer = [node](const char *name) {
    return gint64(json::number_at(node, name).value_or(0));
  };
  JournalEntry entry;
  entry.state = *state;
  entry.fingerprint = json::string_at(node, "fingerprint");
  entry.created = integer("created");
  entry.updated = integer("updated");
  entry.provider = json::string_at(node, "provider");
  entry.api_url = json::string_at(node, "api_url");
  entry.model = json::string_at(node, "model");
  entry.kind = json::string_at(node, "kind");
  entry.prompt = json::string_at(node, "prompt");
  entry.duration = int(integer("duration"));
  entry.resolution = json::string_at(node, "resolution");
  entry.aspect_ratio = json::string_at(node, "aspect_ratio");
  entry.image = json::string_at(node, "image");
  entry.operation = json::string_at(node, "operation");
  entry.video = json::string_at(node, "video");
  if (JsonNode *files = json::node_at(node, "uploaded_files");
      files && JSON_NODE_HOLDS_ARRAY(files)) {
    JsonArray *items = json_node_get_array(files);
    for (guint i = 0; i < json_array_get_length(items) && i < 64; i++) {
      JsonNode *item = json_array_get_element(items, i);
      if (JSON_NODE_HOLDS_VALUE(item) && json_node_get_value_type(item) == G_TYPE_STRING)
        entry.uploaded_files.push_back(json_node_get_string(item));
    }
  }
  entry.request_id = json::string_at(node, "request_id");
  // Written by this plugin from a checked id: anything else was not.
  if (!entry.request_id.empty() && !request_id_problem(entry.request_id).empty())
    return std::nullopt;
  entry.media_url = json::string_at(node, "media_url");
  entry.media_expires = integer("media_expires");
  entry.cost_usd = json::number_at(node, "cost_usd").value_or(-1);
  entry.cost_source = json::string_at(node, "cost_source");
  entry.detail = json::string_at(node, "detail");
  if (!is_fingerprint(entry.fingerprint)) return std::nullopt;
  return entry;
}

namespace {

// An entry is a few hundred bytes: anything else under its name (a FIFO,
// a link, a huge file) is not one.
Result<std::string> read_entry_file(const std::string &path) {
  constexpr std::uint64_t kMaxEntryBytes = 1024 * 1024;
  return read_regular_file(path, kMaxEntryBytes, Symlinks::Refuse);
}

}  // namespace

const char *journal_state_name(JournalEntry::State state) {
  for (const auto &known : kStateNames)
    if (known.state == state) return known.name;
  return "unknown";
}

std::string sha256_hex(const std::string &text) {
  g_autofree gchar *hex = g_compute_checksum_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(text.data()), text.size());
  return hex;
}

std::string Journal::default_dir() {
  if (const gchar *chosen = g_getenv("GROKIMAGINE_JOURNAL")) return chosen;
  g_autofree gchar *dir = g_build_filename(g_get_user_state_dir(), "grokimagine", nullptr);
  return dir;
}

Journal::Journal(std::string dir, std::shared_ptr<EntryStore> store)
    : dir_(std::move(dir)), store_(std::move(store)) {
  init_logging();
}

std::string Journal::where() const {
  return store_ ? store_->describe() : dir_;
}

Journal::Lock &Journal::Lock::operator=(Lock &&other) noexcept {
  std::swap(release_, other.release_);
  return *this;
}

Journal::Lock::~Lock() {
  if (release_) release_();
}

std::optional<std::string> Journal::untrusted(const std::string &dir, Symlinks symlinks) {
  struct stat info;
  const int status =
      symlinks == Symlinks::Follow ? stat(dir.c_str(), &info) : lstat(dir.c_str(), &info);
  if (status != 0) return std::string(g_strerror(errno));
  if (S_ISLNK(info.st_mode)) return std::string("it is a symbolic link");
  if (!S_ISDIR(info.st_mode)) return std::string("it is not a directory");
  if (info.st_uid != geteuid())
    return "it belongs to another user (uid " + std::to_string(info.st_uid) + ")";
  if (info.st_mode & (S_IWGRP | S_IWOTH)) {
    g_autofree gchar *mode = g_strdup_printf("%04o", info.st_mode & 07777);
    return std::string("others can write in it (mode ") + mode + ")";
  }
  return std::nullopt;
}

std::optional<Error> Journal::ensure_dir() const {
  const std::string guidance =
      " (set the journal property or GROKIMAGINE_JOURNAL to another directory, or to an "
      "empty value to turn the journal off)";
  if (g_mkdir_with_parents(dir_.c_str(), 0700) != 0)
    return Error::io("cannot create the job journal '" + dir_ + "': " + g_strerror(errno) +
                     guidance);
  // Whoever can write in the journal can make a run follow their job, or
  // delete files through it: only a directory of the user's own.
  if (auto why = untrusted(dir_, Symlinks::Follow))
    return Error::io("the job journal '" + dir_ + "' is not safe to use: " + *why +
                     ". Use a directory only you can write (chmod 700)" + guidance);
  return std::nullopt;
}

std::string Journal::entry_path(const std::string &fingerprint) const {
  return dir_ + G_DIR_SEPARATOR_S + fingerprint + kEntrySuffix;
}

std::string Journal::cache_path(const std::string &fingerprint) const {
  if (dir_.empty()) return {};
  g_autofree gchar *path =
      g_build_filename(dir_.c_str(), "clips", (fingerprint + ".mp4").c_str(), nullptr);
  return path;
}

Result<Journal::Lock> Journal::lock(const std::string &fingerprint, guint wait_ms,
                                    GCancellable *cancellable) const {
  if (store_) {
    auto release = store_->lock(fingerprint, wait_ms, cancellable);
    if (!release.ok()) return release.error();
    return Lock(std::move(*release));
  }
  if (auto failure = ensure_dir()) return *failure;
  const std::string path = dir_ + G_DIR_SEPARATOR_S + fingerprint + ".lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return Error::io("cannot open the job journal's lock '" + path + "': " + g_strerror(errno));
  // Closing the descriptor releases the flock.
  Lock lock([fd] { close(fd); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  // Polled rather than blocking, so that a stop interrupts the wait.
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() >= deadline)
      return Error::timeout("another pipeline is submitting the same job (journal entry " +
                            fingerprint + ") and has not finished within " +
                            std::to_string(wait_ms / 1000) + " s");
    if (!sleep_cancellable(cancellable, std::chrono::milliseconds(50))) return Error::cancelled();
  }
  return Result<Lock>(std::move(lock));
}

Result<std::optional<JournalEntry>> Journal::read(const std::string &fingerprint) const {
  if (!is_fingerprint(fingerprint)) return std::optional<JournalEntry>();
  if (store_) return store_->read(fingerprint);
  auto text = read_entry_file(entry_path(fingerprint));
  return text.ok() ? journal_entry_from_json(*text) : std::nullopt;
}

std::optional<Error> Journal::write(JournalEntry entry, const ScopedBudget *budget) const {
  entry.updated = g_get_real_time() / G_USEC_PER_SEC;
  if (store_) return store_->write(entry, budget);
  if (auto failure = ensure_dir()) return failure;
  const std::string path = entry_path(entry.fingerprint);
  return write_at(path, std::move(entry));
}

std::optional<Error> Journal::write_at(const std::string &path, JournalEntry entry) const {
  const std::string text = journal_entry_to_json(entry);
  std::string temp = path + ".XXXXXX";
  auto fail = [&](const char *what) {
    return Error::io(std::string("cannot ") + what + " the job journal entry '" + path +
                     "': " + g_strerror(errno));
  };
  int fd = g_mkstemp_full(temp.data(), O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return fail("create");
  bool written = true;
  for (size_t done = 0; written && done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    written = n > 0;
    if (written) done += size_t(n);
  }
  // Durable before it replaces the old entry: a crash leaves one or the other.
  written = written && fsync(fd) == 0;
  close(fd);
  if (!written || g_rename(temp.c_str(), path.c_str()) != 0) {
    Error error = fail("write");
    g_unlink(temp.c_str());
    return error;
  }
  GST_CAT_DEBUG(grokimagine_core_debug, "journal %s: %s", entry.fingerprint.c_str(),
                journal_state_name(entry.state));
  return std::nullopt;
}

void Journal::remove(const std::string &fingerprint) const {
  if (!is_fingerprint(fingerprint)) return;
  if (store_) return store_->remove(fingerprint);
  g_unlink(entry_path(fingerprint).c_str());
}

std::string Journal::history_dir() const {
  return dir_ + G_DIR_SEPARATOR_S + "history";
}

namespace {

// History files: FINGERPRINT-CREATED-REQUESTID.json, so that one
// description's jobs sort by age and are found by their fingerprint.
std::vector<std::string> history_files(const std::string &dir, const std::string &fingerprint) {
  std::vector<std::string> names;
  g_autoptr(GDir) listing = g_dir_open(dir.c_str(), 0, nullptr);
  while (const gchar *name = listing ? g_dir_read_name(listing) : nullptr) {
    const std::string file(name);
    const auto dash = file.find('-');
    if (dash == std::string::npos || !g_str_has_suffix(name, kEntrySuffix) ||
        !is_fingerprint(file.substr(0, dash)))
      continue;
    if (fingerprint.empty() || file.compare(0, dash, fingerprint) == 0) names.push_back(file);
  }
  return names;
}

}  // namespace

std::optional<Error> Journal::archive(const JournalEntry &entry) const {
  if (!is_fingerprint(entry.fingerprint) || !request_id_problem(entry.request_id).empty())
    return std::nullopt;
  if (store_) return store_->archive(entry, kHistoryPerDescription);
  const std::string dir = history_dir();
  if (g_mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::io("cannot create the journal's history '" + dir + "': " + g_strerror(errno));
  // It is the journal's own, as the journal is: never somewhere a link leads.
  if (auto why = untrusted(dir, Symlinks::Refuse))
    return Error::io("the journal's history '" + dir + "' is not safe to use: " + *why);
  // The request id too: jobs of one second (reuse=never) are still apart.
  // Ids are letters, digits and ". _ : -" (request_id_problem), safe here.
  g_autofree gchar *name =
      g_strdup_printf("%s-%020" G_GINT64_FORMAT "-%s%s", entry.fingerprint.c_str(), entry.created,
                      entry.request_id.c_str(), kEntrySuffix);
  if (auto failure = write_at(dir + G_DIR_SEPARATOR_S + name, entry)) return failure;
  auto kept = history_files(dir, entry.fingerprint);
  std::sort(kept.begin(), kept.end());  // oldest first: the times are zero-padded
  for (std::size_t i = 0; i + kHistoryPerDescription < kept.size(); i++)
    g_unlink((dir + G_DIR_SEPARATOR_S + kept[i]).c_str());
  return std::nullopt;
}

Result<std::vector<JournalEntry>> Journal::list() const {
  if (store_) return store_->list();
  std::vector<JournalEntry> entries;
  g_autoptr(GDir) dir = g_dir_open(dir_.c_str(), 0, nullptr);
  if (!dir) return entries;
  while (const gchar *name = g_dir_read_name(dir)) {
    if (!g_str_has_suffix(name, kEntrySuffix)) continue;
    std::string fingerprint(name, strlen(name) - strlen(kEntrySuffix));
    auto entry = read(fingerprint);
    if (entry.ok() && *entry) entries.push_back(std::move(**entry));
  }
  const std::string history = history_dir();
  if (!untrusted(history, Symlinks::Refuse)) {
    for (const std::string &name : history_files(history, {})) {
      auto text = read_entry_file(history + G_DIR_SEPARATOR_S + name);
      auto entry = text.ok() ? journal_entry_from_json(*text) : std::nullopt;
      if (!entry || name.compare(0, entry->fingerprint.size(), entry->fingerprint) != 0) continue;
      entry->archived = true;
      entries.push_back(std::move(*entry));
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const JournalEntry &a, const JournalEntry &b) { return a.created > b.created; });
  return entries;
}

void Journal::store_clip(
    const std::string &fingerprint,
    const std::function<std::int64_t(std::uint64_t, void *, std::size_t)> &read,
    std::uint64_t cache_bytes) const {
  const std::string path = cache_path(fingerprint);
  if (path.empty()) return;
  g_autofree gchar *clips = g_path_get_dirname(path.c_str());
  if (g_mkdir_with_parents(clips, 0700) != 0) return;
  // Eviction deletes files in it: never somewhere a link leads.
  if (auto why = untrusted(clips, Symlinks::Refuse)) {
    GST_CAT_WARNING(grokimagine_core_debug, "clip cache %s not used: %s", clips, why->c_str());
    return;
  }
  std::string temp = path + ".XXXXXX";
  int out = g_mkstemp_full(temp.data(), O_WRONLY | O_CLOEXEC, 0600);
  if (out < 0) return;
  char buffer[64 * 1024];
  bool ok = true;
  for (std::uint64_t offset = 0; ok;) {
    std::int64_t n = read(offset, buffer, sizeof buffer);
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    ok = ::write(out, buffer, size_t(n)) == n;
    offset += std::uint64_t(n);
  }
  ok = ok && fsync(out) == 0;
  close(out);
  if (!ok || g_rename(temp.c_str(), path.c_str()) != 0) {
    g_unlink(temp.c_str());
    return;
  }
  // Least recently used first: replaying a clip touches it.
  struct Clip {
    std::string path;
    std::uint64_t size;
    gint64 used;
  };
  std::vector<Clip> kept;
  std::uint64_t total = 0;
  g_autoptr(GDir) dir = g_dir_open(clips, 0, nullptr);
  while (const gchar *name = dir ? g_dir_read_name(dir) : nullptr) {
    // Only the cache's own clips (named by their job's fingerprint), never
    // another file that happens to be there.
    const std::string stem(name);
    if (!g_str_has_suffix(name, ".mp4") || !is_fingerprint(stem.substr(0, stem.size() - 4)))
      continue;
    g_autofree gchar *clip = g_build_filename(clips, name, nullptr);
    struct stat info;
    if (lstat(clip, &info) != 0 || !S_ISREG(info.st_mode)) continue;
    // To the nanosecond: clips stored or replayed within one second keep
    // their order.
    kept.push_back(
        {clip, std::uint64_t(info.st_size),
         gint64(info.st_mtim.tv_sec) * G_GINT64_CONSTANT(1000000000) + info.st_mtim.tv_nsec});
    total += std::uint64_t(info.st_size);
  }
  std::sort(kept.begin(), kept.end(), [](const Clip &a, const Clip &b) { return a.used < b.used; });
  for (const Clip &clip : kept) {
    if (total <= cache_bytes) break;
    GST_CAT_DEBUG(grokimagine_core_debug,
                  "clip cache over %" G_GUINT64_FORMAT " bytes: evicting %s", cache_bytes,
                  clip.path.c_str());
    g_unlink(clip.path.c_str());
    total -= clip.size;
  }
}

}  // namespace grokimagine
