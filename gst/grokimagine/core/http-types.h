// SPDX-License-Identifier: LGPL-2.1-or-later
// The plain HTTP types: what a request asks and what its answer said. No
// libsoup here: the providers (pure functions of these) and the fuzzers
// include this; http.h, which sends them, includes it too.
#pragma once

#include <glib.h>

#include <string>
#include <utility>
#include <vector>

namespace grokimagine {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;  // sent as `content_type` when not empty
  std::string content_type = "application/json";
  // API requests carry the key: they never follow redirects (a redirect
  // could replay the key to another host). Media fetches carry no key.
  bool follow_redirects = false;
  // Media: asked for as it is (Accept-Encoding: identity) and never
  // decoded, so that its length is the announced one.
  bool identity_encoding = false;
  gsize max_body_bytes = 1 << 20;  // API answers are small JSON
  guint timeout_ms = 0;            // the whole request; 0: only the session's I/O timeout
  std::string log_id;              // who asks (the element's name), for the debug log
  std::string log_phase;           // what for ("polling the job status"), for the debug log
  int log_attempt = 1;             // which attempt of the same request, for the debug log
};

// "GET https://host/path (polling the job status, attempt 2)" for the debug
// log: never the query, the headers or the body, where keys travel.
std::string describe_request(const HttpRequest &request);

struct HttpResponse {
  unsigned status = 0;  // 0: no HTTP response (see transport_error)
  std::string body;
  Headers headers;
  std::string transport_error;
  bool cancelled = false;
  // The request never reached the server, so it cannot have been acted on.
  bool not_sent = false;
  // The body passed the request's max_body_bytes (and was dropped).
  bool oversized = false;

  // Case-insensitive; empty when absent.
  std::string header(const char *name) const;
};

}  // namespace grokimagine
