// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_GROK_IMAGINE_IMAGE_SRC (gst_grok_imagine_image_src_get_type())
G_DECLARE_FINAL_TYPE(GstGrokImagineImageSrc, gst_grok_imagine_image_src, GST,
                     GROK_IMAGINE_IMAGE_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE(grokimagineimagesrc);

G_END_DECLS
