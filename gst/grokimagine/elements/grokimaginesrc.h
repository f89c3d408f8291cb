// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/base/gstbasesrc.h>

G_BEGIN_DECLS

#define GST_TYPE_GROK_IMAGINE_SRC (gst_grok_imagine_src_get_type())
G_DECLARE_FINAL_TYPE(GstGrokImagineSrc, gst_grok_imagine_src, GST, GROK_IMAGINE_SRC, GstBaseSrc)

GST_ELEMENT_REGISTER_DECLARE(grokimaginesrc);

// The finished job as tags (title: the prompt; comment: provider, model and
// request id; duration), for the bins that wrap the source.
GstTagList *gst_grok_imagine_src_get_job_tags(GstGrokImagineSrc *src);
// output=continuation: where the new seconds of an extension start, when
// the input's length was known before the job; GST_CLOCK_TIME_NONE
// otherwise. Valid once the job has run.
GstClockTime gst_grok_imagine_src_get_continuation_start(GstGrokImagineSrc *src);
// Set (object data) by a bin that decodes the source's clip, which can
// honour output=continuation.
#define GST_GROK_IMAGINE_SRC_DECODED_KEY "grokimagine-decoded"
// A clip run for a parent bin (the channel, see GrokImagineClipJob): the
// journal records the job delivered only when the bin says so, once the
// clip has played, so that a clip stopped before it played is resumed by
// the next run instead of paid for again.
void gst_grok_imagine_src_deliver(GstGrokImagineSrc *src);

// Installs the download's `connections` property (uint) as `prop_id`, for
// the source and the bins that forward its properties by name.
void gst_grok_imagine_src_install_connections(GObjectClass *klass, guint prop_id);

G_END_DECLS

#ifdef __cplusplus
#include "core/download.h"
#include "job-messages.h"

// A clip a parent bin (the channel) runs through a grokimaginesrc: the job
// as settings rather than properties, and what becomes of it as typed
// calls, on the source's streaming thread. The parent decodes the clip (so
// output=continuation is allowed) and delivers it once it has played.
struct GrokImagineClipJob {
  grokimagine::JobSettings settings;
  unsigned connections = grokimagine::Download::kDefaultConnections;
  GrokImagineJobObserver observer;
  // The whole clip is at settings.location.
  std::function<void()> downloaded;
};
// Before the source starts: runs `job` instead of what its properties say.
void gst_grok_imagine_src_set_clip_job(GstGrokImagineSrc *src, GrokImagineClipJob job);
#endif
