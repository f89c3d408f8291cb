// SPDX-License-Identifier: LGPL-2.1-or-later
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

// The id for the _ID macros: none rather than an empty "<>" in the log.
inline const char *log_id(const std::string &id) {
  return id.empty() ? nullptr : id.c_str();
}

// A URL as the debug log shows it: scheme://host[:port]/path, without user
// info, query or fragment (pre-signed CDN URLs carry their credentials in
// the query).
std::string loggable_url(const std::string &url);

}  // namespace grokimagine

// grokimagine: jobs (submit, poll schedule, status changes, retries)
GST_DEBUG_CATEGORY_EXTERN(grokimagine_core_debug);
// grokimaginehttp: every HTTP request (method, host, path, status, time)
GST_DEBUG_CATEGORY_EXTERN(grokimagine_http_debug);
// grokimaginedownload: the media download (ranges, resumes, progress)
GST_DEBUG_CATEGORY_EXTERN(grokimagine_download_debug);

// GStreamer 1.22 has GST_CAT_LEVEL_LOG_ID but not the per-level _ID
// shorthands (1.24 does).
#ifndef GST_CAT_INFO_ID
#define GST_CAT_WARNING_ID(cat, id, ...) \
  GST_CAT_LEVEL_LOG_ID(cat, GST_LEVEL_WARNING, id, __VA_ARGS__)
#define GST_CAT_INFO_ID(cat, id, ...) GST_CAT_LEVEL_LOG_ID(cat, GST_LEVEL_INFO, id, __VA_ARGS__)
#define GST_CAT_DEBUG_ID(cat, id, ...) GST_CAT_LEVEL_LOG_ID(cat, GST_LEVEL_DEBUG, id, __VA_ARGS__)
#define GST_CAT_LOG_ID(cat, id, ...) GST_CAT_LEVEL_LOG_ID(cat, GST_LEVEL_LOG, id, __VA_ARGS__)
#endif
