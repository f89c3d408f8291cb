// SPDX-License-Identifier: LGPL-2.1-or-later
#include "download.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "clip-file.h"
#include "download-progress.h"
#include "gobject-ptr.h"
#include "http.h"
#include "log.h"
#include "mp4.h"
#include "request.h"
#include "widening.h"

namespace grokimagine {

namespace {

constexpr gsize kChunkBytes = 64 * 1024;
constexpr gsize kMaxErrorBodyBytes = 64 * 1024;
// The throughput floor of the stall rule, as curl's low-speed limit: below
// it over a whole request-timeout window, an attempt is cut and resumed. A
// byte every few seconds keeps a connection open but never a clip coming.
constexpr std::uint64_t kMinBytesPerSecond = 1024;
constexpr std::uint64_t kUnknown = std::numeric_limits<std::uint64_t>::max();
// A connection takes the back half of another's part only when that leaves
// both at least this much (a part is one request: one round trip before
// its body); a seek ahead cuts a part only this far behind it.
constexpr std::uint64_t kMinPart = 256 << 10;
// The first bytes, kept to tell an MP4 from an error page and to find
// where the moov is.
constexpr std::size_t kHeadBytes = 4096;
// The most moov bytes read to find where the first frame ends.
constexpr std::uint64_t kMaxMoovBytes = 16 << 20;

bool looks_like_mp4(const std::string &head) {
  static const char *const kBoxes[] = {"ftyp", "moov", "mdat", "free", "skip",
                                       "wide", "pnot", "uuid", "styp", "sidx"};
  for (const char *box : kBoxes)
    if (head.compare(4, 4, box) == 0) return true;
  return false;
}

}  // namespace

struct Fetch;

struct Download::State : std::enable_shared_from_this<Download::State> {
  explicit State(const RetryPolicy &retry) : policy(retry) {}
  ~State();

  HttpRequest http;
  RetryPolicy policy;
  std::uint64_t max_bytes = 0;  // 0: no limit
  unsigned connections = 1;
  ClipFile file;
  DownloadProgress progress;
  // Fired by ~Download, from any thread.
  GObjectPtr<GCancellable> cancellable = GObjectPtr<GCancellable>::adopt(g_cancellable_new());

  // I/O thread only.
  std::vector<std::unique_ptr<Fetch>> fetches;
  ByteRanges claimed;  // bytes some fetch has taken (received or on their way)
  std::optional<std::uint64_t> size;
  bool ranged = false;  // the CDN answered a Range with 206: parts may go in parallel
  bool layout_known = false;
  std::string head;
  // Head first: where the moov is ([begin, end): the moov itself, or all
  // the boxes after the mdat), and where the first video frames a decoder
  // needs end, read from it (0: unknown, the moov is all there is to wait
  // for). Until those bytes are here the clip comes over one connection.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> moov_region;
  std::optional<std::uint64_t> first_frame_end;
  bool head_here = false;
  // Where a reader waited before a part could be placed (reader_waits).
  std::optional<std::uint64_t> early_reader;
  bool first_bytes_seen = false;
  Widening widening{1};             // set with `connections`
  std::vector<int> probes_waiting;  // the fetches on trial whose bodies have not begun
  GSource *probe_timer = nullptr;
  int requests = 0;  // sent, for the log
  bool done = false;
  GSource *deadline_timer = nullptr;
  bool out_of_time = false;

  const char *log_id() const { return grokimagine::log_id(http.log_id); }
  // Only a GET can be repeated: a repeated POST is a second job.
  bool repeatable() const { return http.method == "GET"; }

  GSource *add_timer(std::chrono::milliseconds delay, std::function<void(State &)> fire,
                     gboolean repeat = FALSE);
  static void drop_source(GSource *&source) {
    if (!source) return;
    g_source_destroy(source);
    g_source_unref(source);
    source = nullptr;
  }

  void begin();
  Fetch &idle_fetch();
  Fetch &start_part(std::uint64_t begin, std::uint64_t end, bool extra = false);
  std::optional<std::pair<std::uint64_t, std::uint64_t>> next_part(std::uint64_t from) const;
  unsigned busy() const;
  unsigned going_on() const;
  std::vector<int> fill();
  Fetch *steal();
  bool learn_size(std::uint64_t bytes);
  bool store(std::uint64_t offset, const guint8 *bytes, gsize length);
  void read_layout();
  void check_head();
  std::uint64_t read_first_frame_end() const;
  void body_began(const Fetch &fetch);
  void open_probes();
  void judge_probes(bool final);
  void let_go(unsigned width);
  void part_done();
  void reader_waits(std::uint64_t offset);
  // A fetch taking bytes [at, ...) that another should take sooner: it
  // stops at `at`, which is no longer claimed.
  bool split_at(std::uint64_t at);
  void complete();
  void fail(ErrorKind kind, std::string why, unsigned status, std::string body = {});
};

// One connection's worth of the download: fetches the part [pos, end) of
// the clip (end kUnknown: to the end of the body), one GET at a time,
// resuming with Range after a failed attempt. Each fetch follows the retry
// policy on its own: the stall rule cuts its attempts, and its attempts
// count as failed in a row until one brings new bytes.
struct Fetch {
  Download::State *owner;
  int id;
  bool busy = false;
  std::uint64_t pos = 0;
  std::uint64_t end = kUnknown;
  // This attempt's body has begun: the part has a lead over a new one.
  bool flowing = false;
  // The part ends within a round trip: the next one has been asked for, so
  // that its first bytes come as this one's last do.
  bool following = false;

