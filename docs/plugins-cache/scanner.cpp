// SPDX-License-Identifier: LGPL-2.1-or-later
// Writes the documentation cache of GStreamer plugins (gst_plugins_cache.json,
// as GStreamer's own modules keep in docs/) for plugin files given on the
// command line.
//
//   gst-plugins-cache-scanner CACHE.json PLUGIN.so...          (re)write CACHE.json
//   gst-plugins-cache-scanner --check CACHE.json PLUGIN.so...  fail if it is stale
//
// The structure follows GStreamer's gst-hotdoc-plugins-scanner.c and the file
// layout follows gst-plugins-doc-cache-generator.py, which rewrites that
// scanner's output with json.dump(indent=4, sort_keys=True, ensure_ascii=False):
//
//   { PLUGIN: { "description", "elements": { NAME: { "author", "description",
//     "hierarchy", "interfaces", "klass", "long-name", "pad-templates",
//     "properties", "rank", "signals" } }, "filename", "license",
//     "other-types", "package", "source", "tracers", "url" } }
//
// As there, an element's "interfaces", "pad-templates", "properties" and
// "signals" are left out when empty, only the properties and signals the
// element's own type adds are listed, "other-types" holds the enums, flags
// and classes marked with gst_type_mark_as_plugin_api(), and '%' is doubled
// in documentation strings ("video_%%u").
//
// No secret is read: a property's "default" comes from a fresh instance only
// when the property is readable (a write-only property such as api-key gets
// its GParamSpec default instead), as in GStreamer's scanner.
//
// Unlike the Python generator, the cache is rewritten from scratch rather than
// merged into the previous one, so removed properties do not linger in it.

#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {

const char kRegenerate[] = "run: ninja -C build plugins-cache";

// The escaping GStreamer's scanner applies to documentation strings before
// JSON escaping: '%' doubled, and NULL written as "NULL".
std::string doc_string(const char *text) {
  if (!text) return "NULL";
  std::string out;
  for (const char *p = text; *p; p++) {
    out += *p;
    if (*p == '%') out += '%';
  }
  return out;
}

void set_doc_string(JsonObject *object, const char *member, const char *text) {
  json_object_set_string_member(object, member, doc_string(text).c_str());
}

std::string format_double(double value) {
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  return g_ascii_formatd(buffer, sizeof buffer, "%g", value);
}

// Types (and their instances) described once per plugin under "other-types".
struct Scan {
  JsonObject *other_types;
  std::set<std::string> seen;

  // True the first time a plugin-API type comes up: describe it then.
  bool first_api_use(GType type, GstPluginAPIFlags *flags = nullptr) {
    const char *name = g_type_name(type);
    if (!name || seen.count(name) || !gst_type_is_plugin_api(type, flags)) return false;
    seen.insert(name);
    return true;
  }
};

void add_object_details(Scan &scan, JsonObject *out, GObject *object, GType type, GType inst_type);

void add_enum_type(Scan &scan, GType type, GstPluginAPIFlags api_flags) {
  JsonObject *out = json_object_new();
  json_object_set_string_member(out, "kind", "enum");
  if (api_flags & GST_PLUGIN_API_FLAG_IGNORE_ENUM_MEMBERS) {
    json_object_set_boolean_member(out, "ignore-enum-members", TRUE);
  } else {
    auto *klass = static_cast<GEnumClass *>(g_type_class_ref(type));
    JsonArray *values = json_array_new();
    for (guint i = 0; i < klass->n_values; i++) {
      const GEnumValue &v = klass->values[i];
      JsonObject *entry = json_object_new();
      set_doc_string(entry, "desc", v.value_name);
      set_doc_string(entry, "name", v.value_nick);
      json_object_set_string_member(entry, "value", std::to_string(v.value).c_str());
      json_array_add_object_element(values, entry);
    }
    json_object_set_array_member(out, "values", values);
    g_type_class_unref(klass);
  }
  json_object_set_object_member(scan.other_types, g_type_name(type), out);
}

