// SPDX-License-Identifier: LGPL-2.1-or-later
// A copyable owning reference to a GObject, for members and lambda captures
// where g_autoptr cannot go.
#pragma once

#include <glib-object.h>

#include <utility>

namespace grokimagine {

template <typename T>
class GObjectPtr {
 public:
  GObjectPtr() = default;
  static GObjectPtr adopt(T *object) { return GObjectPtr(object); }
  static GObjectPtr ref(T *object) {
    return GObjectPtr(object ? static_cast<T *>(g_object_ref(object)) : nullptr);
  }
  GObjectPtr(const GObjectPtr &other) : object_(other.object_) {
    if (object_) g_object_ref(object_);
  }
  GObjectPtr(GObjectPtr &&other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  GObjectPtr &operator=(GObjectPtr other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~GObjectPtr() {
    if (object_) g_object_unref(object_);
  }
  T *get() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  explicit GObjectPtr(T *object) : object_(object) {}
  T *object_ = nullptr;
};

}  // namespace grokimagine
