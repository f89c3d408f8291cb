// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target: every provider's response parsers on arbitrary answers.
// Input: byte 0 picks the provider, byte 1 the HTTP status class, byte 2
// the parser; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/providers/provider.h"

using namespace grokimagine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const auto &providers = all_providers();
  const Provider &provider = *providers[data[0] % providers.size()];
  static const unsigned kStatuses[] = {200, 201, 202, 400, 401, 404, 406, 422, 429, 500, 503};
  HttpResponse response;
  response.status = kStatuses[data[1] % (sizeof kStatuses / sizeof kStatuses[0])];
  response.body.assign(reinterpret_cast<const char *>(data + 3), size - 3);
  response.headers.emplace_back("x-request-id", "fuzz");
  switch (data[2] % 3) {
    case 0:
      (void)provider.parse_submit(response);
      break;
    case 1:
      (void)provider.parse_status(response);
      break;
    default:
      (void)provider.parse_result(response);
      break;
  }
  (void)provider.http_error(response, Phase::Status);
  return 0;
}
