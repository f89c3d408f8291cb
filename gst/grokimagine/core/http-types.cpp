// SPDX-License-Identifier: LGPL-2.1-or-later
#include "http-types.h"

#include "log.h"

namespace grokimagine {

std::string HttpResponse::header(const char *name) const {
  for (const auto &[key, value] : headers)
    if (g_ascii_strcasecmp(key.c_str(), name) == 0) return value;
  return {};
}

std::string describe_request(const HttpRequest &request) {
  std::string text = request.method + " " + loggable_url(request.url);
  if (!request.log_phase.empty() || request.log_attempt > 1) {
    text += " (";
    if (!request.log_phase.empty()) text += request.log_phase;
    if (request.log_attempt > 1)
      text += (request.log_phase.empty() ? "" : ", ") + std::string("attempt ") +
              std::to_string(request.log_attempt);
    text += ")";
  }
  return text;
}

}  // namespace grokimagine
