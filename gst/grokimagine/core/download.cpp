#include "download.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "cancellable.h"
#include "gobject-ptr.h"
#include "http.h"
#include "log.h"

namespace grokimagine {

namespace {

constexpr gsize kChunkBytes = 64 * 1024;
constexpr gsize kMaxErrorBodyBytes = 64 * 1024;
// The throughput floor of the stall rule, as curl's low-speed limit: below
// it over a whole request-timeout window, an attempt is cut and resumed. A
// byte every few seconds keeps a connection open but never a clip coming.
constexpr std::uint64_t kMinBytesPerSecond = 1024;
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

struct Download::State : std::enable_shared_from_this<Download::State> {
  explicit State(const RetryPolicy &retry) : policy(retry) {}

  HttpRequest http;
  RetryPolicy policy;
  std::string keep_path;
  // Only with keep_path: the named temporary while it exists (always, where
  // O_TMPFILE is unsupported; between link and rename otherwise).
  std::string temp_path;
  bool unnamed = false;  // fd is an O_TMPFILE file, linked in once complete
  int fd = -1;
  // Fired by ~Download, from any thread.
  GObjectPtr<GCancellable> cancellable = GObjectPtr<GCancellable>::adopt(g_cancellable_new());

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t downloaded = 0;
  std::optional<std::uint64_t> total;
  bool finished = false;
  bool failed = false;
  Error error;
  std::string error_body;  // what came with an HTTP error status

  std::uint64_t max_bytes = 0;  // 0: no limit

  // I/O thread only.
  std::string head;  // the first bytes, to tell an MP4 from an error page
  int attempts = 0;  // requests sent, for the log
  int failures = 0;  // failed attempts in a row without progress
  bool reading_error_body = false;
  std::uint64_t discard = 0;  // bytes to skip when a server ignored our Range
  GObjectPtr<SoupMessage> message;
  GObjectPtr<GInputStream> stream;
  // One per attempt, fired by `cancellable`, the stall rule or the deadline.
  GObjectPtr<GCancellable> attempt_cancellable;
  gulong attempt_handler = 0;
  std::uint64_t attempt_from = 0;  // bytes on disk when the attempt began
  gint64 attempt_started_us = 0;
  GSource *watchdog = nullptr;     // the stall rule, while an attempt runs
  std::uint64_t window_bytes = 0;  // received (kept or skipped) in the current window
  bool stalled = false;
  GSource *deadline_timer = nullptr;
  bool out_of_time = false;
  GSource *send_guard = nullptr;  // from send_async()

  ~State() {
    drop_send_guard();
    if (fd >= 0) close(fd);
    if (!temp_path.empty()) g_unlink(temp_path.c_str());
    for (GSource *source : {watchdog, deadline_timer})
      if (source) {
        g_source_destroy(source);
        g_source_unref(source);
      }
  }

  const char *log_id() const { return grokimagine::log_id(http.log_id); }

  // Hands a strong reference to an asynchronous libsoup/GIO callback: the
  // State must outlive what libsoup still holds of it.
  gpointer hold() { return new std::shared_ptr<State>(shared_from_this()); }
  static std::shared_ptr<State> take(gpointer data) {
    std::unique_ptr<std::shared_ptr<State>> held(static_cast<std::shared_ptr<State> *>(data));
    return *held;
  }

  // Timers only need the State if it is still there: a weak reference, so a
  // pending retry does not keep a stopped download's file open.
  GSource *add_timer(std::chrono::milliseconds delay, void (*fire)(State &),
                     gboolean repeat = FALSE) {
    struct Timer {
      std::weak_ptr<State> state;
      void (*fire)(State &);
      gboolean repeat;
    };
    GSource *timer = g_timeout_source_new(guint(std::max<std::int64_t>(delay.count(), 1)));
    g_source_set_callback(
        timer,
        [](gpointer data) -> gboolean {
          auto *t = static_cast<Timer *>(data);
          if (auto self = t->state.lock()) t->fire(*self);
          return t->repeat;
        },
        new Timer{weak_from_this(), fire, repeat},
        [](gpointer data) { delete static_cast<Timer *>(data); });
    g_source_attach(timer, g_main_context_get_thread_default());
    return timer;
  }

  static void drop_source(GSource *&source) {
    if (!source) return;
    g_source_destroy(source);
    g_source_unref(source);
    source = nullptr;
  }

