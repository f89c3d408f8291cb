// SPDX-License-Identifier: LGPL-2.1-or-later
#include "http.h"

#include <pthread.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "cancellable.h"
#include "gobject-ptr.h"
#include "log.h"
#include "retry.h"

namespace grokimagine {

namespace {

// Enough for a hundred jobs downloading at once from one CDN.
constexpr int kMaxConnections = 256;
constexpr int kMaxConnectionsPerHost = 128;

}  // namespace

HttpClient &HttpClient::instance() {
  // Never destroyed: the I/O thread serves every element until the process ends.
  init_logging();
  static HttpClient *client = new HttpClient();
  return *client;
}

HttpClient::HttpClient() {
  context_ = g_main_context_new();
  std::mutex mutex;
  std::condition_variable ready;
  bool started = false;
  std::thread([this, &mutex, &ready, &started] {
    // Named, or it inherits the name of the streaming thread that happened
    // to start it and hides among them in top and gdb.
    pthread_setname_np(pthread_self(), "grokimagine-io");
    g_main_context_push_thread_default(context_);
    // One session serves every element of the process: libsoup's default of
    // two connections per host would queue the third concurrent download
    // from a CDN behind the first two.
    for (auto [session, io_timeout] : {std::pair(&session_, 30u), std::pair(&patient_session_, 0u)})
      *session = soup_session_new_with_options(
          "user-agent", "gst-grokimagine/" VERSION, "timeout", io_timeout, "idle-timeout", 60u,
          "max-conns", kMaxConnections, "max-conns-per-host", kMaxConnectionsPerHost, nullptr);
    {
      std::lock_guard<std::mutex> lock(mutex);
      started = true;
    }
    ready.notify_one();
    run();
  }).detach();
  std::unique_lock<std::mutex> lock(mutex);
  ready.wait(lock, [&] { return started; });
}

void HttpClient::run() {
  GMainLoop *loop = g_main_loop_new(context_, FALSE);
  g_main_loop_run(loop);
}

void HttpClient::invoke(std::function<void(SoupSession *)> task) {
  auto *boxed = new std::function<void(SoupSession *)>(std::move(task));
  struct Call {
    HttpClient *client;
    std::function<void(SoupSession *)> *task;
  };
  g_main_context_invoke_full(
      context_, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto *call = static_cast<Call *>(data);
        (*call->task)(call->client->session_);
        return G_SOURCE_REMOVE;
      },
      new Call{this, boxed},
      [](gpointer data) {
        auto *call = static_cast<Call *>(data);
        delete call->task;
        delete call;
      });
}

SoupMessage *HttpClient::new_message(const HttpRequest &request) {
  SoupMessage *message = soup_message_new(request.method.c_str(), request.url.c_str());
  if (!message) return nullptr;
  SoupMessageHeaders *headers = soup_message_get_request_headers(message);
  for (const auto &[name, value] : request.headers)
    soup_message_headers_replace(headers, name.c_str(), value.c_str());
  if (request.identity_encoding) {
    soup_message_disable_feature(message, SOUP_TYPE_CONTENT_DECODER);
    soup_message_headers_replace(headers, "Accept-Encoding", "identity");
  }
  if (!request.body.empty()) {
    g_autoptr(GBytes) body = g_bytes_new(request.body.data(), request.body.size());
    soup_message_set_request_body_from_bytes(message, request.content_type.c_str(), body);
  }
  return message;
}

bool HttpAnswer::wait(GCancellable *cancellable, HttpResponse *response) {
  // Wake up on cancellation even if libsoup is slow to report it.
  CancelWakeup wakeup(cancellable, mutex_, done_cond_);
  std::unique_lock<std::mutex> lock(mutex_);
  done_cond_.wait(lock, [&] { return done_ || g_cancellable_is_cancelled(cancellable); });
  if (!done_) return false;
  *response = response_;
  return true;
}

bool HttpAnswer::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

void HttpAnswer::finish(HttpResponse response) {
  const gint64 took_ms = (g_get_monotonic_time() - started_us_) / 1000;
  if (response.status)
    GST_CAT_INFO_ID(grokimagine_http_debug, log_id(log_id_),
                    "%s: HTTP %u, %zu bytes, in %" G_GINT64_FORMAT " ms", described_.c_str(),
                    response.status, response.body.size(), took_ms);
  else
    GST_CAT_INFO_ID(grokimagine_http_debug, log_id(log_id_),
                    "%s: %s%s after %" G_GINT64_FORMAT " ms", described_.c_str(),
                    response.transport_error.c_str(), response.not_sent ? " (never sent)" : "",
                    took_ms);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    response_ = std::move(response);
    done_ = true;
  }
  done_cond_.notify_all();
}

void keep_message_with_stream(GInputStream *stream, SoupMessage *message) {
  g_object_set_data_full(G_OBJECT(stream), "grokimagine-message", g_object_ref(message),
                         g_object_unref);
}

