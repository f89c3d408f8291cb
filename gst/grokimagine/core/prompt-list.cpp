// SPDX-License-Identifier: LGPL-2.1-or-later
#include "prompt-list.h"

namespace grokimagine {

namespace {

std::string trimmed(const std::string &text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::optional<std::vector<std::string>> parse_prompt_list(const std::string &text) {
  const std::string list = trimmed(text);
  if (list.size() < 2 || list.front() != '<' || list.back() != '>') return std::nullopt;
  std::vector<std::string> items;
  std::string item;
  bool quoted = false;  // inside "..."
  bool was_quoted = false;
  for (std::size_t i = 1; i + 1 < list.size(); i++) {
    const char c = list[i];
    if (quoted) {
      if (c == '\\' && i + 2 < list.size()) {
        item += list[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        item += c;
      }
    } else if (c == '"' && trimmed(item).empty()) {
      quoted = true;
      was_quoted = true;
      item.clear();
    } else if (c == ',') {
      items.push_back(was_quoted ? item : trimmed(item));
      item.clear();
      was_quoted = false;
    } else if (!was_quoted) {
      item += c;
    }
  }
  if (quoted) return std::nullopt;
  if (was_quoted || !trimmed(item).empty() || !items.empty())
    items.push_back(was_quoted ? item : trimmed(item));
  return items;
}

std::string serialize_prompt_list(const std::vector<std::string> &prompts) {
  std::string text = "<";
  for (std::size_t i = 0; i < prompts.size(); i++) {
    if (i) text += ',';
    text += '"';
    for (char c : prompts[i]) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  return text + ">";
}

bool is_blank_prompt(const std::string &prompt) {
  return prompt.find_first_not_of(" \t\r\n") == std::string::npos;
}

std::string plain_text_of_markup(const std::string &markup) {
  std::string text;
  bool in_tag = false;
  for (char c : markup) {
    if (c == '<') in_tag = true;
    if (!in_tag) text += c;
    if (c == '>') in_tag = false;
  }
  static const std::pair<const char *, const char *> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto &[entity, plain] : kEntities)
    for (std::size_t at; (at = text.find(entity)) != std::string::npos;)
      text.replace(at, std::string(entity).size(), plain);
  return text;
}

}  // namespace grokimagine
