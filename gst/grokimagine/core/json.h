// SPDX-License-Identifier: LGPL-2.1-or-later
// Defensive reading of provider JSON: responses come from the network, so
// every accessor tolerates a missing member or a wrong type.
#pragma once

#include <json-glib/json-glib.h>

#include <memory>
#include <optional>
#include <string>

#include "error.h"

namespace grokimagine::json {

struct NodeUnref {
  void operator()(JsonNode *node) const { json_node_unref(node); }
};
using NodePtr = std::unique_ptr<JsonNode, NodeUnref>;

// Parses `text` if it is a JSON object no deeper than a sane nesting limit;
// otherwise a Protocol error whose message says why ("empty body",
// "malformed JSON: ...").
Result<NodePtr> parse_object(const std::string &text);

// Member accessors on an object node; absent or mistyped members give
// empty / nullopt. `path` may name nested members with dots ("video.url").
std::string string_at(JsonNode *object, const char *path);
std::optional<double> number_at(JsonNode *object, const char *path);
JsonNode *node_at(JsonNode *object, const char *path);

// The human-readable message of an error body in any of the envelopes the
// providers use: {"error": "m"}, {"error": {"message": "m"}},
// {"detail": "m"}, {"message": "m"}. Empty when there is none.
std::string error_message(JsonNode *object);
// Same, straight from a response body; falls back to a short excerpt of a
// non-JSON body.
std::string error_message(const std::string &body);

std::string to_string(JsonBuilder *builder);

// One member of the object being built.
void add_member(JsonBuilder *builder, const char *name, const std::string &value);
void add_member(JsonBuilder *builder, const char *name, gint64 value);

}  // namespace grokimagine::json
