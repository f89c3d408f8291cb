// SPDX-License-Identifier: LGPL-2.1-or-later
#include "json.h"

#include <cstring>

namespace grokimagine::json {

namespace {

constexpr int kMaxDepth = 32;

bool nesting_within_limit(const std::string &text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return false;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return true;
}

}  // namespace

Result<NodePtr> parse_object(const std::string &text) {
  auto fail = [](const std::string &reason) { return Error::protocol(reason); };
  if (text.empty()) return fail("empty body");
  if (!nesting_within_limit(text)) return fail("JSON nested too deeply");
  g_autoptr(JsonParser) parser = json_parser_new_immutable();
  g_autoptr(GError) error = nullptr;
  if (!json_parser_load_from_data(parser, text.data(), gssize(text.size()), &error))
    return fail(std::string("malformed JSON: ") + error->message);
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return fail("JSON is not an object");
  return NodePtr(json_node_ref(root));
}

JsonNode *node_at(JsonNode *node, const char *path) {
  std::string remaining(path);
  while (node) {
    if (!JSON_NODE_HOLDS_OBJECT(node)) return nullptr;
    auto dot = remaining.find('.');
    std::string member = remaining.substr(0, dot);
    node = json_object_get_member(json_node_get_object(node), member.c_str());
    if (dot == std::string::npos) return node;
    remaining.erase(0, dot + 1);
  }
  return nullptr;
}

std::string string_at(JsonNode *object, const char *path) {
  JsonNode *node = node_at(object, path);
  if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
    return {};
  return json_node_get_string(node);
}

std::optional<double> number_at(JsonNode *object, const char *path) {
  JsonNode *node = node_at(object, path);
  if (!node || !JSON_NODE_HOLDS_VALUE(node)) return std::nullopt;
  GType type = json_node_get_value_type(node);
  if (type == G_TYPE_INT64) return double(json_node_get_int(node));
  if (type == G_TYPE_DOUBLE) return json_node_get_double(node);
  return std::nullopt;
}

std::string error_message(JsonNode *object) {
  for (const char *path : {"error.message", "error", "detail", "message", "error.detail"}) {
    std::string message = string_at(object, path);
    if (!message.empty()) return message;
  }
  return {};
}

std::string error_message(const std::string &body) {
  if (auto root = parse_object(body); root.ok()) {
    std::string message = error_message(root->get());
    if (!message.empty()) return message;
  }
  constexpr size_t kExcerpt = 200;
  g_autofree gchar *excerpt = g_utf8_make_valid(body.substr(0, kExcerpt).c_str(), -1);
  for (gchar *c = excerpt; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
  return excerpt;
}

std::string to_string(JsonBuilder *builder) {
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_autoptr(JsonGenerator) generator = json_generator_new();
  json_generator_set_root(generator, root);
  g_autofree gchar *text = json_generator_to_data(generator, nullptr);
  return text;
}

void add_member(JsonBuilder *builder, const char *name, const std::string &value) {
  json_builder_set_member_name(builder, name);
  json_builder_add_string_value(builder, value.c_str());
}

void add_member(JsonBuilder *builder, const char *name, gint64 value) {
  json_builder_set_member_name(builder, name);
  json_builder_add_int_value(builder, value);
}

}  // namespace grokimagine::json
