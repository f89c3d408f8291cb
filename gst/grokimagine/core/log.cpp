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

}  // namespace grokimagine