void add_flags_type(Scan &scan, GType type) {
  auto *klass = static_cast<GFlagsClass *>(g_type_class_ref(type));
  JsonObject *out = json_object_new();
  json_object_set_string_member(out, "kind", "flags");
  JsonArray *values = json_array_new();
  for (guint i = 0; i < klass->n_values; i++) {
    const GFlagsValue &v = klass->values[i];
    JsonObject *entry = json_object_new();
    g_autofree gchar *value = g_strdup_printf("0x%08x", v.value);
    set_doc_string(entry, "desc", v.value_name);
    set_doc_string(entry, "name", v.value_nick);
    json_object_set_string_member(entry, "value", value);
    json_array_add_object_element(values, entry);
  }
  json_object_set_array_member(out, "values", values);
  json_object_set_object_member(scan.other_types, g_type_name(type), out);
  g_type_class_unref(klass);
}

// A class or interface of the plugin's API: its details, read on an instance
// of inst_type (type itself may be abstract, or an interface).
void add_object_type(Scan &scan, GType type, GType inst_type) {
  JsonObject *out = json_object_new();
  json_object_set_string_member(out, "kind", G_TYPE_IS_INTERFACE(type) ? "interface" : "object");
  GObject *instance = G_TYPE_IS_INSTANTIATABLE(inst_type) && !G_TYPE_IS_ABSTRACT(inst_type)
                          ? static_cast<GObject *>(g_object_new(inst_type, nullptr))
                          : nullptr;
  if (instance && g_type_is_a(inst_type, G_TYPE_INITIALLY_UNOWNED)) g_object_ref_sink(instance);
  add_object_details(scan, out, instance, type, inst_type);
  if (instance) g_object_unref(instance);
  json_object_set_object_member(scan.other_types, g_type_name(type), out);
}

void add_api_type(Scan &scan, GType type, GType inst_type) {
  GstPluginAPIFlags api_flags = GstPluginAPIFlags(0);
  if (!scan.first_api_use(type, &api_flags)) return;
  if (g_type_is_a(type, G_TYPE_ENUM))
    add_enum_type(scan, type, api_flags);
  else if (g_type_is_a(type, G_TYPE_FLAGS))
    add_flags_type(scan, type);
  else if (g_type_is_a(type, G_TYPE_OBJECT) || G_TYPE_IS_INTERFACE(type))
    add_object_type(scan, type, inst_type);
}

const char *enum_nick(GType type, gint value) {
  auto *klass = static_cast<GEnumClass *>(g_type_class_peek(type));
  const GEnumValue *v = klass ? g_enum_get_value(klass, value) : nullptr;
  return v ? v->value_nick : "";
}

// gst-hotdoc-plugins-scanner's flags_to_string(): an exact nick, else the
// set flags from the highest, joined with '+', else "(none)".
std::string flags_default(GType type, guint flags) {
  auto *klass = static_cast<GFlagsClass *>(g_type_class_peek(type));
  for (guint i = 0; i < klass->n_values; i++)
    if (klass->values[i].value == flags) return klass->values[i].value_nick;
  std::string out;
  guint left = flags;
  for (guint i = klass->n_values; i > 0 && left; i--) {
    const GFlagsValue &v = klass->values[i - 1];
    if (v.value != 0 && (left & v.value) == v.value) {
      if (!out.empty()) out += '+';
      out += v.value_nick;
      left &= ~v.value;
    }
  }
  return out.empty() ? "(none)" : out;
}

template <typename T>
void set_range(JsonObject *out, const T &value, const T &min, const T &max) {
  json_object_set_string_member(out, "default", std::to_string(value).c_str());
  json_object_set_string_member(out, "min", std::to_string(min).c_str());
  json_object_set_string_member(out, "max", std::to_string(max).c_str());
}

void set_range(JsonObject *out, double value, double min, double max) {
  json_object_set_string_member(out, "default", format_double(value).c_str());
  json_object_set_string_member(out, "min", format_double(min).c_str());
  json_object_set_string_member(out, "max", format_double(max).c_str());
}

