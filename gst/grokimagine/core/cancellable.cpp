// SPDX-License-Identifier: LGPL-2.1-or-later
#include "cancellable.h"

namespace grokimagine {

CancelWakeup::CancelWakeup(GCancellable *cancellable, std::mutex &mutex,
                           std::condition_variable &cond)
    : cancellable_(cancellable), mutex_(mutex), cond_(cond) {
  if (!cancellable_) return;
  handler_ = g_cancellable_connect(cancellable_, G_CALLBACK(+[](GCancellable *, gpointer data) {
                                     auto *self = static_cast<CancelWakeup *>(data);
                                     // Taking the mutex orders the wake-up after the waiter's
                                     // predicate check.
                                     std::lock_guard<std::mutex> lock(self->mutex_);
                                     self->cond_.notify_all();
                                   }),
                                   this, nullptr);
}

CancelWakeup::~CancelWakeup() {
  if (cancellable_) g_cancellable_disconnect(cancellable_, handler_);
}

bool sleep_cancellable(GCancellable *cancellable, std::chrono::milliseconds duration) {
  std::mutex mutex;
  std::condition_variable cond;
  CancelWakeup wakeup(cancellable, mutex, cond);
  std::unique_lock<std::mutex> lock(mutex);
  return !cond.wait_for(lock, duration, [&] { return g_cancellable_is_cancelled(cancellable); });
}

}  // namespace grokimagine