  int attempts = 0;
  int failures = 0;  // failed attempts in a row without progress
  std::uint64_t attempt_from = 0;
  gint64 attempt_started_us = 0;
  GObjectPtr<SoupMessage> message;
  GObjectPtr<GInputStream> stream;
  // One per attempt, fired by the download's cancellable, the stall rule or
  // the deadline.
  GObjectPtr<GCancellable> attempt_cancellable;
  gulong attempt_handler = 0;
  GSource *send_guard = nullptr;   // from send_async(), until the next attempt
  GSource *watchdog = nullptr;     // the stall rule, while an attempt runs
  std::uint64_t window_bytes = 0;  // received (kept or skipped) in the current window
  bool stalled = false;
  std::uint64_t discard = 0;   // bytes to skip when a server ignored our Range
  std::uint64_t body_end = 0;  // where this answer's body ends in the clip (kUnknown)
  bool reading_error_body = false;
  std::string error_body;  // what came with an HTTP error status

  const char *log_id() const { return owner->log_id(); }
  gint64 attempt_ms() const { return (g_get_monotonic_time() - attempt_started_us) / 1000; }

  void start(std::uint64_t begin, std::uint64_t stop) {
    busy = true;
    pos = begin;
    end = stop;
    following = false;
    attempts = 0;
    failures = 0;
    request();
  }