// "default" (and "min"/"max" for numbers) of one property.
void add_property_default(JsonObject *out, GParamSpec *spec, const GValue *value) {
  switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(value))) {
    case G_TYPE_STRING:
      set_doc_string(out, "default", g_value_get_string(value));
      return;
    case G_TYPE_BOOLEAN:
      json_object_set_string_member(out, "default", g_value_get_boolean(value) ? "true" : "false");
      return;
    case G_TYPE_INT: {
      auto *p = G_PARAM_SPEC_INT(spec);
      set_range(out, g_value_get_int(value), p->minimum, p->maximum);
      return;
    }
    case G_TYPE_UINT: {
      auto *p = G_PARAM_SPEC_UINT(spec);
      set_range(out, g_value_get_uint(value), p->minimum, p->maximum);
      return;
    }
    case G_TYPE_LONG: {
      auto *p = G_PARAM_SPEC_LONG(spec);
      set_range(out, g_value_get_long(value), p->minimum, p->maximum);
      g_printerr("note: property '%s' is a long: consider int or int64\n", spec->name);
      return;
    }
    case G_TYPE_ULONG: {
      auto *p = G_PARAM_SPEC_ULONG(spec);
      set_range(out, g_value_get_ulong(value), p->minimum, p->maximum);
      g_printerr("note: property '%s' is an unsigned long: consider uint or uint64\n", spec->name);
      return;
    }
    case G_TYPE_INT64: {
      auto *p = G_PARAM_SPEC_INT64(spec);
      set_range(out, gint64(g_value_get_int64(value)), gint64(p->minimum), gint64(p->maximum));
      return;
    }
    case G_TYPE_UINT64: {
      auto *p = G_PARAM_SPEC_UINT64(spec);
      set_range(out, guint64(g_value_get_uint64(value)), guint64(p->minimum), guint64(p->maximum));
      return;
    }
    case G_TYPE_FLOAT: {
      auto *p = G_PARAM_SPEC_FLOAT(spec);
      set_range(out, double(g_value_get_float(value)), double(p->minimum), double(p->maximum));
      return;
    }
    case G_TYPE_DOUBLE: {
      auto *p = G_PARAM_SPEC_DOUBLE(spec);
      set_range(out, g_value_get_double(value), p->minimum, p->maximum);
      return;
    }
    case G_TYPE_ENUM: {
      const gint v = g_value_get_enum(value);
      g_autofree gchar *text =
          g_strdup_printf("%s (%d)", doc_string(enum_nick(spec->value_type, v)).c_str(), v);
      json_object_set_string_member(out, "default", text);
      return;
    }
    case G_TYPE_FLAGS:
      json_object_set_string_member(
          out, "default",
          doc_string(flags_default(spec->value_type, g_value_get_flags(value)).c_str()).c_str());
      return;
    default:
      break;
  }
  if (spec->value_type == GST_TYPE_CAPS) {
    if (const GstCaps *caps = gst_value_get_caps(value)) {
      g_autofree gchar *text = gst_caps_to_string(caps);
      set_doc_string(out, "default", text);
    }
  } else if (spec->value_type == GST_TYPE_STRUCTURE) {
    if (const GstStructure *s = gst_value_get_structure(value)) {
      g_autofree gchar *text = gst_structure_to_string(s);
      set_doc_string(out, "default", text);
    }
  } else if (GST_IS_PARAM_SPEC_FRACTION(spec)) {
    auto *p = GST_PARAM_SPEC_FRACTION(spec);
    g_autofree gchar *def = g_strdup_printf("%d/%d", gst_value_get_fraction_numerator(value),
                                            gst_value_get_fraction_denominator(value));
    g_autofree gchar *min = g_strdup_printf("%d/%d", p->min_num, p->min_den);
    g_autofree gchar *max = g_strdup_printf("%d/%d", p->max_num, p->max_den);
    json_object_set_string_member(out, "default", def);
    json_object_set_string_member(out, "min", min);
    json_object_set_string_member(out, "max", max);
  }
  // Other types (objects, GstValueArray...) have no "default", as in GStreamer's.
}

const char *mutable_name(GParamFlags flags) {
  if (flags & GST_PARAM_MUTABLE_PLAYING) return "playing";
  if (flags & GST_PARAM_MUTABLE_PAUSED) return "paused";
  if (flags & GST_PARAM_MUTABLE_READY) return "ready";
  return "null";
}

