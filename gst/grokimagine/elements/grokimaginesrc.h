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
// Set (object data) by a bin that plays the clip later than it downloads
// (the channel, ahead of time): the journal records the job delivered only
// when the bin calls gst_grok_imagine_src_deliver(), once the clip has
// played, so that a clip stopped before it played is resumed by the next
// run instead of paid for again.
#define GST_GROK_IMAGINE_SRC_PARENT_DELIVERS_KEY "grokimagine-parent-delivers"
void gst_grok_imagine_src_deliver(GstGrokImagineSrc *src);

// Installs the download's `connections` property (uint) as `prop_id`, for
// the source and the bins that forward its properties by name.
void gst_grok_imagine_src_install_connections(GObjectClass *klass, guint prop_id);

G_END_DECLS