  void request() {
    attempts++;
    owner->requests++;
    attempt_from = pos;
    attempt_started_us = g_get_monotonic_time();
    stalled = false;
    flowing = false;
    const HttpRequest &http = owner->http;
    message = GObjectPtr<SoupMessage>::adopt(HttpClient::new_message(http));
    if (!http.follow_redirects) soup_message_add_flags(message.get(), SOUP_MESSAGE_NO_REDIRECT);
    std::string range;
    // bytes=0- too: a 206 to it says the CDN takes Range (a moov at the end
    // may then be fetched apart) and costs nothing where it does not.
    if (owner->repeatable())
      range = "bytes=" + std::to_string(pos) + "-" +
              (end != kUnknown ? std::to_string(end - 1) : std::string());
    if (!range.empty())
      soup_message_headers_replace(soup_message_get_request_headers(message.get()), "Range",
                                   range.c_str());
    if (pos > 0 && attempts > 1)
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "%s %s (attempt %d), resuming with Range: %s", http.method.c_str(),
                      loggable_url(http.url).c_str(), attempts, range.c_str());
    else
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(), "%s %s (attempt %d)%s%s",
                      http.method.c_str(), loggable_url(http.url).c_str(), attempts,
                      range.empty() ? "" : ", Range: ", range.c_str());
    attempt_cancellable = GObjectPtr<GCancellable>::adopt(g_cancellable_new());
    attempt_handler = g_cancellable_connect(
        owner->cancellable.get(),
        G_CALLBACK(+[](GCancellable *, gpointer own) { g_cancellable_cancel(G_CANCELLABLE(own)); }),
        attempt_cancellable.get(), nullptr);
    // A GET's answer must start within the window too; a POST's answer
    // comes when the generation is done, which only the deadline bounds.
    if (owner->repeatable()) start_watchdog();
    HttpClient &client = HttpClient::instance();
    auto *held = new std::pair(owner->shared_from_this(), this);
    // Not soup_session_send_async() with attempt_cancellable, which
    // ~Download fires from the streaming thread: see send_async() in http.cpp.
    drop_send_guard();
    send_guard = send_async(
        owner->repeatable() ? client.session() : client.patient_session(), message.get(),
        attempt_cancellable.get(),
        [](GObject *source, GAsyncResult *result, gpointer data) {
          std::unique_ptr<std::pair<std::shared_ptr<Download::State>, Fetch *>> held(
              static_cast<std::pair<std::shared_ptr<Download::State>, Fetch *> *>(data));
          held->second->on_sent(SOUP_SESSION(source), result);
        },
        held);
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
    const RetryPolicy &policy = owner->policy;
    watchdog = owner->add_timer(
        std::chrono::duration_cast<std::chrono::milliseconds>(policy.timing().request_timeout),
        [this](Download::State &) {
          const auto window_s = owner->policy.timing().request_timeout.count();
          const std::uint64_t floor = kMinBytesPerSecond * std::uint64_t(window_s);
          if (window_bytes >= floor || stalled) {
            window_bytes = 0;
            return;
          }
          GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                          "stalled: %" G_GUINT64_FORMAT " bytes in the last %" G_GINT64_FORMAT
                          " s (request-timeout), under %" G_GUINT64_FORMAT
                          "; cutting attempt %d at byte %" G_GUINT64_FORMAT,
                          window_bytes, gint64(window_s), floor, attempts, pos);
          stalled = true;
          g_cancellable_cancel(attempt_cancellable.get());
        },
        TRUE);
  }

  // Ends the attempt's resources; the outcome is up to the caller.
  void end_attempt() {
    Download::State::drop_source(watchdog);
    if (attempt_cancellable) g_cancellable_disconnect(owner->cancellable.get(), attempt_handler);
    attempt_handler = 0;
    attempt_cancellable = {};
    // Closing the body is what hands the connection back to libsoup's
    // pool; reading it to the end is not enough.
    if (stream) g_input_stream_close(stream.get(), nullptr, nullptr);
    stream = {};
    message = {};
  }

  // Stops an attempt whose body may be being read: its pending read ends
  // cancelled and finds the download over.
  void cut() {
    if (attempt_cancellable) g_cancellable_cancel(attempt_cancellable.get());
  }

  void on_sent(SoupSession *session, GAsyncResult *result) {
    g_autoptr(GError) error = nullptr;
    GInputStream *body = soup_session_send_finish(session, result, &error);
    if (owner->done) {
      if (body) g_object_unref(body);
      end_attempt();
      return;
    }
    if (!body) {
      attempt_failed(ErrorKind::Network, std::string("video download: ") + error->message, 0, error,
                     never_reached_server(error), {});
      return;
    }
    keep_message_with_stream(body, message.get());
    stream = GObjectPtr<GInputStream>::adopt(body);
    start_body();
  }

  void read() {
    auto state = owner->shared_from_this();
    read_body(
        stream.get(), attempt_cancellable.get(), kChunkBytes,
        [state, this](const guint8 *bytes, gsize size) { return take(bytes, size); },
        [state, this](const GError *error) { body_ended(error); });
  }

  void start_body() {
    const HttpRequest &http = owner->http;
    const unsigned status = soup_message_get_status(message.get());
    SoupMessageHeaders *headers = soup_message_get_response_headers(message.get());
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                    "%s %s (attempt %d): HTTP %u after %" G_GINT64_FORMAT " ms",
                    http.method.c_str(), loggable_url(http.url).c_str(), attempts, status,
                    attempt_ms());
    if (!owner->repeatable()) start_watchdog();
    if (http_status_is_transient(status) && owner->repeatable()) {
      const char *retry_after = soup_message_headers_get_one(headers, "Retry-After");
      attempt_failed(ErrorKind::Network, "the video host answered HTTP " + std::to_string(status),
                     status, nullptr, false, retry_after ? retry_after : "");
      return;
    }
    if (status >= 300 && !owner->repeatable()) {
      // The caller maps the provider's answer; read what it said.
      reading_error_body = true;
      read();
      return;
    }
    if (status != 200 && status != 206) {
      const ErrorKind kind = media_status_kind(status);
      owner->fail(kind,
                  "the video URL answered HTTP " + std::to_string(status) +
                      (kind == ErrorKind::NotFound ? " (the link may have expired)" : ""),
                  status);
      return;
    }
    // Asked for as it is: an encoded body's length is not the clip's, and
    // a decoded one would end at the encoded length, cut short.
    const char *encoding = soup_message_headers_get_one(headers, "Content-Encoding");
    if (encoding && g_ascii_strcasecmp(encoding, "identity") != 0) {
      owner->fail(ErrorKind::Protocol,
                  std::string("the video host sent the clip encoded (Content-Encoding: ") +
                      encoding + ") though it was asked for as it is",
                  status);
      return;
    }
    const char *content_type = soup_message_headers_get_content_type(headers, nullptr);
    if (content_type &&
        (g_str_has_prefix(content_type, "text/") || g_str_has_suffix(content_type, "/json"))) {
      owner->fail(ErrorKind::Protocol,
                  std::string("the video URL sent ") + content_type + " instead of an MP4", status);
      return;
    }
    goffset start = 0, last = 0, length = 0;
    // A 206 says which bytes it holds; without that they cannot be placed.
    const bool placed =
        status == 206 && soup_message_headers_get_content_range(headers, &start, &last, &length);
    if (status == 206 && !placed) {
      owner->fail(ErrorKind::Protocol,
                  "the video host answered a Range with a 206 without "
                  "Content-Range: which bytes it holds is unknown",
                  status);
      return;
    }
    if (placed) {
      if (std::uint64_t(start) > pos) {
        attempt_failed(ErrorKind::Protocol,
                       "the video host answered bytes from " + std::to_string(start) +
                           " to a Range from " + std::to_string(pos),
                       status, nullptr, false, {});
        return;
      }
      body_end = std::uint64_t(last) + 1;
      // Without the clip's length (bytes a-b/*): the first request, open
      // ended, is answered to the clip's end, which gives the length.
      if (length <= 0 && end == kUnknown) length = goffset(body_end);
      if (length > 0 && !owner->learn_size(std::uint64_t(length))) return;
      end = owner->size ? std::min(end, *owner->size) : std::min(end, body_end);
      owner->ranged = true;
      discard = pos - std::uint64_t(start);
      if (attempts > 1 && pos > 0)
        GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                        "resuming at byte %" G_GUINT64_FORMAT
                        ": HTTP 206 from byte %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                        pos, gint64(start), gint64(length));
    } else {
      // The whole clip (again): skip what comes before this part.
      discard = pos;
      const goffset announced = soup_message_headers_get_content_length(headers);
      // Once the CDN has answered a Range, a 200 must show it holds the
      // whole clip: one of unknown length could be only the part asked for.
      if (owner->ranged && announced <= 0) {
        owner->fail(ErrorKind::Protocol,
                    "the video host answered a Range with a 200 of unknown length: whether it "
                    "holds the whole clip is unknown",
                    status);
        return;
      }
      body_end = announced > 0 ? std::uint64_t(announced) : kUnknown;
      if (announced > 0 && !owner->learn_size(std::uint64_t(announced))) return;
      if (!owner->ranged) {
        // No Range here: this fetch is the whole download, one body in order.
        end = owner->size ? *owner->size : kUnknown;
        owner->claimed.add(0, kUnknown);
      }
      if (pos > 0)
        GST_CAT_INFO_ID(
            grokimagine_download_debug, log_id(),
            "resuming at byte %" G_GUINT64_FORMAT
            ": HTTP %u with the whole clip (Range ignored), discarding %" G_GUINT64_FORMAT " bytes",
            pos, status, pos);
    }
    flowing = true;
    owner->body_began(*this);
    read();
  }

  // A chunk of the body. Whether to read on.
  bool take(const guint8 *bytes, gsize size) {
    if (owner->done) return stop();
    window_bytes += size;
    if (reading_error_body) {
      error_body.append(reinterpret_cast<const char *>(bytes), size);
      if (error_body.size() < kMaxErrorBodyBytes) return true;
      error_ended();
      return false;
    }
    const gsize skip = gsize(std::min<std::uint64_t>(discard, size));
    discard -= skip;
    const gsize keep = gsize(std::min<std::uint64_t>(size - skip, end - pos));
    if (keep > 0) {
      if (!owner->store(pos, bytes + skip, keep)) return stop();
      pos += keep;
      if (!following && end != kUnknown && pos < end &&
          end - pos <= owner->widening.round_trip_bytes()) {
        following = true;
        owner->fill();
      }
    }
    GST_CAT_LOG_ID(grokimagine_download_debug, log_id(),
                   "fetch %d: %" G_GSIZE_FORMAT " bytes (%" G_GSIZE_FORMAT
                   " skipped), at byte %" G_GUINT64_FORMAT,
                   id, size, skip, pos);
    if (pos < end) return true;
    // The part is here: read the body to its end where it ends here, so
    // that the connection can serve the next request; otherwise drop it.
    if (body_end == end && skip + keep == size) return true;
    finish_part();
    return false;
  }

  bool stop() {
    end_attempt();
    return false;
  }

  void error_ended() {
    const unsigned status = soup_message_get_status(message.get());
    owner->fail(ErrorKind::Protocol, "HTTP " + std::to_string(status), status, error_body);
  }

  void body_ended(const GError *error) {
    if (owner->done) {
      end_attempt();
      return;
    }
    if (error) {
      attempt_failed(ErrorKind::Network, std::string("video download: ") + error->message, 0, error,
                     false, {});
      return;
    }
    if (reading_error_body) {
      error_ended();
      return;
    }
    if (end != kUnknown && pos < end) {
      attempt_failed(ErrorKind::Network,
                     "the video body ended after " + std::to_string(pos) + " of " +
                         std::to_string(owner->size && owner->size < end ? *owner->size : end) +
                         " bytes",
                     0, nullptr, false, {});
      return;
    }
    if (end == kUnknown && !owner->learn_size(pos)) return;
    finish_part();
  }

  void finish_part() {
    end_attempt();
    busy = false;
    owner->part_done();
  }

  // One attempt failed; retry it per the policy, or fail the download.
  void attempt_failed(ErrorKind kind, const std::string &why, unsigned status, const GError *error,
                      bool not_sent, const std::string &retry_after) {
    const RetryPolicy &policy = owner->policy;
    const bool was_cut = error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    const bool was_stalled = stalled;
    end_attempt();
    if (owner->done) return;
    if (g_cancellable_is_cancelled(owner->cancellable.get())) {
      owner->fail(ErrorKind::Cancelled, "cancelled", 0);
      return;
    }
    if (owner->out_of_time) {
      owner->fail(ErrorKind::Timeout,
                  "the clip did not arrive within the timeout of " +
                      std::to_string(policy.timing().timeout.count()) + " s",
                  0);
      return;
    }
    std::string reason = why;
    if (was_cut && was_stalled)
      reason = "the video download stalled (under " + std::to_string(kMinBytesPerSecond) +
               " bytes/s for request-timeout, " +
               std::to_string(policy.timing().request_timeout.count()) + " s)";
    // Progress is new bytes on disk, at a rate the stall rule accepts: a
    // CDN that cuts every body at the same byte, or trickles, runs out of
    // attempts rather than retrying for ever.
    if (!was_stalled && pos > attempt_from) failures = 0;
    failures++;
    if (!(owner->repeatable() || not_sent)) {
      // A POST whose answer is the clip is a paid submit: never again.
      owner->fail(kind, reason, status);
      return;
    }
    const auto decision = policy.after_failure(failures, retry_after);
    if (decision.verdict != RetryPolicy::Verdict::Retry) {
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "attempt %d failed: %s; giving up, %d attempt(s) in a row without progress",
                      attempts, reason.c_str(), failures);
      owner->fail(decision.verdict == RetryPolicy::Verdict::OutOfTime ? ErrorKind::Timeout : kind,
                  reason + " " + decision.reason + " without progress", status);
      return;
    }
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                    "attempt %d failed after %" G_GINT64_FORMAT " ms at byte %" G_GUINT64_FORMAT
                    ": %s; retry in %" G_GINT64_FORMAT " ms (%d of %d attempts without progress)",
                    attempts, attempt_ms(), pos, reason.c_str(), gint64(decision.wait.count()),
                    failures, policy.max_attempts());
    GSource *timer = owner->add_timer(decision.wait, [this](Download::State &self) {
      if (self.done) return;
      if (g_cancellable_is_cancelled(self.cancellable.get()))
        self.fail(ErrorKind::Cancelled, "cancelled", 0);
      else if (self.out_of_time)
        attempt_failed(ErrorKind::Timeout, "out of time", 0, nullptr, false, {});
      else if (end != kUnknown && pos >= end)
        finish_part();  // cut short meanwhile (a probe let go): nothing left to ask for
      else
        request();
    });
    g_source_unref(timer);  // the context holds it until it fires
  }
};