// The properties `type` itself installs, read on `object` when readable.
void add_properties(Scan &scan, JsonObject *out, GObject *object, GObjectClass *klass, GType type) {
  guint n_specs = 0;
  g_autofree GParamSpec **specs = g_object_class_list_properties(klass, &n_specs);
  JsonObject *properties = json_object_new();
  for (guint i = 0; i < n_specs; i++) {
    GParamSpec *spec = specs[i];
    if (spec->owner_type != type) continue;

    GValue value = G_VALUE_INIT;
    g_value_init(&value, spec->value_type);
    // Never read a property that is not readable: write-only ones (api-key)
    // may hold secrets. Their documented default is the GParamSpec's.
    if (object && (spec->flags & G_PARAM_READABLE) && !(spec->flags & GST_PARAM_DOC_SHOW_DEFAULT))
      g_object_get_property(object, spec->name, &value);
    else
      g_param_value_set_default(spec, &value);

    JsonObject *p = json_object_new();
    set_doc_string(p, "blurb", g_param_spec_get_blurb(spec));
    json_object_set_boolean_member(p, "conditionally-available",
                                   (spec->flags & GST_PARAM_CONDITIONALLY_AVAILABLE) != 0);
    json_object_set_boolean_member(p, "construct", (spec->flags & G_PARAM_CONSTRUCT) != 0);
    json_object_set_boolean_member(p, "construct-only",
                                   (spec->flags & G_PARAM_CONSTRUCT_ONLY) != 0);
    json_object_set_boolean_member(p, "controllable", (spec->flags & GST_PARAM_CONTROLLABLE) != 0);
    json_object_set_string_member(p, "mutable", mutable_name(spec->flags));
    json_object_set_boolean_member(p, "readable", (spec->flags & G_PARAM_READABLE) != 0);
    json_object_set_string_member(p, "type", g_type_name(spec->value_type));
    json_object_set_boolean_member(p, "writable", (spec->flags & G_PARAM_WRITABLE) != 0);

    GType inst_type = spec->value_type;
    if (G_IS_PARAM_SPEC_OBJECT(spec) && g_value_get_object(&value))
      inst_type = G_OBJECT_TYPE(g_value_get_object(&value));
    add_api_type(scan, spec->value_type, inst_type);
    add_property_default(p, spec, &value);
    g_value_unset(&value);

    json_object_set_object_member(properties, spec->name, p);
  }
  if (json_object_get_size(properties))
    json_object_set_object_member(out, "properties", properties);
  else
    json_object_unref(properties);
}

// The signals `type` itself defines.
void add_signals(Scan &scan, JsonObject *out, GType type) {
  guint n_ids = 0;
  g_autofree guint *ids = g_signal_list_ids(type, &n_ids);
  if (!n_ids) return;
  JsonObject *signals = json_object_new();
  for (guint i = 0; i < n_ids; i++) {
    GSignalQuery query;
    g_signal_query(ids[i], &query);
    JsonObject *s = json_object_new();
    JsonArray *args = json_array_new();
    for (guint j = 0; j < query.n_params; j++) {
      const GType arg_type = query.param_types[j] & ~G_SIGNAL_TYPE_STATIC_SCOPE;
      JsonObject *arg = json_object_new();
      g_autofree gchar *name = g_strdup_printf("arg%u", j);
      json_object_set_string_member(arg, "name", name);
      json_object_set_string_member(arg, "type", g_type_name(arg_type));
      json_array_add_object_element(args, arg);
      add_api_type(scan, arg_type, arg_type);
    }
    json_object_set_array_member(s, "args", args);
    const GType return_type = query.return_type & ~G_SIGNAL_TYPE_STATIC_SCOPE;
    add_api_type(scan, return_type, return_type);
    json_object_set_string_member(s, "return-type", g_type_name(return_type));
    if (query.signal_flags & G_SIGNAL_RUN_FIRST)
      json_object_set_string_member(s, "when", "first");
    else if (query.signal_flags & G_SIGNAL_RUN_LAST)
      json_object_set_string_member(s, "when", "last");
    else if (query.signal_flags & G_SIGNAL_RUN_CLEANUP)
      json_object_set_string_member(s, "when", "cleanup");
    if (query.signal_flags & G_SIGNAL_NO_RECURSE)
      json_object_set_boolean_member(s, "no-recurse", TRUE);
    if (query.signal_flags & G_SIGNAL_DETAILED) json_object_set_boolean_member(s, "detailed", TRUE);
    if (query.signal_flags & G_SIGNAL_ACTION) json_object_set_boolean_member(s, "action", TRUE);
    if (query.signal_flags & G_SIGNAL_NO_HOOKS) json_object_set_boolean_member(s, "no-hooks", TRUE);
    json_object_set_object_member(signals, query.signal_name, s);
  }
  json_object_set_object_member(out, "signals", signals);
}

