// The core's GStreamer debug categories: every request, status change,
// retry and download step is visible at the usual levels with
// GST_DEBUG=grokimagine*:5, named by the element that runs the job (its
// log id), and never shows the API key.
#pragma once

#include <gst/gst.h>

#include <string>

namespace grokimagine {

// Registers the categories once; called by the plugin and by the first job,
// download or request of a process, so the core logs without a plugin too.
void init_logging();

}  // namespace grokimagine

// grokimagine: jobs (submit, poll schedule, status changes, retries)
GST_DEBUG_CATEGORY_EXTERN(grokimagine_core_debug);
// grokimaginehttp: every HTTP request (method, host, path, status, time)
GST_DEBUG_CATEGORY_EXTERN(grokimagine_http_debug);
// grokimaginedownload: the media download (ranges, resumes, progress)
GST_DEBUG_CATEGORY_EXTERN(grokimagine_download_debug);