Download::State::~State() {
  for (auto &fetch : fetches) {
    drop_source(fetch->watchdog);
    fetch->drop_send_guard();
  }
  drop_source(deadline_timer);
  drop_source(probe_timer);
}

// Timers only need the State if it is still there: a weak reference, so a
// pending retry does not keep a stopped download's file open.
GSource *Download::State::add_timer(std::chrono::milliseconds delay,
                                    std::function<void(State &)> fire, gboolean repeat) {
  struct Timer {
    std::weak_ptr<State> state;
    std::function<void(State &)> fire;
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
      new Timer{weak_from_this(), std::move(fire), repeat},
      [](gpointer data) { delete static_cast<Timer *>(data); });
  g_source_attach(timer, g_main_context_get_thread_default());
  return timer;
}

void Download::State::begin() {
  if (policy.deadline() != RetryPolicy::kNoDeadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        policy.deadline() - RetryPolicy::Clock::now());
    deadline_timer = add_timer(left, [](State &self) {
      GST_CAT_INFO_ID(grokimagine_download_debug, self.log_id(),
                      "the timeout of %" G_GINT64_FORMAT " s ran out",
                      gint64(self.policy.timing().timeout.count()));
      self.out_of_time = true;
      for (auto &fetch : self.fetches) fetch->cut();
    });
  }
  // Head first: the whole clip is asked for as one open-ended Range, as
  // souphttpsrc asks, so that the bytes the decoder waits for have the
  // whole link. Its answer tells whether the CDN takes Range (206) or sends
  // the whole clip (200: then one body in order), the size, and the layout;
  // the part is cut where a moov at the end, a seek ahead or another
  // connection needs bytes sooner. A POST is one body.
  start_part(0, kUnknown);
}

