// SPDX-License-Identifier: LGPL-2.1-or-later
#include "prices.h"

#include <gio/gio.h>

#include <sstream>

#include "local-file.h"

namespace grokimagine {

namespace {

// xAI's published prices (providers.md; "not guaranteed"): per second of
// video, plus a fee per input image on grok-imagine-video-1.5.
const Price kBuiltIn[] = {
    {"xai", "grok-imagine-video", "480p", 0.05, 0},
    {"xai", "grok-imagine-video-1.5", "480p", 0.08, 0.01},
    {"xai", "grok-imagine-video-1.5", "720p", 0.14, 0.01},
};

}  // namespace

std::string format_usd(double usd) {
  g_autofree gchar *text = g_strdup_printf("$%.2f", usd);
  return text;
}

Result<PriceTable> PriceTable::load(const std::string &path) {
  PriceTable table;
  table.prices_.assign(std::begin(kBuiltIn), std::end(kBuiltIn));
  if (path.empty()) return table;
  // A price file is a few lines; a bound keeps a mistaken path cheap.
  constexpr std::uint64_t kMaxBytes = 1024 * 1024;
  auto contents = read_regular_file(path, kMaxBytes, Symlinks::Follow);
  if (!contents.ok())
    return invalid_setting("Property 'prices': cannot read '" + path +
                           "': " + contents.error().message + ".");
  if (auto failure = table.add_lines(*contents, path)) return *failure;
  return table;
}

std::optional<Error> PriceTable::add_lines(const std::string &text, const std::string &source) {
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); number++) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    Price price;
    std::string per_second, per_image;
    if (!(fields >> price.provider)) continue;  // blank or comment
    fields >> price.model >> price.resolution >> per_second >> per_image;
    gchar *end = nullptr;
    price.usd_per_unit = g_ascii_strtod(per_second.c_str(), &end);
    bool ok = !per_second.empty() && end && *end == '\0' && price.usd_per_unit >= 0;
    if (ok && !per_image.empty()) {
      price.usd_per_input_image = g_ascii_strtod(per_image.c_str(), &end);
      ok = end && *end == '\0' && price.usd_per_input_image >= 0;
    }
    std::string extra;
    if (!ok || price.resolution.empty() || (fields >> extra))
      return invalid_setting("Property 'prices': " + source + " line " + std::to_string(number) +
                             " is not 'provider model resolution usd-per-second "
                             "[usd-per-input-image]'");
    prices_.push_back(price);
  }
  return std::nullopt;
}

std::optional<double> PriceTable::estimate(const std::string &provider,
                                           const Request &request) const {
  // The last matching line wins: a user's file overrides the built-in.
  for (auto price = prices_.rbegin(); price != prices_.rend(); ++price) {
    if (price->provider != provider || price->model != request.model) continue;
    if (price->resolution != "*" && price->resolution != request.resolution) continue;
    if (request.kind == MediaKind::Image) return price->usd_per_unit * request.count;
    const size_t images = (request.image.empty() ? 0 : 1) + request.reference_images.size();
    return price->usd_per_unit * request.duration + price->usd_per_input_image * double(images);
  }
  return std::nullopt;
}

}  // namespace grokimagine
