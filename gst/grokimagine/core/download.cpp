#include "download.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "cancellable.h"
#include "gobject-ptr.h"
#include "http.h"

namespace grokimagine {

namespace {
constexpr int kMaxAttempts = 6;
constexpr gsize kChunkBytes = 64 * 1024;
constexpr gsize kMaxErrorBodyBytes = 64 * 1024;
}  // namespace

struct Download::State : std::enable_shared_from_this<Download::State> {
  HttpRequest http;
  std::string keep_path;
  std::string temp_path;  // only with keep_path
  int fd = -1;
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
  int attempts = 0;
  bool reading_error_body = false;
  std::uint64_t discard = 0;  // bytes to skip when a server ignored our Range
  GObjectPtr<SoupMessage> message;
  GObjectPtr<GInputStream> stream;
  GSource *send_guard = nullptr;  // from send_async()

  ~State() {
    drop_send_guard();
    if (fd >= 0) close(fd);
    if (!temp_path.empty()) g_unlink(temp_path.c_str());
  }

  // Hands a strong reference to an asynchronous callback.
  gpointer hold() { return new std::shared_ptr<State>(shared_from_this()); }
  static std::shared_ptr<State> take(gpointer data) {
    std::unique_ptr<std::shared_ptr<State>> held(static_cast<std::shared_ptr<State> *>(data));
    return *held;
  }

  // Only a GET can be repeated: a repeated POST is a second job.
  bool repeatable() const { return http.method == "GET"; }

  void request() {
    message = GObjectPtr<SoupMessage>::adopt(HttpClient::new_message(http));
    if (!http.follow_redirects) soup_message_add_flags(message.get(), SOUP_MESSAGE_NO_REDIRECT);
    std::uint64_t from = current();
    if (from > 0) {
      g_autofree gchar *range = g_strdup_printf("bytes=%" G_GUINT64_FORMAT "-", from);
      soup_message_headers_replace(soup_message_get_request_headers(message.get()), "Range", range);
    }
    HttpClient &client = HttpClient::instance();
    // Not soup_session_send_async() with `cancellable`, which ~Download
    // fires from the streaming thread: see send_async() in http.cpp.
    drop_send_guard();
    send_guard = send_async(repeatable() ? client.session() : client.patient_session(),
                            message.get(), cancellable.get(), on_sent, hold());
  }

  void drop_send_guard() {
    if (!send_guard) return;
    g_source_destroy(send_guard);
    g_source_unref(send_guard);
    send_guard = nullptr;
  }

  std::uint64_t current() {
    std::lock_guard<std::mutex> lock(mutex);
    return downloaded;
  }

  static void on_sent(GObject *source, GAsyncResult *result, gpointer data) {
    auto self = take(data);
    g_autoptr(GError) error = nullptr;
    GInputStream *stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
    if (!stream) {
      self->retry_or_fail(ErrorKind::Network, std::string("video download: ") + error->message, 0,
                          g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
                          never_reached_server(error));
      return;
    }
    keep_message_with_stream(stream, self->message.get());
    self->stream = GObjectPtr<GInputStream>::adopt(stream);
    self->start_body();
  }

  void start_body() {
    unsigned status = soup_message_get_status(message.get());
    SoupMessageHeaders *headers = soup_message_get_response_headers(message.get());
    if ((status >= 500 || status == 429) && repeatable()) {
      retry_or_fail(ErrorKind::Network, "the video host answered HTTP " + std::to_string(status),
                    status, false, false);
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
    } else {
      // The whole clip again: skip what we already have.
      discard = from;
      goffset content_length = soup_message_headers_get_content_length(headers);
      if (content_length > 0) set_total(std::uint64_t(content_length));
    }
    read_more();
  }

  void set_total(std::uint64_t size) {
    std::lock_guard<std::mutex> lock(mutex);
    total = size;
  }

  void read_more() {
    g_input_stream_read_bytes_async(stream.get(), kChunkBytes, G_PRIORITY_DEFAULT,
                                    cancellable.get(), on_read, hold());
  }