Fetch &Download::State::idle_fetch() {
  for (auto &fetch : fetches)
    if (!fetch->busy) return *fetch;
  auto fetch = std::make_unique<Fetch>();
  fetch->owner = this;
  fetch->id = int(fetches.size());
  fetches.push_back(std::move(fetch));
  return *fetches.back();
}

Fetch &Download::State::start_part(std::uint64_t begin, std::uint64_t end, bool extra) {
  claimed.add(begin, end);
  Fetch &fetch = idle_fetch();
  if (fetch.id > 0 || extra)
    GST_CAT_DEBUG_ID(grokimagine_download_debug, log_id(),
                     "fetch %d: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "%s", fetch.id,
                     begin, end - 1, extra ? " (a reader waits there)" : "");
  fetch.start(begin, end);
  return fetch;
}

unsigned Download::State::busy() const {
  unsigned count = 0;
  for (const auto &fetch : fetches) count += fetch->busy;
  return count;
}

// The busy fetches not about to end (following).
unsigned Download::State::going_on() const {
  unsigned count = 0;
  for (const auto &fetch : fetches) count += fetch->busy && !fetch->following;
  return count;
}

// The next bytes no fetch has taken: where the readers are first (the
// bytes the pipeline waits for), then from the start; a whole gap, one
// request (other connections take halves of it later: steal()).
std::optional<std::pair<std::uint64_t, std::uint64_t>> Download::State::next_part(
    std::uint64_t from) const {
  auto gap = claimed.first_gap(from, *size);
  if (!gap) gap = claimed.first_gap(0, *size);
  return gap;
}

std::optional<Error> Download::check_connections(unsigned connections) {
  if (connections >= 1 && connections <= kMaxConnections) return std::nullopt;
  return invalid_setting("Property 'connections' is " + std::to_string(connections) +
                         ": it takes 1 to " + std::to_string(kMaxConnections) + ".");
}

// Keeps the width's connections busy, counting a part a round trip from
// its end as done (its follower's first bytes then come as its last do);
// returns the fetches it started.
std::vector<int> Download::State::fill() {
  std::vector<int> started;
  if (done || !ranged || !size || !layout_known) return started;
  while (going_on() < widening.width()) {
    if (const auto part = next_part(progress.wanted()))
      started.push_back(start_part(part->first, part->second).id);
    else if (Fetch *stolen = steal())
      started.push_back(stolen->id);
    else
      break;
  }
  return started;
}

