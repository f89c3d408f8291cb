// SPDX-License-Identifier: LGPL-2.1-or-later
// What a decoder's new pad carries, from its caps (current, else queried).
#pragma once

#include <gst/gst.h>

#include <string>

// "video/x-raw", "audio/mpeg", ...; empty when the caps say nothing yet.
inline std::string grok_imagine_pad_media(GstPad *pad) {
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  if (!caps || gst_caps_is_empty(caps) || gst_caps_is_any(caps)) return {};
  return gst_structure_get_name(gst_caps_get_structure(caps, 0));
}
