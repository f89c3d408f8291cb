// SPDX-License-Identifier: LGPL-2.1-or-later
// A list of prompts as text, for gst-launch: "<A dog on a beach,A cat>"
// (items split at commas, spaces kept) or with quoted items when a prompt
// holds a comma or a quote: <"One, two","Say \"hi\"">.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace grokimagine {

// nullopt when the text is not a list (no <...>, an unterminated quote).
std::optional<std::vector<std::string>> parse_prompt_list(const std::string &text);
// The quoted form, which parse_prompt_list reads back.
std::string serialize_prompt_list(const std::vector<std::string> &prompts);

// A prompt of nothing but white space: skipped, never a job.
bool is_blank_prompt(const std::string &prompt);
// Pango markup (a text/x-raw format of subtitles) to plain text: tags
// dropped, entities decoded.
std::string plain_text_of_markup(const std::string &markup);

}  // namespace grokimagine