// "hierarchy", "interfaces", "properties" and "signals" of `type`.
void add_object_details(Scan &scan, JsonObject *out, GObject *object, GType type, GType inst_type) {
  JsonArray *hierarchy = json_array_new();
  for (GType t = type;; t = g_type_parent(t)) {
    json_array_add_string_element(hierarchy, g_type_name(t));
    if (scan.first_api_use(t)) add_object_type(scan, t, inst_type);
    if (t == G_TYPE_OBJECT || t == G_TYPE_INTERFACE || !g_type_parent(t)) break;
  }
  json_object_set_array_member(out, "hierarchy", hierarchy);

  guint n_interfaces = 0;
  g_autofree GType *interfaces = g_type_interfaces(type, &n_interfaces);
  if (n_interfaces) {
    JsonArray *names = json_array_new();
    for (guint i = 0; i < n_interfaces; i++) {
      json_array_add_string_element(names, g_type_name(interfaces[i]));
      if (scan.first_api_use(interfaces[i])) add_object_type(scan, interfaces[i], inst_type);
    }
    json_object_set_array_member(out, "interfaces", names);
  }

  // As in GStreamer's scanner, only properties whose owner is `type` itself
  // (an interface's properties are owned by the classes overriding them).
  if (object) {
    add_properties(scan, out, object, G_OBJECT_GET_CLASS(object), type);
  } else if (G_TYPE_IS_CLASSED(type)) {
    auto *klass = static_cast<GObjectClass *>(g_type_class_ref(type));
    add_properties(scan, out, nullptr, klass, type);
    g_type_class_unref(klass);
  }
  add_signals(scan, out, type);
}

// Caps as GStreamer's documentation shows them: one "name:" line per
// structure (with features when not system memory), then one right-aligned
// "field: value" line per field.
std::string describe_caps(const GstCaps *caps) {
  if (gst_caps_is_any(caps)) return "ANY";
  if (gst_caps_is_empty(caps)) return "EMPTY";
  static GRegex *cleanup =
      g_regex_new("\\(string\\)|\\(rate\\)", GRegexCompileFlags(0), GRegexMatchFlags(0), nullptr);
  std::string out;
  for (guint i = 0; i < gst_caps_get_size(caps); i++) {
    const GstStructure *structure = gst_caps_get_structure(caps, i);
    GstCapsFeatures *features = gst_caps_get_features(caps, i);
    if (features &&
        (gst_caps_features_is_any(features) ||
         !gst_caps_features_is_equal(features, GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY))) {
      g_autofree gchar *text = gst_caps_features_to_string(features);
      out += std::string(i ? "\n" : "") + gst_structure_get_name(structure) + "(" + text + "):\n";
    } else {
      out += std::string(gst_structure_get_name(structure)) + ":\n";
    }
    for (gint f = 0; f < gst_structure_n_fields(structure); f++) {
      const char *field = gst_structure_nth_field_name(structure, guint(f));
      g_autofree gchar *value = gst_value_serialize(gst_structure_get_value(structure, field));
      if (!g_strcmp0(field, "format") || !g_strcmp0(field, "rate")) {
        gchar *cleaned = g_regex_replace(cleanup, value, -1, 0, "", GRegexMatchFlags(0), nullptr);
        g_free(value);
        value = cleaned;
      }
      g_autofree gchar *line = g_strdup_printf("%15s: %s\n", field, value);
      out += line;
    }
  }
  return out;
}

