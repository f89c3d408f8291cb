// SPDX-License-Identifier: LGPL-2.1-or-later
// Owning smart pointers for GLib-family references kept in C++ objects, where
// g_autoptr (scope-bound) does not fit: class members, containers, lambdas.
#pragma once

#include <glib-object.h>
#include <glib.h>

#include <memory>

namespace grokimagine::emulator {

// Calls `Release` on the pointer; usable with any GLib unref/free function.
template <auto Release>
struct ReleaseWith {
  template <typename T>
  void operator()(T *pointer) const {
    if (pointer != nullptr) Release(pointer);
  }
};

template <typename T>
using GObjectPtr = std::unique_ptr<T, ReleaseWith<g_object_unref>>;

using MainContextPtr = std::unique_ptr<GMainContext, ReleaseWith<g_main_context_unref>>;
using MainLoopPtr = std::unique_ptr<GMainLoop, ReleaseWith<g_main_loop_unref>>;
using BytesPtr = std::unique_ptr<GBytes, ReleaseWith<g_bytes_unref>>;
using CharPtr = std::unique_ptr<char, ReleaseWith<g_free>>;

// Takes a new reference on a GObject and wraps it.
template <typename T>
GObjectPtr<T> ref_object(T *object) {
  return GObjectPtr<T>(static_cast<T *>(g_object_ref(object)));
}

}  // namespace grokimagine::emulator