// Why soup_session_send_async() must not be given a cancellable that another
// thread fires. That cancellable is also the one of libsoup's send task, and
// soup_session_send_finish checks it again (g_task_propagate_pointer): fired
// after libsoup has made the response's body stream and returned it, but
// before the callback runs, send_finish answers "cancelled", finishes the
// message's I/O (the message drops its I/O data) and leaves the stream in
// the task, which unrefs it once the callback returns. That unref closes the
// stream, and libsoup 3.2's close skips the rest of the body through the
// message's I/O data, now NULL: a SEGV on the I/O thread, in the main loop,
// outside any frame of ours. A cancellation from a streaming thread (an
// element stopping) can land in that window at any instant; under load it
// does. (libsoup 3.2 has no public soup_session_cancel_message.)
//
// So the send gets a cancellable of its own, fired only here on the I/O
// thread, when `cancellable` has fired, and only while no response headers
// are in: from got-headers on, libsoup is about to make the body stream,
// which then reaches the callback; the caller's reads, cancelled with
// `cancellable`, fail at once, and closing the stream is safe. A restart (a
// redirect, an authentication) makes the send cancellable again.
GSource *send_async(SoupSession *session, SoupMessage *message, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data) {
  struct Guard {
    GObjectPtr<SoupMessage> message;
    GObjectPtr<GCancellable> send = GObjectPtr<GCancellable>::adopt(g_cancellable_new());
    bool cancelled = false;   // `cancellable` fired
    bool headers_in = false;  // the current response's headers are in
    gulong handlers[2] = {0, 0};

    void cancel_send() {
      if (cancelled && !headers_in) g_cancellable_cancel(send.get());
    }
    ~Guard() {
      for (gulong handler : handlers) g_signal_handler_disconnect(message.get(), handler);
    }
  };
  auto *guard = new Guard{GObjectPtr<SoupMessage>::ref(message)};
  guard->handlers[0] = g_signal_connect_swapped(
      message, "got-headers", G_CALLBACK(+[](Guard *self) { self->headers_in = true; }), guard);
  guard->handlers[1] = g_signal_connect_swapped(message, "restarted", G_CALLBACK(+[](Guard *self) {
                                                  self->headers_in = false;
                                                  self->cancel_send();
                                                }),
                                                guard);
  GSource *source = g_cancellable_source_new(cancellable);
  g_source_set_callback(
      source, G_SOURCE_FUNC(+[](GCancellable *, gpointer data) -> gboolean {
        auto *self = static_cast<Guard *>(data);
        self->cancelled = true;
        self->cancel_send();
        return G_SOURCE_CONTINUE;  // dispatched once; keeps the guard until destroyed
      }),
      guard, [](gpointer data) { delete static_cast<Guard *>(data); });
  g_source_attach(source, g_main_context_get_thread_default());
  soup_session_send_async(session, message, G_PRIORITY_DEFAULT, guard->send.get(), callback,
                          user_data);
  return source;
}

bool never_reached_server(const GError *error) {
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
         g_error_matches(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND) ||
         g_error_matches(error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
         g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE);
}

namespace {

struct BodyLoop {
  GObjectPtr<GInputStream> stream;
  GObjectPtr<GCancellable> cancellable;
  gsize chunk_bytes;
  BodyChunk on_chunk;
  BodyEnd on_end;

  void read_more() {
    g_input_stream_read_bytes_async(stream.get(), chunk_bytes, G_PRIORITY_DEFAULT,
                                    cancellable.get(), on_read, this);
  }

  static void on_read(GObject *source, GAsyncResult *result, gpointer data) {
    std::unique_ptr<BodyLoop> loop(static_cast<BodyLoop *>(data));
    g_autoptr(GError) error = nullptr;
    g_autoptr(GBytes) chunk =
        g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
    gsize size = 0;
    const auto *bytes =
        chunk ? static_cast<const guint8 *>(g_bytes_get_data(chunk, &size)) : nullptr;
    if (!chunk || size == 0) {
      loop->on_end(error);
      return;
    }
    if (!loop->on_chunk(bytes, size)) return;
    loop.release()->read_more();
  }
};

}  // namespace

void read_body(GInputStream *stream, GCancellable *cancellable, gsize chunk_bytes,
               BodyChunk on_chunk, BodyEnd on_end) {
  auto *loop = new BodyLoop{GObjectPtr<GInputStream>::ref(stream),
                            GObjectPtr<GCancellable>::ref(cancellable), chunk_bytes,
                            std::move(on_chunk), std::move(on_end)};
  loop->read_more();
}