void add_pad_templates(Scan &scan, JsonObject *out, GstElement *element,
                       GstElementFactory *factory) {
  JsonObject *templates = json_object_new();
  for (const GList *l = gst_element_factory_get_static_pad_templates(factory); l; l = l->next) {
    auto *static_template = static_cast<GstStaticPadTemplate *>(l->data);
    GstPadTemplate *tmpl = gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(element),
                                                              static_template->name_template);
    JsonObject *t = json_object_new();
    GstCaps *caps = tmpl ? gst_pad_template_get_documentation_caps(tmpl)
                         : gst_static_pad_template_get_caps(static_template);
    set_doc_string(t, "caps", describe_caps(caps).c_str());
    gst_caps_unref(caps);
    json_object_set_string_member(t, "direction",
                                  static_template->direction == GST_PAD_SRC    ? "src"
                                  : static_template->direction == GST_PAD_SINK ? "sink"
                                                                               : "unknown");
    json_object_set_string_member(t, "presence",
                                  static_template->presence == GST_PAD_ALWAYS      ? "always"
                                  : static_template->presence == GST_PAD_SOMETIMES ? "sometimes"
                                  : static_template->presence == GST_PAD_REQUEST   ? "request"
                                                                                   : "unknown");
    const GType pad_type = tmpl ? GST_PAD_TEMPLATE_GTYPE(tmpl) : G_TYPE_NONE;
    if (pad_type != G_TYPE_NONE && pad_type != GST_TYPE_PAD) {
      json_object_set_string_member(t, "type", g_type_name(pad_type));
      if (scan.first_api_use(pad_type)) add_object_type(scan, pad_type, pad_type);
    }
    json_object_set_object_member(templates, doc_string(static_template->name_template).c_str(), t);
  }
  if (json_object_get_size(templates))
    json_object_set_object_member(out, "pad-templates", templates);
  else
    json_object_unref(templates);
}

std::string rank_name(gint rank) {
  static const struct {
    gint rank;
    const char *name;
  } ranks[] = {{GST_RANK_NONE, "none"},
               {GST_RANK_MARGINAL, "marginal"},
               {GST_RANK_SECONDARY, "secondary"},
               {GST_RANK_PRIMARY, "primary"}};
  size_t best = 0;
  for (size_t i = 0; i < G_N_ELEMENTS(ranks); i++) {
    if (rank == ranks[i].rank) return ranks[i].name;
    if (std::abs(rank - ranks[i].rank) < std::abs(rank - ranks[best].rank)) best = i;
  }
  return std::string(ranks[best].name) + (rank > ranks[best].rank ? " + " : " - ") +
         std::to_string(std::abs(rank - ranks[best].rank));
}

JsonObject *describe_element(Scan &scan, GstElementFactory *factory) {
  GstElement *element = gst_element_factory_create(factory, nullptr);
  if (!element) return nullptr;
  gst_object_ref_sink(element);

  JsonObject *out = json_object_new();
  json_object_set_string_member(
      out, "rank", rank_name(gst_plugin_feature_get_rank(GST_PLUGIN_FEATURE(factory))).c_str());
  // author, description, klass, long-name and any other metadata (doc-uri...).
  g_auto(GStrv) keys = gst_element_factory_get_metadata_keys(factory);
  for (gchar **key = keys; key && *key; key++)
    set_doc_string(out, *key, gst_element_factory_get_metadata(factory, *key));
  add_object_details(scan, out, G_OBJECT(element), G_OBJECT_TYPE(element), G_OBJECT_TYPE(element));
  add_pad_templates(scan, out, element, factory);
  gst_object_unref(element);
  return out;
}

