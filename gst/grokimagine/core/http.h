// SPDX-License-Identifier: LGPL-2.1-or-later
// libsoup-3 on one process-wide I/O thread. libsoup is not thread-safe and
// binds to the thread-default GMainContext of the thread that creates the
// session, so every element's requests are marshalled onto that thread, as
// souphttpsrc does with its own session thread.
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "http-types.h"

namespace grokimagine {

// The answer to a request started with HttpClient::start. Whoever holds it
// can wait for it, stop waiting and wait again later: the request goes on
// regardless, so a paid submit that has left is followed to its answer.
class HttpAnswer {
 public:
  // `described` (describe_request) and `log_id` name the request in the
  // debug log when it ends.
  HttpAnswer(std::string described, std::string log_id)
      : described_(std::move(described)),
        log_id_(std::move(log_id)),
        started_us_(g_get_monotonic_time()) {}

  // Blocks until the answer is complete (true, `*response` filled) or
  // `cancellable` fires (false; the request itself is not cancelled).
  bool wait(GCancellable *cancellable, HttpResponse *response);
  bool ready() const;

  // I/O thread: the request is over.
  void finish(HttpResponse response);

 private:
  mutable std::mutex mutex_;
  std::condition_variable done_cond_;
  bool done_ = false;
  HttpResponse response_;
  const std::string described_;
  const std::string log_id_;
  const gint64 started_us_;
};

class HttpClient {
 public:
  static HttpClient &instance();

  // Blocks the calling thread (never the I/O thread) until the response is
  // complete or `cancellable` fires, which also aborts the request. Bodies
  // over request.max_body_bytes fail.
  HttpResponse send(const HttpRequest &request, GCancellable *cancellable);
  // Starts `request` and returns at once. Only `abort` (may be null) and
  // the request's own timeout_ms stop it.
  std::shared_ptr<HttpAnswer> start(const HttpRequest &request, GCancellable *abort);

  // Runs `task` on the I/O thread with the shared session.
  void invoke(std::function<void(SoupSession *)> task);

  static SoupMessage *new_message(const HttpRequest &request);

  // I/O thread only: the shared session (30 s I/O timeout), and one with no
  // I/O timeout for answers that legitimately take long to start (a
  // synchronous generation).
  SoupSession *session() const { return session_; }
  SoupSession *patient_session() const { return patient_session_; }

 private:
  HttpClient();
  void run();

  GMainContext *context_ = nullptr;
  SoupSession *session_ = nullptr;
  SoupSession *patient_session_ = nullptr;
};

// Ties `message` to the body `stream` libsoup gave for it: a pending read's
// GTask can outlive our own references, and closing a body stream after its
// message is gone crashes libsoup.
void keep_message_with_stream(GInputStream *stream, SoupMessage *message);

// I/O thread only. soup_session_send_async(), cancelled when `cancellable`
// fires (from any thread) without the crash that passing `cancellable` to
// libsoup 3.2 allows (see http.cpp). Returns a source to destroy
// (g_source_destroy, g_source_unref) once the request is over.
GSource *send_async(SoupSession *session, SoupMessage *message, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data);

// The body-reading loop of every request, API answers and clip downloads
// alike: reads `stream` on the I/O thread, chunk by chunk and without
// blocking it (a stalled server must not hold up the other transfers).
// `on_chunk` gets each chunk as it comes and returns whether to go on (false:
// the loop stops there and calls nothing more); `on_end` is called once,
// with null at the end of the body or with the error that ended it
// (G_IO_ERROR_CANCELLED when `cancellable` fired). The loop keeps `stream`
// alive; whatever the callbacks need they must keep alive themselves.
using BodyChunk = std::function<bool(const guint8 *data, gsize size)>;
using BodyEnd = std::function<void(const GError *error)>;
void read_body(GInputStream *stream, GCancellable *cancellable, gsize chunk_bytes,
               BodyChunk on_chunk, BodyEnd on_end);

// Connection refused, unknown host, unreachable: the request never left.
bool never_reached_server(const GError *error);

}  // namespace grokimagine
