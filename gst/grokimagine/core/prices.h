// SPDX-License-Identifier: LGPL-2.1-or-later
// What a job costs, for the `cost-usd` on the bus, `spent-usd` and the
// `budget`: the provider's own figure when it reports one (xAI's
// usage.cost_in_usd_ticks), otherwise an estimate from a price table.
//
// Built-in prices exist only where a provider publishes them (xAI); a user
// price file adds or overrides the rest, one price per line:
//
//   # provider  model                  resolution  usd-per-second  [usd-per-input-image]
//   segmind     grok-imagine-video     720p        0.06
//   xai         grok-imagine-video-1.5 *           0.08            0.01
//   xai         grok-imagine-image     *           0.02
//
// An image model's price is per image made (its unit is an image, not a
// second): the third figure, per input image, is for videos only.
//
// `*` matches any resolution; later lines win over earlier ones and over the
// built-in prices.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "request.h"

namespace grokimagine {

struct Price {
  std::string provider;
  std::string model;
  std::string resolution;  // "*": any
  // Per second of video, or per image made by an image model.
  double usd_per_unit = 0;
  double usd_per_input_image = 0;
};

class PriceTable {
 public:
  // The built-in prices, then those of `path` (empty: none).
  static Result<PriceTable> load(const std::string &path);

  // The estimated cost of `request` on `provider`; nullopt when no price is
  // known for it.
  std::optional<double> estimate(const std::string &provider, const Request &request) const;

  // Parses one price file's text; an error names the line.
  std::optional<Error> add_lines(const std::string &text, const std::string &source);

 private:
  std::vector<Price> prices_;
};

// "$0.30" style, for messages.
std::string format_usd(double usd);

}  // namespace grokimagine