  static void on_read(GObject *source, GAsyncResult *result, gpointer data) {
    auto self = take(data);
    g_autoptr(GError) error = nullptr;
    g_autoptr(GBytes) chunk =
        g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
    if (!chunk) {
      self->retry_or_fail(ErrorKind::Network, std::string("video download: ") + error->message, 0,
                          g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED), false);
      return;
    }
    gsize size = 0;
    const auto *bytes = static_cast<const guint8 *>(g_bytes_get_data(chunk, &size));
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
    self->attempts = 0;
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
      retry_or_fail(ErrorKind::Network,
                    "the video body ended after " + std::to_string(have) + " of " +
                        std::to_string(*expected) + " bytes",
                    0, false, false);
      return;
    }
    if (!keep_path.empty()) {
      if (g_rename(temp_path.c_str(), keep_path.c_str()) != 0) {
        fail(ErrorKind::Io,
             "cannot move the video to location '" + keep_path + "': " + g_strerror(errno), 0);
        return;
      }
      temp_path.clear();
    }
    release_body();
    {
      std::lock_guard<std::mutex> lock(mutex);
      total = have;
      finished = true;
    }
    changed.notify_all();
  }

  void retry_or_fail(ErrorKind kind, const std::string &why, unsigned status, bool cancelled,
                     bool not_sent) {
    if (cancelled) {
      fail(ErrorKind::Cancelled, "cancelled", 0);
      return;
    }
    if (++attempts >= kMaxAttempts || !(repeatable() || not_sent)) {
      fail(kind, why + " (gave up after " + std::to_string(attempts) + " attempts)", status);
      return;
    }
    guint delay_ms = std::min(250u << attempts, 8000u);
    g_autoptr(GSource) timer = g_timeout_source_new(delay_ms);
    g_source_set_callback(
        timer,
        [](gpointer data) -> gboolean {
          auto self = take(data);
          if (!g_cancellable_is_cancelled(self->cancellable.get()))
            HttpClient::instance().invoke([self](SoupSession *) { self->request(); });
          else
            self->fail(ErrorKind::Cancelled, "cancelled", 0);
          return G_SOURCE_REMOVE;
        },
        hold(), nullptr);
    g_source_attach(timer, g_main_context_get_thread_default());
  }

  void fail(ErrorKind kind, std::string why, unsigned status) {
    // Before readers hear of the failure: `location` never holds a partial clip.
    if (!temp_path.empty()) g_unlink(temp_path.c_str());
    temp_path.clear();
    release_body();
    {
      std::lock_guard<std::mutex> lock(mutex);
      failed = true;
      error = Error{kind, std::move(why), {}, status};
    }
    changed.notify_all();
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

std::unique_ptr<Download> Download::start(const std::string &url, const std::string &keep_path,
                                          std::uint64_t max_bytes, Error *error) {
  HttpRequest get{"GET", url, {}, {}};
  get.follow_redirects = true;
  return start(get, keep_path, max_bytes, error);
}

std::unique_ptr<Download> Download::start(const HttpRequest &request, const std::string &keep_path,
                                          std::uint64_t max_bytes, Error *error) {
  auto state = std::make_shared<State>();
  state->http = request;
  state->max_bytes = max_bytes;
  const std::string &url = request.url;
  if (!g_uri_is_valid(url.c_str(), G_URI_FLAGS_NONE, nullptr) ||
      !(g_str_has_prefix(url.c_str(), "http://") || g_str_has_prefix(url.c_str(), "https://"))) {
    *error = Error{ErrorKind::Protocol, "the provider named an invalid video URL", {}, 0};
    return nullptr;
  }
  if (keep_path.empty()) {
    g_autoptr(GError) gerror = nullptr;
    g_autofree gchar *path = nullptr;
    state->fd = g_file_open_tmp("grokimagine-XXXXXX.mp4", &path, &gerror);
    if (state->fd < 0) {
      *error = Error{
          ErrorKind::Io, std::string("cannot create a temporary file: ") + gerror->message, {}, 0};
      return nullptr;
    }
    // Anonymous: the clip goes away with us, even after a crash.
    g_unlink(path);
  } else {
    g_autofree gchar *dir = g_path_get_dirname(keep_path.c_str());
    g_autofree gchar *base = g_path_get_basename(keep_path.c_str());
    g_autofree gchar *temp =
        g_build_filename(dir, (std::string(".") + base + ".XXXXXX.part").c_str(), nullptr);
    state->fd = g_mkstemp(temp);
    if (state->fd < 0) {
      *error = Error{
          ErrorKind::Io,
          "Property 'location': cannot write beside '" + keep_path + "': " + g_strerror(errno),
          {},
          0};
      return nullptr;
    }
    state->temp_path = temp;
    state->keep_path = keep_path;
  }
  HttpClient::instance().invoke([state](SoupSession *) { state->request(); });
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