JsonObject *describe_plugin(GstPlugin *plugin, const char *path) {
  const char *name = gst_plugin_get_name(plugin);
  JsonObject *out = json_object_new();
  json_object_set_string_member(out, "description", gst_plugin_get_description(plugin));
  // The file's name without directory, "lib" prefix or extension.
  g_autofree gchar *basename = g_path_get_basename(path);
  std::string filename = basename;
  filename = filename.substr(0, filename.find('.'));
  if (g_str_has_prefix(filename.c_str(), "lib")) filename.erase(0, 3);
  json_object_set_string_member(out, "filename", filename.c_str());
  json_object_set_string_member(out, "license", gst_plugin_get_license(plugin));
  // As gst-plugins-doc-cache-generator.py stores it: without a release suffix.
  g_autoptr(GRegex) release = g_regex_new(" git$| source release$| prerelease$",
                                          GRegexCompileFlags(0), GRegexMatchFlags(0), nullptr);
  g_autofree gchar *package = g_regex_replace(release, gst_plugin_get_package(plugin), -1, 0, "",
                                              GRegexMatchFlags(0), nullptr);
  json_object_set_string_member(out, "package", package);
  json_object_set_string_member(out, "source", gst_plugin_get_source(plugin));
  json_object_set_string_member(out, "url", gst_plugin_get_origin(plugin));

  Scan scan{json_object_new(), {}};
  JsonObject *elements = json_object_new();
  JsonObject *tracers = json_object_new();
  GList *features = gst_registry_get_feature_list_by_plugin(gst_registry_get(), name);
  // Initialise every element class first, so a type one element marks as
  // plugin API is known whichever element uses it first.
  for (GList *l = features; l; l = l->next) {
    if (!GST_IS_ELEMENT_FACTORY(l->data)) continue;
    auto *factory = GST_ELEMENT_FACTORY(gst_plugin_feature_load(GST_PLUGIN_FEATURE(l->data)));
    if (!factory) continue;
    if (GType type = gst_element_factory_get_element_type(factory))
      g_type_class_unref(g_type_class_ref(type));
    gst_object_unref(factory);
  }
  bool ok = true;
  for (GList *l = features; l; l = l->next) {
    auto *feature = GST_PLUGIN_FEATURE(l->data);
    if (GST_IS_ELEMENT_FACTORY(feature)) {
      auto *factory = GST_ELEMENT_FACTORY(feature);
      if (gst_element_factory_get_skip_documentation(factory)) continue;
      JsonObject *element = describe_element(scan, factory);
      if (!element) {
        g_printerr("Could not create element '%s'\n", GST_OBJECT_NAME(feature));
        ok = false;
        continue;
      }
      json_object_set_object_member(elements, GST_OBJECT_NAME(feature), element);
    } else if (GST_IS_TRACER_FACTORY(feature)) {
      json_object_set_object_member(tracers, GST_OBJECT_NAME(feature), json_object_new());
    }
  }
  gst_plugin_feature_list_free(features);

  json_object_set_object_member(out, "elements", elements);
  json_object_set_object_member(out, "tracers", tracers);
  json_object_set_object_member(out, "other-types", scan.other_types);
  if (!ok) {
    json_object_unref(out);
    return nullptr;
  }
  return out;
}

// JSON as Python's json.dump(indent=4, sort_keys=True, ensure_ascii=False)
// writes it, the layout of GStreamer's gst_plugins_cache.json files.
void write_json_string(GString *out, const char *text) {
  g_string_append_c(out, '"');
  for (const unsigned char *p = reinterpret_cast<const unsigned char *>(text); *p; p++) {
    switch (*p) {
      case '"':
        g_string_append(out, "\\\"");
        break;
      case '\\':
        g_string_append(out, "\\\\");
        break;
      case '\n':
        g_string_append(out, "\\n");
        break;
      case '\r':
        g_string_append(out, "\\r");
        break;
      case '\t':
        g_string_append(out, "\\t");
        break;
      case '\b':
        g_string_append(out, "\\b");
        break;
      case '\f':
        g_string_append(out, "\\f");
        break;
      default:
        if (*p < 0x20)
          g_string_append_printf(out, "\\u%04x", *p);
        else
          g_string_append_c(out, char(*p));
    }
  }
  g_string_append_c(out, '"');
}

void write_json(GString *out, JsonNode *node, int depth) {
  auto newline = [out](int level) {
    g_string_append_c(out, '\n');
    for (int i = 0; i < level * 4; i++) g_string_append_c(out, ' ');
  };
  switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
      JsonObject *object = json_node_get_object(node);
      GList *members = json_object_get_members(object);
      if (!members) {
        g_string_append(out, "{}");
        return;
      }
      members = g_list_sort(members, GCompareFunc(strcmp));
      g_string_append_c(out, '{');
      for (GList *m = members; m; m = m->next) {
        const char *key = static_cast<const char *>(m->data);
        newline(depth + 1);
        write_json_string(out, key);
        g_string_append(out, ": ");
        write_json(out, json_object_get_member(object, key), depth + 1);
        if (m->next) g_string_append_c(out, ',');
      }
      g_list_free(members);
      newline(depth);
      g_string_append_c(out, '}');
      return;
    }
    case JSON_NODE_ARRAY: {
      JsonArray *array = json_node_get_array(node);
      const guint n = json_array_get_length(array);
      if (!n) {
        g_string_append(out, "[]");
        return;
      }
      g_string_append_c(out, '[');
      for (guint i = 0; i < n; i++) {
        newline(depth + 1);
        write_json(out, json_array_get_element(array, i), depth + 1);
        if (i + 1 < n) g_string_append_c(out, ',');
      }
      newline(depth);
      g_string_append_c(out, ']');
      return;
    }
    case JSON_NODE_NULL:
      g_string_append(out, "null");
      return;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type(node)) {
        case G_TYPE_STRING:
          write_json_string(out, json_node_get_string(node));
          return;
        case G_TYPE_BOOLEAN:
          g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
          return;
        case G_TYPE_INT64:
          g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
          return;
        default:
          g_string_append(out, format_double(json_node_get_double(node)).c_str());
          return;
      }
  }
}