// Everything is taken: an idle connection takes the back half of the busy
// part with the most bytes still to come. Every connection then stays busy
// to the end with one request each, where parts of a fixed size would each
// pay a round trip. The part that goes on keeps what it brings while the
// new one's request makes its round trip, so that both end together; a
// part too short for that is left alone.
Fetch *Download::State::steal() {
  Fetch *longest = nullptr;
  for (auto &fetch : fetches)
    if (fetch->busy && fetch->end != kUnknown &&
        (!longest || fetch->end - fetch->pos > longest->end - longest->pos))
      longest = fetch.get();
  if (!longest) return nullptr;
  const std::uint64_t left = longest->end - longest->pos;
  // A part whose body has not begun starts when the new one does.
  const std::uint64_t lead = longest->flowing ? widening.round_trip_bytes() : 0;
  if (left < lead || left - lead < 2 * kMinPart) return nullptr;
  const std::uint64_t end = longest->end;
  const std::uint64_t middle = longest->pos + (left + lead) / 2;
  split_at(middle);
  return &start_part(middle, end);
}

bool Download::State::learn_size(std::uint64_t bytes) {
  if (max_bytes && bytes > max_bytes) {
    fail(ErrorKind::Protocol,
         "the video is " + std::to_string(bytes) + " bytes, more than max-size (" +
             std::to_string(max_bytes) + ")",
         0);
    return false;
  }
  if (size && bytes != *size) {
    // A part of another file, or only the part asked for passed off as the
    // whole clip: none of it is stored.
    fail(ErrorKind::Protocol,
         "the video host announced " + std::to_string(bytes) + " bytes, which differs from the " +
             std::to_string(*size) + " it announced before",
         0);
    return false;
  }
  if (!size) {
    size = bytes;
    progress.set_size(bytes);
  }
  return true;
}

bool Download::State::store(std::uint64_t offset, const guint8 *bytes, gsize length) {
  if (max_bytes && offset + length > max_bytes) {
    fail(ErrorKind::Protocol,
         "the video is larger than max-size (" + std::to_string(max_bytes) + " bytes)", 0);
    return false;
  }
  if (head.size() < kHeadBytes && offset <= head.size() && offset + length > head.size()) {
    const bool had_type = head.size() >= 8;
    head.append(reinterpret_cast<const char *>(bytes) + (head.size() - offset),
                std::min<std::size_t>(kHeadBytes, offset + length) - head.size());
    if (!had_type && head.size() >= 8 && !looks_like_mp4(head)) {
      g_autofree gchar *shown = g_strescape(head.substr(0, 8).c_str(), nullptr);
      fail(ErrorKind::Protocol,
           std::string("the video URL sent something that is not an MP4 (it starts with \"") +
               shown + "\")",
           0);
      return false;
    }
  }
  if (auto error = file.write(offset, bytes, length)) {
    fail(ErrorKind::Io, error->message, 0);
    return false;
  }
  progress.add(offset, length);
  if (!layout_known) read_layout();
  if (!head_here) check_head();
  return true;
}

// Once the head shows the layout: a moov after the mdat is fetched at once,
// beside the head, so that the first frame does not wait for the whole
// clip (a moov is small: it takes little of the link from the head).
void Download::State::read_layout() {
  if (!ranged || !size) return;
  const mp4::Layout layout = mp4::find_layout(head, *size, kHeadBytes);
  if (!layout.decided) return;
  layout_known = true;
  if (layout.moov_begin) moov_region = std::pair(*layout.moov_begin, *layout.moov_end);
  if (layout.tail) {
    moov_region = std::pair(*layout.tail, *size);
    split_at(*layout.tail);
    if (!claimed.covers(*layout.tail, *size)) {
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "the moov comes after the mdat: fetching bytes %" G_GUINT64_FORMAT
                      "-%" G_GUINT64_FORMAT " first",
                      *layout.tail, *size - 1);
      start_part(*layout.tail, *size, true);
    }
  }
  fill();
  if (early_reader) {
    const std::uint64_t offset = *std::exchange(early_reader, std::nullopt);
    if (progress.available_from(offset) == 0) reader_waits(offset);
  }
}

// Whether the first frame's bytes are here: the moov, and the clip up to
// where its first video sample ends. Then the download may widen.
void Download::State::check_head() {
  if (done || !layout_known || !size) return;
  if (moov_region && !first_frame_end) {
    const auto [begin, end] = *moov_region;
    if (progress.available_from(begin) < end - begin) return;
    first_frame_end = read_first_frame_end();
  }
  const std::uint64_t head = first_frame_end ? std::min(*first_frame_end, *size) : 0;
  if (progress.available_from(0) < head) {
    if (widening.head_ending(Widening::Clock::now(), progress.received(),
                             head - progress.available_from(0))) {
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "the first frame's bytes are a round trip from here (%" G_GUINT64_FORMAT
                      " of %" G_GUINT64_FORMAT " received)",
                      progress.available_from(0), head);
      open_probes();
    }
    return;
  }
  head_here = true;
  GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                  "the first frame's bytes are here (%" G_GUINT64_FORMAT " received)",
                  progress.received());
  if (widening.head_done(Widening::Clock::now(), progress.received())) open_probes();
}

void Download::State::open_probes() {
  probes_waiting = fill();
  if (probes_waiting.empty())  // the clip is (nearly) here: nothing to share out
    GST_CAT_DEBUG_ID(grokimagine_download_debug, log_id(), "no part left for another connection");
  else
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                    "trying %zu more connection(s), %u in all", probes_waiting.size(),
                    widening.width());
}