  // Only a GET can be repeated: a repeated POST is a second job.
  bool repeatable() const { return http.method == "GET"; }

  void begin() {
    if (policy.deadline() != RetryPolicy::kNoDeadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          policy.deadline() - RetryPolicy::Clock::now());
      deadline_timer = add_timer(left, [](State &self) {
        GST_CAT_INFO_ID(grokimagine_download_debug, self.log_id(),
                        "the timeout of %" G_GINT64_FORMAT " s ran out",
                        gint64(self.policy.timing().timeout.count()));
        self.out_of_time = true;
        if (self.attempt_cancellable) g_cancellable_cancel(self.attempt_cancellable.get());
      });
    }
    request();
  }

  void request() {
    attempts++;
    attempt_from = current();
    attempt_started_us = g_get_monotonic_time();
    stalled = false;
    message = GObjectPtr<SoupMessage>::adopt(HttpClient::new_message(http));
    if (!http.follow_redirects) soup_message_add_flags(message.get(), SOUP_MESSAGE_NO_REDIRECT);
    if (attempt_from > 0) {
      g_autofree gchar *range = g_strdup_printf("bytes=%" G_GUINT64_FORMAT "-", attempt_from);
      soup_message_headers_replace(soup_message_get_request_headers(message.get()), "Range", range);
    }
    if (attempt_from)
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "%s %s (attempt %d), resuming with Range: bytes=%" G_GUINT64_FORMAT "-",
                      http.method.c_str(), loggable_url(http.url).c_str(), attempts, attempt_from);
    else
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(), "%s %s (attempt %d)",
                      http.method.c_str(), loggable_url(http.url).c_str(), attempts);
    attempt_cancellable = GObjectPtr<GCancellable>::adopt(g_cancellable_new());
    attempt_handler = g_cancellable_connect(
        cancellable.get(),
        G_CALLBACK(+[](GCancellable *, gpointer own) { g_cancellable_cancel(G_CANCELLABLE(own)); }),
        attempt_cancellable.get(), nullptr);
    // A GET's answer must start within the window too; a POST's answer
    // comes when the generation is done, which only the deadline bounds.
    if (repeatable()) start_watchdog();
    HttpClient &client = HttpClient::instance();
    // Not soup_session_send_async() with attempt_cancellable, which
    // ~Download fires from the streaming thread: see send_async() in http.cpp.
    drop_send_guard();
    send_guard = send_async(repeatable() ? client.session() : client.patient_session(),
                            message.get(), attempt_cancellable.get(), on_sent, hold());
  }

  void drop_send_guard() {
    if (!send_guard) return;
    g_source_destroy(send_guard);
    g_source_unref(send_guard);
    send_guard = nullptr;
  }

  // The stall rule: every request-timeout window must bring the floor's
  // worth of bytes, or the attempt is cut (and counts as failed).
  void start_watchdog() {
    window_bytes = 0;
    watchdog = add_timer(
        std::chrono::duration_cast<std::chrono::milliseconds>(policy.timing().request_timeout),
        [](State &self) {
          const std::uint64_t floor =
              kMinBytesPerSecond * std::uint64_t(self.policy.timing().request_timeout.count());
          if (self.window_bytes >= floor || self.stalled) {
            self.window_bytes = 0;
            return;
          }
          GST_CAT_INFO_ID(grokimagine_download_debug, self.log_id(),
                          "stalled: %" G_GUINT64_FORMAT " bytes in the last %" G_GINT64_FORMAT
                          " s (request-timeout), under %" G_GUINT64_FORMAT
                          "; cutting attempt %d at byte %" G_GUINT64_FORMAT,
                          self.window_bytes, gint64(self.policy.timing().request_timeout.count()),
                          floor, self.attempts, self.current());
          self.stalled = true;
          g_cancellable_cancel(self.attempt_cancellable.get());
        },
        TRUE);
  }

  // Ends the attempt's resources; the outcome is up to the caller.
  void end_attempt() {
    drop_source(watchdog);
    if (attempt_cancellable) g_cancellable_disconnect(cancellable.get(), attempt_handler);
    attempt_handler = 0;
    attempt_cancellable = {};
    release_body();
  }

  std::uint64_t current() {
    std::lock_guard<std::mutex> lock(mutex);
    return downloaded;
  }

  gint64 attempt_ms() const { return (g_get_monotonic_time() - attempt_started_us) / 1000; }

  static void on_sent(GObject *source, GAsyncResult *result, gpointer data) {
    auto self = take(data);
    g_autoptr(GError) error = nullptr;
    GInputStream *stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
    if (!stream) {
      self->attempt_failed(ErrorKind::Network, std::string("video download: ") + error->message, 0,
                           error, never_reached_server(error), {});
      return;
    }
    keep_message_with_stream(stream, self->message.get());
    self->stream = GObjectPtr<GInputStream>::adopt(stream);
    self->start_body();
  }

  void start_body() {
    unsigned status = soup_message_get_status(message.get());
    SoupMessageHeaders *headers = soup_message_get_response_headers(message.get());
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                    "%s %s (attempt %d): HTTP %u after %" G_GINT64_FORMAT " ms",
                    http.method.c_str(), loggable_url(http.url).c_str(), attempts, status,
                    attempt_ms());
    if (!repeatable()) start_watchdog();
    if ((status >= 500 || status == 429) && repeatable()) {
      const char *retry_after = soup_message_headers_get_one(headers, "Retry-After");
      attempt_failed(ErrorKind::Network, "the video host answered HTTP " + std::to_string(status),
                     status, nullptr, false, retry_after ? retry_after : "");
      return;
    }
    if (status >= 300 && !repeatable()) {
      // The caller maps the provider's answer; read what it said.
      reading_error_body = true;
      read_more();
      return;
    }
    if (status != 200 && status != 206) {
      ErrorKind kind = (status == 404 || status == 410)   ? ErrorKind::NotFound
                       : (status == 401 || status == 403) ? ErrorKind::NotAuthorized
                                                          : ErrorKind::Protocol;
      fail(kind,
           "the video URL answered HTTP " + std::to_string(status) +
               (kind == ErrorKind::NotFound ? " (the link may have expired)" : ""),
           status);
      return;
    }
    const char *content_type = soup_message_headers_get_content_type(headers, nullptr);
    if (content_type &&
        (g_str_has_prefix(content_type, "text/") || g_str_has_suffix(content_type, "/json"))) {
      fail(ErrorKind::Protocol,
           std::string("the video URL sent ") + content_type + " instead of an MP4", status);
      return;
    }
    std::uint64_t from = current();
    goffset start = 0, end = 0, length = 0;
    goffset announced = soup_message_headers_get_content_length(headers);
    if (max_bytes && status == 200 && announced > 0 && std::uint64_t(announced) > max_bytes) {
      fail(ErrorKind::Protocol,
           "the video is " + std::to_string(announced) + " bytes, more than max-size (" +
               std::to_string(max_bytes) + ")",
           status);
      return;
    }
    if (status == 206 && soup_message_headers_get_content_range(headers, &start, &end, &length)) {
      if (length > 0) set_total(std::uint64_t(length));
      discard = from > std::uint64_t(start) ? from - std::uint64_t(start) : 0;
      if (from > 0)
        GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                        "resuming at byte %" G_GUINT64_FORMAT
                        ": HTTP 206 from byte %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                        from, gint64(start), gint64(length));
    } else {
      // The whole clip again: skip what we already have.
      discard = from;
      goffset content_length = soup_message_headers_get_content_length(headers);
      if (content_length > 0) set_total(std::uint64_t(content_length));
      if (from > 0)
        GST_CAT_INFO_ID(
            grokimagine_download_debug, log_id(),
            "resuming at byte %" G_GUINT64_FORMAT
            ": HTTP %u with the whole clip (Range ignored), discarding %" G_GUINT64_FORMAT " bytes",
            from, status, from);
    }
    read_more();
  }

  void set_total(std::uint64_t size) {
    std::lock_guard<std::mutex> lock(mutex);
    total = size;
  }

  void read_more() {
    g_input_stream_read_bytes_async(stream.get(), kChunkBytes, G_PRIORITY_DEFAULT,
                                    attempt_cancellable.get(), on_read, hold());
  }

  static void on_read(GObject *source, GAsyncResult *result, gpointer data) {
    auto self = take(data);
    g_autoptr(GError) error = nullptr;
    g_autoptr(GBytes) chunk =
        g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
    if (!chunk) {
      self->attempt_failed(ErrorKind::Network, std::string("video download: ") + error->message, 0,
                           error, false, {});
      return;
    }
    gsize size = 0;
    const auto *bytes = static_cast<const guint8 *>(g_bytes_get_data(chunk, &size));
    self->window_bytes += size;
    if (self->reading_error_body) {
      self->error_body.append(reinterpret_cast<const char *>(bytes), size);
      if (size > 0 && self->error_body.size() < kMaxErrorBodyBytes) {
        self->read_more();
        return;
      }
      unsigned status = soup_message_get_status(self->message.get());
      self->fail(ErrorKind::Protocol, "HTTP " + std::to_string(status), status);
      return;
    }
    if (size == 0) {
      self->end_of_body();
      return;
    }
    gsize skip = gsize(std::min<std::uint64_t>(self->discard, size));
    self->discard -= skip;
    if (!self->append(bytes + skip, size - skip)) return;
    GST_CAT_LOG_ID(grokimagine_download_debug, self->log_id(),
                   "%" G_GSIZE_FORMAT " bytes (%" G_GSIZE_FORMAT " skipped), %" G_GUINT64_FORMAT
                   " on disk",
                   size, skip, self->current());
    self->read_more();
  }

  bool looks_like_mp4() const {
    static const char *const kBoxes[] = {"ftyp", "moov", "mdat", "free", "skip",
                                         "wide", "pnot", "uuid", "styp", "sidx"};
    for (const char *box : kBoxes)
      if (head.compare(4, 4, box) == 0) return true;
    return false;
  }

  bool append(const guint8 *bytes, gsize size) {
    std::uint64_t offset = current();
    if (max_bytes && offset + size > max_bytes) {
      fail(ErrorKind::Protocol,
           "the video is larger than max-size (" + std::to_string(max_bytes) + " bytes)", 0);
      return false;
    }
    if (head.size() < 8 && offset == head.size()) {
      head.append(reinterpret_cast<const char *>(bytes), MIN(size, 8 - head.size()));
      if (head.size() == 8 && !looks_like_mp4()) {
        g_autofree gchar *shown = g_strescape(head.c_str(), nullptr);
        fail(ErrorKind::Protocol,
             std::string("the video URL sent something that is not an MP4 (it starts with \"") +
                 shown + "\")",
             0);
        return false;
      }
    }
    while (size > 0) {
      ssize_t written = pwrite(fd, bytes, size, off_t(offset));
      if (written < 0) {
        fail(ErrorKind::Io, std::string("cannot write the video file: ") + g_strerror(errno), 0);
        return false;
      }
      bytes += written;
      size -= gsize(written);
      offset += std::uint64_t(written);
      {
        std::lock_guard<std::mutex> lock(mutex);
        downloaded = offset;
      }
      changed.notify_all();
    }
    return true;
  }

  // Closing the body is what hands the connection back to libsoup's pool;
  // reading it to the end is not enough.
  void release_body() {
    if (stream) g_input_stream_close(stream.get(), nullptr, nullptr);
    stream = {};
    message = {};
  }

  void end_of_body() {
    std::optional<std::uint64_t> expected;
    std::uint64_t have;
    {
      std::lock_guard<std::mutex> lock(mutex);
      expected = total;
      have = downloaded;
    }
    if (expected && have < *expected) {
      attempt_failed(ErrorKind::Network,
                     "the video body ended after " + std::to_string(have) + " of " +
                         std::to_string(*expected) + " bytes",
                     0, nullptr, false, {});
      return;
    }
    if (!keep_path.empty()) {
      if (auto why = move_into_place()) {
        fail(ErrorKind::Io, "cannot move the video to location '" + keep_path + "': " + *why, 0);
        return;
      }
    }
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                    "complete: %" G_GUINT64_FORMAT " bytes in %d attempt(s)", have, attempts);
    end_attempt();
    drop_source(deadline_timer);
    {
      std::lock_guard<std::mutex> lock(mutex);
      total = have;
      finished = true;
    }
    changed.notify_all();
  }

  // Gives the complete file its name at `keep_path`, replacing what was
  // there at once (rename), as filesink's users expect of a finished file.
  std::optional<std::string> move_into_place() {
    if (unnamed) {
      // linkat() cannot replace: link under a temporary name, then rename.
      g_autofree gchar *dir = g_path_get_dirname(keep_path.c_str());
      g_autofree gchar *base = g_path_get_basename(keep_path.c_str());
      g_autofree gchar *proc = g_strdup_printf("/proc/self/fd/%d", fd);
      for (int tries = 0; temp_path.empty(); tries++) {
        g_autofree gchar *name =
            g_strdup_printf("%s%08x%s", part_prefix(base).c_str(), g_random_int(), kPartSuffix);
        g_autofree gchar *path = g_build_filename(dir, name, nullptr);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ||
            linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
          temp_path = path;
        else if (errno != EEXIST || tries > 16)
          return std::string(g_strerror(errno));
      }
    }
    if (g_rename(temp_path.c_str(), keep_path.c_str()) != 0) return std::string(g_strerror(errno));
    temp_path.clear();
    return std::nullopt;
  }

  // One attempt failed; retry it per the policy, or fail the download.
  void attempt_failed(ErrorKind kind, const std::string &why, unsigned status, const GError *error,
                      bool not_sent, const std::string &retry_after) {
    const bool cut = error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    const bool was_stalled = stalled;
    end_attempt();
    if (g_cancellable_is_cancelled(cancellable.get())) {
      fail(ErrorKind::Cancelled, "cancelled", 0);
      return;
    }
    if (out_of_time) {
      fail(ErrorKind::Timeout,
           "the clip did not arrive within the timeout of " +
               std::to_string(policy.timing().timeout.count()) + " s",
           0);
      return;
    }
    std::string reason = why;
    if (cut && was_stalled)
      reason = "the video download stalled (under " + std::to_string(kMinBytesPerSecond) +
               " bytes/s for request-timeout, " +
               std::to_string(policy.timing().request_timeout.count()) + " s)";
    const std::uint64_t now_on_disk = current();
    // Progress is new bytes on disk, at a rate the stall rule accepts: a
    // CDN that cuts every body at the same byte, or trickles, runs out of
    // attempts rather than retrying for ever.
    if (!was_stalled && now_on_disk > attempt_from) failures = 0;
    failures++;
    if (!(repeatable() || not_sent)) {
      // A POST whose answer is the clip is a paid submit: never again.
      fail(kind, reason, status);
      return;
    }
    const auto decision = policy.after_failure(failures, retry_after);
    if (decision.verdict != RetryPolicy::Verdict::Retry) {
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "attempt %d failed: %s; giving up, %d attempt(s) in a row without progress",
                      attempts, reason.c_str(), failures);
      fail(decision.verdict == RetryPolicy::Verdict::OutOfTime ? ErrorKind::Timeout : kind,
           reason + " " + decision.reason + " without progress", status);
      return;
    }
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                    "attempt %d failed after %" G_GINT64_FORMAT " ms at byte %" G_GUINT64_FORMAT
                    ": %s; retry in %" G_GINT64_FORMAT " ms (%d of %d attempts without progress)",
                    attempts, attempt_ms(), now_on_disk, reason.c_str(),
                    gint64(decision.wait.count()), failures, policy.max_attempts());
    GSource *timer = add_timer(decision.wait, [](State &self) {
      if (g_cancellable_is_cancelled(self.cancellable.get()))
        self.fail(ErrorKind::Cancelled, "cancelled", 0);
      else if (self.out_of_time)
        self.attempt_failed(ErrorKind::Timeout, "out of time", 0, nullptr, false, {});
      else
        self.request();
    });
    g_source_unref(timer);  // the context holds it until it fires
  }

  void fail(ErrorKind kind, std::string why, unsigned status) {
    end_attempt();
    drop_source(deadline_timer);
    // Before readers hear of the failure: `location` never holds a partial clip.
    if (!temp_path.empty()) g_unlink(temp_path.c_str());
    temp_path.clear();
    if (kind != ErrorKind::Cancelled)
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(), "failed: %s", why.c_str());
    {
      std::lock_guard<std::mutex> lock(mutex);
      failed = true;
      error = Error{kind, std::move(why), {}, status};
    }
    changed.notify_all();
  }

  // The file the clip goes to, anonymous until complete wherever possible.
  std::optional<Error> open_file(const std::string &keep) {
    const char *tmp_dir = g_get_tmp_dir();
    if (keep.empty()) {
      fd = open_unnamed(tmp_dir);
      if (fd >= 0) return std::nullopt;
      g_autoptr(GError) gerror = nullptr;
      g_autofree gchar *path = nullptr;
      fd = g_file_open_tmp("grokimagine-XXXXXX.mp4", &path, &gerror);
      if (fd < 0)
        return Error{ErrorKind::Io,
                     std::string("cannot create a temporary file: ") + gerror->message,
                     {},
                     0};
      // Anonymous: the clip goes away with us.
      g_unlink(path);
      return std::nullopt;
    }
    keep_path = keep;
    g_autofree gchar *dir = g_path_get_dirname(keep.c_str());
    g_autofree gchar *base = g_path_get_basename(keep.c_str());
    auto cannot_write = [&](int code) {
      return Error{ErrorKind::Io,
                   "Property 'location': cannot write beside '" + keep + "': " + g_strerror(code),
                   {},
                   0};
    };
    remove_stale_parts(dir, base, log_id());
    fd = open_unnamed(dir);
    if (fd >= 0) {
      unnamed = true;
    } else {
      if (!unnamed_unsupported(errno)) return cannot_write(errno);
      g_autofree gchar *temp =
          g_build_filename(dir, (part_prefix(base) + "XXXXXX" + kPartSuffix).c_str(), nullptr);
      // 0666 & ~umask, as filesink creates files (mkstemp's 0600 would hide
      // the clip from the group).
      fd = g_mkstemp_full(temp, O_RDWR | O_CLOEXEC, 0666);
      if (fd < 0) return cannot_write(errno);
      temp_path = temp;
    }
    // Tells remove_stale_parts() that this one is alive, once it has a name.
    flock(fd, LOCK_EX | LOCK_NB);
    return std::nullopt;
  }
};