// Where two texts first differ, for the --check report.
void report_difference(const std::string &expected, const std::string &actual) {
  size_t line = 1, start = 0, i = 0;
  for (; i < expected.size() && i < actual.size() && expected[i] == actual[i]; i++)
    if (expected[i] == '\n') {
      line++;
      start = i + 1;
    }
  auto line_at = [start](const std::string &text) {
    if (start >= text.size()) return std::string("<end of file>");
    return text.substr(start, text.find('\n', start) - start);
  };
  g_printerr("first difference at line %zu:\n  committed: %s\n  plugin:    %s\n", line,
             line_at(expected).c_str(), line_at(actual).c_str());
}

int usage(const char *program) {
  g_printerr(
      "usage: %s [--check] CACHE.json PLUGIN-FILE...\n"
      "Writes GStreamer's plugin documentation cache for the plugin files to "
      "CACHE.json;\nwith --check, only fails if CACHE.json differs from it.\n",
      program);
  return 2;
}

}  // namespace

int main(int argc, char *argv[]) {
  std::setlocale(LC_ALL, "");
  std::setlocale(LC_NUMERIC, "C");

  bool check = false;
  std::vector<const char *> args;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--check"))
      check = true;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      return usage(argv[0]) - 2;
    else
      args.push_back(argv[i]);
  }
  if (args.size() < 2) return usage(argv[0]);
  const char *cache_path = args[0];

  gst_init(nullptr, nullptr);

  JsonObject *root = json_object_new();
  for (size_t i = 1; i < args.size(); i++) {
    GError *error = nullptr;
    GstPlugin *plugin = gst_plugin_load_file(args[i], &error);
    if (!plugin) {
      g_printerr("%s could not be loaded as a GStreamer plugin: %s\n", args[i],
                 error ? error->message : "no reason given");
      g_clear_error(&error);
      return 1;
    }
    JsonObject *description = describe_plugin(plugin, args[i]);
    if (!description) return 1;
    json_object_set_object_member(root, gst_plugin_get_name(plugin), description);
    gst_object_unref(plugin);
  }

  JsonNode *node = json_node_init_object(json_node_alloc(), root);
  GString *text = g_string_new(nullptr);
  write_json(text, node, 0);
  g_string_append_c(text, '\n');
  json_node_unref(node);
  json_object_unref(root);
  const std::string generated(text->str, text->len);
  g_string_free(text, TRUE);

  g_autofree gchar *contents = nullptr;
  gsize length = 0;
  const bool have_cache = g_file_get_contents(cache_path, &contents, &length, nullptr);
  const bool same = have_cache && generated == std::string(contents, length);

  if (check) {
    if (same) return 0;
    if (!have_cache) {
      g_printerr("%s is missing.\n", cache_path);
    } else {
      g_printerr("%s does not match the built plugin.\n", cache_path);
      report_difference(std::string(contents, length), generated);
    }
    g_printerr("To regenerate it, %s\n", kRegenerate);
    return 1;
  }

  if (same) {
    g_print("%s is up to date\n", cache_path);
    return 0;
  }
  GError *error = nullptr;
  if (!g_file_set_contents(cache_path, generated.data(), gssize(generated.size()), &error)) {
    g_printerr("Could not write %s: %s\n", cache_path, error->message);
    g_clear_error(&error);
    return 1;
  }
  g_print("Wrote %s\n", cache_path);
  return 0;
}