// From the moov on disk; 0 when it cannot tell (the moov is then all the
// head waits for).
std::uint64_t Download::State::read_first_frame_end() const {
  const auto [begin, end] = *moov_region;
  if (end - begin > kMaxMoovBytes) return 0;
  std::string bytes(end - begin, '\0');
  if (file.read(begin, bytes.data(), bytes.size()) != std::int64_t(bytes.size())) return 0;
  // A moov at the end may share the tail with other boxes.
  const auto moov = mp4::find_box(mp4::read_from(bytes, begin), begin, end, "moov");
  if (!moov || moov->end > end) return 0;
  // A frame-threaded decoder outputs its first picture only once it has a
  // frame per thread: avdec_h264 (FFmpeg's automatic count) runs one per
  // core and one more, up to 16. The head is those frames, not the first
  // alone: what this machine's decoder reads before its first picture.
  const std::uint64_t frames = std::min(16u, g_get_num_processors() + 1);
  const auto frame =
      mp4::first_frame_end(bytes.substr(moov->begin - begin, moov->end - moov->begin), frames);
  GST_CAT_DEBUG_ID(grokimagine_download_debug, log_id(),
                   "moov at bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                   ": the first video frames end at byte %" G_GUINT64_FORMAT,
                   moov->begin, moov->end - 1, frame.value_or(0));
  return frame.value_or(0);
}

// A fetch's body began: the first connection's starts the rate measured
// before any probe; the last probe's starts their trial.
void Download::State::body_began(const Fetch &fetch) {
  const auto now = Widening::Clock::now();
  if (!first_bytes_seen) {
    first_bytes_seen = true;
    widening.first_bytes(now, progress.received(), std::chrono::milliseconds(fetch.attempt_ms()));
  }
  const auto waiting = std::find(probes_waiting.begin(), probes_waiting.end(), fetch.id);
  if (waiting == probes_waiting.end()) return;
  probes_waiting.erase(waiting);
  if (!probes_waiting.empty()) return;
  widening.probes_answered(now, progress.received(), std::chrono::milliseconds(fetch.attempt_ms()));
  probe_timer = add_timer(widening.early_window(), [](State &self) {
    drop_source(self.probe_timer);
    self.judge_probes(false);
  });
}

// Probes that already pay are kept at once (a cap per connection shows in
// a round trip); others are given the whole window.
void Download::State::judge_probes(bool final) {
  if (done) return;
  const unsigned tried = widening.probes();
  const unsigned before = widening.width() - tried;
  switch (widening.judge(Widening::Clock::now(), progress.received(), final)) {
    case Widening::Verdict::Undecided:
      probe_timer = add_timer(widening.window() - widening.early_window(), [](State &self) {
        drop_source(self.probe_timer);
        self.judge_probes(true);
      });
      return;
    case Widening::Verdict::Widen:
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(), "%u more connection(s) paid (%s)",
                      tried, widening.rates().c_str());
      open_probes();
      return;
    case Widening::Verdict::Enough:
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "%u more connection(s) paid (%s): %u, the most allowed", tried,
                      widening.rates().c_str(), widening.width());
      break;
    case Widening::Verdict::Some:
      // A link that fills before them all: those it is worth stay.
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "%u more connection(s) raised the rate as %u would (%s): staying at %u",
                      tried, widening.width() - before, widening.rates().c_str(), widening.width());
      let_go(widening.width());
      break;
    case Widening::Verdict::Drop:
      // A shared bottleneck: the probes only split the link.
      GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                      "%u more connection(s) did not raise the rate (%s): staying at %u", tried,
                      widening.rates().c_str(), widening.width());
      let_go(widening.width());
      break;
  }
}

// Keeps `width` parts going, those nearest the readers (at or ahead of
// where they wait first): the others (the probes, or a part one took
// meanwhile) end where they are, and what they had not fetched goes back
// to be fetched when a kept one comes near it.
void Download::State::let_go(unsigned width) {
  std::vector<Fetch *> going;
  for (auto &fetch : fetches)
    if (fetch->busy && !fetch->following && fetch->end != kUnknown && fetch->pos < fetch->end)
      going.push_back(fetch.get());
  const std::uint64_t wanted = progress.wanted();
  const auto behind = [wanted](const Fetch *fetch) { return fetch->end <= wanted; };
  std::stable_sort(going.begin(), going.end(), [&](const Fetch *a, const Fetch *b) {
    if (behind(a) != behind(b)) return behind(b);
    return a->pos < b->pos;
  });
  for (std::size_t i = width; i < going.size(); i++) {
    claimed.remove(going[i]->pos, going[i]->end);
    going[i]->end = going[i]->pos;
  }
}

void Download::State::part_done() {
  if (done) return;
  if (size && progress.received() >= *size) {
    complete();
    return;
  }
  fill();
}

bool Download::State::split_at(std::uint64_t at) {
  // Only a fetch far behind `at`: a little further and it is there anyway.
  for (auto &fetch : fetches) {
    if (!fetch->busy || fetch->end <= at || fetch->pos + kMinPart > at) continue;
    GST_CAT_DEBUG_ID(grokimagine_download_debug, log_id(),
                     "fetch %d: ends at byte %" G_GUINT64_FORMAT " (another takes the rest)",
                     fetch->id, at);
    claimed.remove(at, fetch->end);
    fetch->end = at;
    return true;
  }
  return false;
}

