// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_GROK_IMAGINE_CHANNEL (gst_grok_imagine_channel_get_type())
G_DECLARE_FINAL_TYPE(GstGrokImagineChannel, gst_grok_imagine_channel, GST, GROK_IMAGINE_CHANNEL,
                     GstBin)

GST_ELEMENT_REGISTER_DECLARE(grokimaginechannel);

G_END_DECLS
