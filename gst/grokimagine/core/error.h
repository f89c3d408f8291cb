// SPDX-License-Identifier: LGPL-2.1-or-later
// What can go wrong with a job, in terms a user (and an element) can act on.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace grokimagine {

enum class ErrorKind {
  InvalidSettings,      // refused before anything was sent
  BadRequest,           // the provider refused the parameters (400/422 on submit)
  NotAuthorized,        // 401/403: the key is missing or wrong
  InsufficientCredits,  // 406 on Segmind
  NotFound,             // unknown or expired request id, or an expired video URL
  JobFailed,            // the provider says the job failed (content blocks included)
  Moderated,            // the provider finished the job but withheld the result
  Expired,              // the provider let the job or its result expire
  Timeout,              // the overall deadline passed
  Network,              // transport failure, or 5xx/429 after the retries ran out
  Protocol,             // a response we cannot understand
  Io,                   // local file trouble (location, image file)
  Cancelled,            // the element was stopped
};

struct Error {
  ErrorKind kind = ErrorKind::Protocol;
  std::string message;
  // The provider's request id once a job exists: the handle to resume it.
  std::string request_id;
  unsigned http_status = 0;
  // The submit reached the provider, which may have accepted (and billed)
  // the job without our learning its id.
  bool maybe_billed = false;

  // Named constructors: an error with no request id yet (with_request_id()
  // adds it once a job exists).
  static Error of(ErrorKind kind, std::string message, unsigned http_status = 0) {
    return Error{kind, std::move(message), {}, http_status};
  }
  static Error cancelled() { return of(ErrorKind::Cancelled, "cancelled"); }
  static Error protocol(std::string message, unsigned http_status = 0) {
    return of(ErrorKind::Protocol, std::move(message), http_status);
  }
  static Error network(std::string message, unsigned http_status = 0) {
    return of(ErrorKind::Network, std::move(message), http_status);
  }
  static Error io(std::string message) { return of(ErrorKind::Io, std::move(message)); }
  static Error timeout(std::string message) { return of(ErrorKind::Timeout, std::move(message)); }
};

// What a fallible call gives back: its value, or the Error saying why not.
// (A call with no value to give back returns std::optional<Error>: nothing,
// or why it failed.) A std::variant, so std::get_if<Error> reads it too.
template <typename T>
class Result : public std::variant<T, Error> {
 public:
  using std::variant<T, Error>::variant;
  bool ok() const { return this->index() == 0; }
  const Error &error() const { return std::get<Error>(*this); }
  T &value() { return std::get<T>(*this); }
  const T &value() const { return std::get<T>(*this); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
};

// After a submit, every error names the job so that the user can resume it.
inline Error with_request_id(Error error, const std::string &request_id) {
  if (request_id.empty() || error.kind == ErrorKind::Cancelled) return error;
  error.request_id = request_id;
  error.message += " [request-id " + request_id + "]";
  return error;
}

}  // namespace grokimagine
