// SPDX-License-Identifier: LGPL-2.1-or-later
#include "log.h"

#include <mutex>

GST_DEBUG_CATEGORY(grokimagine_core_debug);
GST_DEBUG_CATEGORY(grokimagine_http_debug);
GST_DEBUG_CATEGORY(grokimagine_download_debug);

namespace grokimagine {

void init_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    GST_DEBUG_CATEGORY_INIT(grokimagine_core_debug, "grokimagine", 0,
                            "Grok Imagine jobs: submit, polls, status changes, retries");
    GST_DEBUG_CATEGORY_INIT(grokimagine_http_debug, "grokimaginehttp", 0,
                            "Grok Imagine HTTP requests (never the API key)");
    GST_DEBUG_CATEGORY_INIT(grokimagine_download_debug, "grokimaginedownload", 0,
                            "Grok Imagine media downloads");
  });
}

std::string loggable_url(const std::string &url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  if (!uri) return "(unparsable URL)";
  const char *host = g_uri_get_host(uri);
  std::string shown = std::string(g_uri_get_scheme(uri)) + "://" + (host ? host : "");
  if (g_uri_get_port(uri) > 0) shown += ":" + std::to_string(g_uri_get_port(uri));
  return shown + g_uri_get_path(uri);
}

}  // namespace grokimagine
