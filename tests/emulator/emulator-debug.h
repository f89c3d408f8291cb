// SPDX-License-Identifier: LGPL-2.1-or-later
// The emulator's GStreamer debug category ("grokimagine-emulator"), shared by
// its source files. Logs go through GST_DEBUG so nothing reaches stdout.
#pragma once

#include <gst/gst.h>

GST_DEBUG_CATEGORY_EXTERN(grokimagine_emulator_debug);