namespace {

// One request in flight on the I/O thread: send, then read the body
// asynchronously (a stalled server must not block the other transfers), with
// a cap on its size.
struct Flight {
  std::shared_ptr<HttpAnswer> pending;
  GObjectPtr<SoupMessage> message;
  gsize max_body_bytes;
  guint timeout_ms;
  // Our own cancellable, fired by the caller's or by the timeout.
  GObjectPtr<GCancellable> cancellable = GObjectPtr<GCancellable>::adopt(g_cancellable_new());
  GObjectPtr<GCancellable> caller;
  gulong caller_handler = 0;
  GSource *timer = nullptr;
  GSource *send_guard = nullptr;  // from send_async()
  bool timed_out = false;
  GObjectPtr<GInputStream> stream;
  HttpResponse response;

  void start(SoupSession *session) {
    caller_handler = g_cancellable_connect(
        caller.get(),
        G_CALLBACK(+[](GCancellable *, gpointer own) { g_cancellable_cancel(G_CANCELLABLE(own)); }),
        cancellable.get(), nullptr);
    if (timeout_ms) {
      // A stalled server must not hold a request for ever: the session's
      // I/O timeout counts only silence, this counts the whole request.
      timer = g_timeout_source_new(timeout_ms);
      g_source_set_callback(
          timer,
          [](gpointer data) -> gboolean {
            auto *flight = static_cast<Flight *>(data);
            flight->timed_out = true;
            g_cancellable_cancel(flight->cancellable.get());
            return G_SOURCE_REMOVE;
          },
          this, nullptr);
      g_source_attach(timer, g_main_context_get_thread_default());
    }
    // Not soup_session_send_async() with `cancellable`: see send_async().
    send_guard = send_async(session, message.get(), cancellable.get(), on_sent, this);
  }

  void complete() {
    for (GSource *source : {timer, send_guard}) {
      if (!source) continue;
      g_source_destroy(source);
      g_source_unref(source);
    }
    g_cancellable_disconnect(caller.get(), caller_handler);
    pending->finish(std::move(response));
    delete this;
  }

  void fail(const GError *error) {
    response.status = 0;
    response.cancelled = !timed_out && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    response.transport_error =
        timed_out ? "no complete answer within " + std::to_string(timeout_ms) + " ms"
                  : error->message;
    complete();
  }

  static void on_sent(GObject *source, GAsyncResult *result, gpointer data) {
    auto *flight = static_cast<Flight *>(data);
    g_autoptr(GError) error = nullptr;
    GInputStream *stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
    if (!stream) {
      flight->response.not_sent = never_reached_server(error);
      flight->fail(error);
      return;
    }
    keep_message_with_stream(stream, flight->message.get());
    flight->stream = GObjectPtr<GInputStream>::adopt(stream);
    flight->response.status = soup_message_get_status(flight->message.get());
    soup_message_headers_foreach(
        soup_message_get_response_headers(flight->message.get()),
        [](const char *name, const char *value, gpointer headers) {
          static_cast<Headers *>(headers)->emplace_back(name, value);
        },
        &flight->response.headers);
    read_body(
        flight->stream.get(), flight->cancellable.get(), 16384,
        [flight](const guint8 *bytes, gsize size) { return flight->take(bytes, size); },
        [flight](const GError *error) {
          if (error)
            flight->fail(error);
          else
            flight->complete();
        });
  }

  bool take(const guint8 *bytes, gsize size) {
    response.body.append(reinterpret_cast<const char *>(bytes), size);
    if (response.body.size() <= max_body_bytes) return true;
    g_autoptr(GError) error = nullptr;
    g_set_error(&error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                "response body larger than %" G_GSIZE_FORMAT " bytes", max_body_bytes);
    response.body.clear();
    response.oversized = true;
    fail(error);
    return false;
  }
};

}  // namespace

std::shared_ptr<HttpAnswer> HttpClient::start(const HttpRequest &request, GCancellable *abort) {
  auto pending = std::make_shared<HttpAnswer>(describe_request(request), request.log_id);
  GST_CAT_DEBUG_ID(grokimagine_http_debug, log_id(request.log_id), "%s: sending",
                   describe_request(request).c_str());
  auto own_abort = abort ? GObjectPtr<GCancellable>::ref(abort)
                         : GObjectPtr<GCancellable>::adopt(g_cancellable_new());
  invoke([request, pending, own_abort](SoupSession *session) {
    SoupMessage *message = new_message(request);
    if (!message) {
      HttpResponse response;
      response.transport_error = "invalid URL";
      response.not_sent = true;
      pending->finish(std::move(response));
      return;
    }
    if (!request.follow_redirects) soup_message_add_flags(message, SOUP_MESSAGE_NO_REDIRECT);
    auto *flight = new Flight{pending, GObjectPtr<SoupMessage>::adopt(message),
                              request.max_body_bytes, request.timeout_ms};
    flight->caller = own_abort;
    flight->start(session);
  });
  return pending;
}

HttpResponse HttpClient::send(const HttpRequest &request, GCancellable *cancellable) {
  HttpResponse response;
  if (!start(request, cancellable)->wait(cancellable, &response)) {
    response.cancelled = true;
    response.transport_error = "cancelled";
  }
  return response;
}

}  // namespace grokimagine