Download::Download(std::shared_ptr<State> state) : state_(std::move(state)) {}

Download::~Download() {
  g_cancellable_cancel(state_->cancellable.get());
  // libsoup objects must die on the I/O thread: hand our reference over so
  // that the last one is dropped there, by us or by a pending callback.
  HttpClient::instance().invoke(
      [state = std::move(state_)](SoupSession *) mutable { state.reset(); });
}

std::unique_ptr<Download> Download::open_file(const std::string &path, Error *error) {
  auto state = std::make_shared<State>(RetryPolicy(JobTiming{}));
  state->fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat info;
  if (state->fd < 0 || fstat(state->fd, &info) != 0) {
    *error = Error{
        ErrorKind::Io, "cannot open the cached clip '" + path + "': " + g_strerror(errno), {}, 0};
    return nullptr;
  }
  state->downloaded = std::uint64_t(info.st_size);
  state->total = state->downloaded;
  state->finished = true;
  return std::unique_ptr<Download>(new Download(state));
}

HttpRequest Download::media_get(const std::string &url, const std::string &log_id) {
  HttpRequest get{"GET", url, {}, {}};
  get.follow_redirects = true;
  get.log_id = log_id;
  return get;
}

std::unique_ptr<Download> Download::start(const HttpRequest &request, const std::string &keep_path,
                                          std::uint64_t max_bytes, const RetryPolicy &policy,
                                          Error *error) {
  init_logging();
  auto state = std::make_shared<State>(policy);
  state->http = request;
  state->max_bytes = max_bytes;
  const std::string &url = request.url;
  if (!g_uri_is_valid(url.c_str(), G_URI_FLAGS_NONE, nullptr) ||
      !(g_str_has_prefix(url.c_str(), "http://") || g_str_has_prefix(url.c_str(), "https://"))) {
    *error = Error{ErrorKind::Protocol, "the provider named an invalid video URL", {}, 0};
    return nullptr;
  }
  if (auto failure = state->open_file(keep_path)) {
    *error = *failure;
    return nullptr;
  }
  HttpClient::instance().invoke([state](SoupSession *) { state->begin(); });
  return std::unique_ptr<Download>(new Download(state));
}

Download::Wait Download::wait_for(std::uint64_t end, GCancellable *cancellable) {
  State &s = *state_;
  CancelWakeup wakeup(cancellable, s.mutex, s.changed);
  std::unique_lock<std::mutex> lock(s.mutex);
  s.changed.wait(lock, [&] {
    return s.downloaded >= end || s.finished || s.failed || g_cancellable_is_cancelled(cancellable);
  });
  if (s.downloaded >= end) return Wait::Ready;
  if (s.failed) return Wait::Failed;
  if (s.finished) return Wait::End;
  return Wait::Cancelled;
}

std::int64_t Download::read(std::uint64_t offset, void *dest, std::size_t size) const {
  return pread(state_->fd, dest, size, off_t(offset));
}

std::optional<std::uint64_t> Download::size() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->total;
}

std::uint64_t Download::downloaded() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->downloaded;
}

Error Download::error() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->error;
}

std::string Download::error_body() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->error_body;
}

}  // namespace grokimagine
