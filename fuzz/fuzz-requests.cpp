// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target: request validation and request building for every
// provider, with arbitrary property values. Input: NUL-separated fields
// (model, prompt, image, reference, resolution, aspect ratio, output format,
// mode) after two bytes of numbers (duration, n; their high bits also pick
// an operation, keyframes and audio). Images are only ever data: URIs or
// URLs here, and videos URLs or request:ID, so nothing is read from disk.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/providers/provider.h"

using namespace grokimagine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  std::vector<std::string> fields(8);
  size_t field = 0;
  for (size_t i = 2; i < size && field < fields.size(); i++) {
    if (data[i] == 0)
      field++;
    else
      fields[field].push_back(char(data[i]));
  }
  auto image_value = [](const std::string &value) {
    return value.empty() || value.rfind("http", 0) == 0 ? value : "data:" + value;
  };
  for (MediaKind kind : {MediaKind::Video, MediaKind::Image}) {
    Request request;
    request.kind = kind;
    request.model = fields[0];
    request.prompt = fields[1];
    request.image = image_value(fields[2]);
    if (!fields[3].empty()) request.reference_images.assign(data[1] % 9, image_value(fields[3]));
    request.duration = int(int8_t(data[0]));
    request.count = int(int8_t(data[1]));
    request.resolution = fields[4];
    request.aspect_ratio = fields[5];
    request.output_format = fields[6];
    request.mode = fields[7];
    // xai's operations: the input video only as a URL or request:ID (no
    // file is read), keyframes from the reference's value.
    if (kind == MediaKind::Video) {
      request.operation = Operation((uint8_t(data[1]) >> 4) % 3);
      if (request.operation != Operation::Generate)
        request.video = fields[2].rfind("http", 0) == 0 ? fields[2] : "request:" + fields[2];
      if ((data[0] & 1) && !fields[3].empty())
        request.keyframes.assign((uint8_t(data[0]) >> 1) % 6,
                                 fields[7] + ":" + image_value(fields[3]));
      request.continuation_only = data[1] & 0x40;
      request.generate_audio = !(data[1] & 0x80);
    }
    for (const Provider *provider : all_providers()) {
      if (const char *model = provider->default_model(kind); model && request.model.empty())
        request.model = model;
      if (provider->validate(request)) continue;
      auto inputs = resolve_inputs(request);
      if (!inputs.ok()) continue;
      HttpRequest http = provider->submit_request(request, *inputs, {"https://api.example", "k"});
      if (http.url.empty() || http.method.empty()) __builtin_trap();
      (void)provider->answers_with_media(request);
    }
  }
  return 0;
}
