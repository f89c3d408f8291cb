// SPDX-License-Identifier: LGPL-2.1-or-later
// Waiting on a condition variable that a GCancellable can interrupt: the
// shape of every blocking wait in the core (HTTP replies, poll sleeps, bytes
// not yet downloaded), so that stopping an element returns at once.
#pragma once

#include <gio/gio.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace grokimagine {

class CancelWakeup {
 public:
  CancelWakeup(GCancellable *cancellable, std::mutex &mutex, std::condition_variable &cond);
  ~CancelWakeup();
  CancelWakeup(const CancelWakeup &) = delete;
  CancelWakeup &operator=(const CancelWakeup &) = delete;

 private:
  GCancellable *cancellable_;
  std::mutex &mutex_;
  std::condition_variable &cond_;
  gulong handler_ = 0;
};

// Sleeps for `duration` unless cancelled first; false when cancelled.
bool sleep_cancellable(GCancellable *cancellable, std::chrono::milliseconds duration);

}  // namespace grokimagine