void Download::State::reader_waits(std::uint64_t offset) {
  if (done) return;
  // Too early to place a part (the first answer or the layout is not
  // here): kept for when the layout is known, or a seek made at once
  // would wait for everything before it.
  if (!ranged || !size || !layout_known) {
    early_reader = offset;
    return;
  }
  if (offset >= *size) return;
  // A part claims the rest of the clip, or half of it: a seek far ahead of
  // it cuts it there, so that the reader does not wait for everything before.
  if (claimed.covers(offset, offset + 1) && !split_at(offset)) return;
  // A reader jumped ahead of every fetch (a seek): one more connection, so
  // that it does not wait for the parts in flight.
  if (busy() > connections) return;
  const auto part = next_part(offset);
  if (part) start_part(part->first, part->second, true);
}

void Download::State::complete() {
  // A fetch may still read its body to the end: no longer needed.
  for (auto &fetch : fetches) fetch->cut();
  if (auto why = file.publish()) {
    fail(ErrorKind::Io,
         "cannot move the video to location '" + file.keep_path() + "': " + why->message, 0);
    return;
  }
  done = true;
  drop_source(deadline_timer);
  drop_source(probe_timer);
  GST_CAT_INFO_ID(grokimagine_download_debug, log_id(),
                  "complete: %" G_GUINT64_FORMAT " bytes in %d request(s) over %zu connection(s)",
                  progress.received(), requests, fetches.size());
  progress.mark_finished();
}

void Download::State::fail(ErrorKind kind, std::string why, unsigned status, std::string body) {
  if (done) return;
  done = true;
  for (auto &fetch : fetches) fetch->cut();
  drop_source(deadline_timer);
  drop_source(probe_timer);
  // Before readers hear of the failure: `location` never holds a partial clip.
  file.discard();
  if (kind != ErrorKind::Cancelled)
    GST_CAT_INFO_ID(grokimagine_download_debug, log_id(), "failed: %s", why.c_str());
  progress.mark_failed(Error::of(kind, std::move(why), status), std::move(body));
}

Download::Download(std::shared_ptr<State> state) : state_(std::move(state)) {}

Download::~Download() {
  g_cancellable_cancel(state_->cancellable.get());
  // libsoup objects must die on the I/O thread: hand our reference over so
  // that the last one is dropped there, by us or by a pending callback.
  HttpClient::instance().invoke(
      [state = std::move(state_)](SoupSession *) mutable { state.reset(); });
}

Result<std::unique_ptr<Download>> Download::open_file(const std::string &path) {
  auto state = std::make_shared<State>(RetryPolicy(JobTiming{}));
  std::uint64_t size = 0;
  if (auto failure = state->file.open_existing(path, &size)) return *failure;
  state->progress.add(0, size);
  state->progress.mark_finished();
  state->done = true;
  return std::unique_ptr<Download>(new Download(state));
}

HttpRequest Download::media_get(const std::string &url, const std::string &log_id) {
  HttpRequest get{"GET", url, {}, {}};
  get.follow_redirects = true;
  get.identity_encoding = true;
  get.log_id = log_id;
  return get;
}

Result<std::unique_ptr<Download>> Download::start(const HttpRequest &request,
                                                  const std::string &keep_path,
                                                  std::uint64_t max_bytes,
                                                  const RetryPolicy &policy, unsigned connections) {
  init_logging();
  auto state = std::make_shared<State>(policy);
  state->http = request;
  state->max_bytes = max_bytes;
  state->connections = std::max(1u, connections);
  state->widening = Widening(state->connections);
  const std::string &url = request.url;
  if (!g_uri_is_valid(url.c_str(), G_URI_FLAGS_NONE, nullptr) ||
      !(g_str_has_prefix(url.c_str(), "http://") || g_str_has_prefix(url.c_str(), "https://")))
    return Error::protocol("the provider named an invalid video URL");
  if (auto failure = state->file.create(keep_path, state->log_id())) return *failure;
  HttpClient::instance().invoke([state](SoupSession *) { state->begin(); });
  return std::unique_ptr<Download>(new Download(state));
}

Download::Wait Download::wait_for(std::uint64_t begin, std::uint64_t end,
                                  GCancellable *cancellable) {
  if (state_->progress.available_from(begin) == 0 && !state_->progress.finished()) {
    // Tell the I/O thread where the reader is, in case no fetch is there.
    std::weak_ptr<State> weak = state_;
    HttpClient::instance().invoke([weak, begin](SoupSession *) {
      if (auto state = weak.lock()) state->reader_waits(begin);
    });
  }
  return state_->progress.wait_for(begin, end, cancellable);
}

std::uint64_t Download::available_from(std::uint64_t offset) const {
  return state_->progress.available_from(offset);
}

std::int64_t Download::read(std::uint64_t offset, void *dest, std::size_t size) const {
  return state_->file.read(offset, dest, size);
}

std::optional<std::uint64_t> Download::size() const {
  return state_->progress.size();
}

bool Download::finished() const {
  return state_->progress.finished();
}

void Download::on_finished(std::function<void()> callback) {
  state_->progress.on_finished(std::move(callback));
}

std::uint64_t Download::downloaded() const {
  return state_->progress.received();
}

Error Download::error() const {
  return state_->progress.error();
}

std::string Download::error_body() const {
  return state_->progress.error_body();
}

}  // namespace grokimagine
