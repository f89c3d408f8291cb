// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_GROK_IMAGINE_VIDEO_SRC (gst_grok_imagine_video_src_get_type())
G_DECLARE_FINAL_TYPE(GstGrokImagineVideoSrc, gst_grok_imagine_video_src, GST,
                     GROK_IMAGINE_VIDEO_SRC, GstBin)

GST_ELEMENT_REGISTER_DECLARE(grokimaginevideosrc);

G_END_DECLS
