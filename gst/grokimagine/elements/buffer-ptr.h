// SPDX-License-Identifier: LGPL-2.1-or-later
// An owning reference to a GstBuffer, for members and results where
// g_autoptr cannot go (the channel's last frame, its slate, a still).
#pragma once

#include <gst/gst.h>

#include <memory>

struct BufferUnref {
  void operator()(GstBuffer *buffer) const { gst_buffer_unref(buffer); }
};
using BufferPtr = std::unique_ptr<GstBuffer, BufferUnref>;
