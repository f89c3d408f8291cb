#include "job-uri.h"

#include <string>

namespace {

constexpr const char *kScheme = "grokimagine";

// The element's own properties: the job's (not GstBaseSrc's or GstObject's).
bool is_job_property(GObject *element, GParamSpec *pspec) {
  return pspec->owner_type == G_OBJECT_TYPE(element) && (pspec->flags & G_PARAM_READABLE) &&
         (pspec->flags & G_PARAM_WRITABLE);
}

std::string serialize(const GValue *value) {
  if (G_VALUE_HOLDS_STRING(value))
    return g_value_get_string(value) ? g_value_get_string(value) : "";
  if (G_VALUE_HOLDS_ENUM(value)) {
    GEnumValue *named = g_enum_get_value(G_ENUM_CLASS(g_type_class_peek(G_VALUE_TYPE(value))),
                                         g_value_get_enum(value));
    return named ? named->value_nick : "";
  }
  g_autofree gchar *text = gst_value_serialize(value);
  return text ? text : "";
}

}  // namespace

gchar *grok_imagine_job_uri(GObject *element, const char *kind) {
  std::string uri = std::string(kScheme) + "://" + kind;
  char separator = '?';
  guint count = 0;
  g_autofree GParamSpec **pspecs =
      g_object_class_list_properties(G_OBJECT_GET_CLASS(element), &count);
  for (guint i = 0; i < count; i++) {
    GParamSpec *pspec = pspecs[i];
    if (!is_job_property(element, pspec)) continue;
    GValue value = G_VALUE_INIT;
    g_value_init(&value, pspec->value_type);
    g_object_get_property(element, pspec->name, &value);
    if (!g_param_value_defaults(pspec, &value)) {
      g_autofree gchar *escaped = g_uri_escape_string(serialize(&value).c_str(), nullptr, FALSE);
      uri += separator + std::string(pspec->name) + "=" + escaped;
      separator = '&';
    }
    g_value_unset(&value);
  }
  return g_strdup(uri.c_str());
}

gboolean grok_imagine_apply_job_uri(GObject *element, const char *kind, const gchar *uri,
                                    GError **error) {
  auto fail = [error, uri](const std::string &why) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI, "%s: %s", uri, why.c_str());
    return FALSE;
  };
  g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, nullptr);
  if (!parsed || g_strcmp0(g_uri_get_scheme(parsed), kScheme) != 0)
    return fail(std::string("not a ") + kScheme + ":// URI");
  if (g_strcmp0(g_uri_get_host(parsed), kind) != 0)
    return fail(std::string("this element makes ") + kind + " (" + kScheme + "://" + kind +
                "?...)");
  g_autoptr(GHashTable) params = nullptr;
  if (const gchar *query = g_uri_get_query(parsed)) {
    params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, nullptr);
    if (!params) return fail("the query is not a list of name=value");
  }

  // Check every parameter before changing anything.
  GObjectClass *klass = G_OBJECT_GET_CLASS(element);
  if (params) {
    GHashTableIter iter;
    gpointer name, text;
    g_hash_table_iter_init(&iter, params);
    while (g_hash_table_iter_next(&iter, &name, &text)) {
      if (g_str_equal(name, "api-key"))
        return fail("api-key does not belong in a URI: set the provider's environment variable");
      GParamSpec *pspec = g_object_class_find_property(klass, static_cast<gchar *>(name));
      if (!pspec || !is_job_property(element, pspec))
        return fail(std::string("unknown parameter '") + static_cast<gchar *>(name) + "'");
    }
  }
  guint count = 0;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties(klass, &count);
  for (guint i = 0; i < count; i++) {
    if (!is_job_property(element, pspecs[i])) continue;
    g_object_set_property(element, pspecs[i]->name, g_param_spec_get_default_value(pspecs[i]));
  }
  if (!params) return TRUE;
  // Any other job property set after request-id would forget it.
  auto apply = [&](const gchar *name, const gchar *text) {
    GParamSpec *pspec = g_object_class_find_property(klass, name);
    GValue value = G_VALUE_INIT;
    g_value_init(&value, pspec->value_type);
    gboolean ok = G_VALUE_HOLDS_STRING(&value)
                      ? (g_value_set_string(&value, text), TRUE)
                      : gst_value_deserialize_with_pspec(&value, text, pspec);
    if (ok) ok = !g_param_value_validate(pspec, &value);
    if (ok) g_object_set_property(element, pspec->name, &value);
    g_value_unset(&value);
    return ok ? TRUE : fail(std::string("parameter '") + name + "' cannot be '" + text + "'");
  };
  GHashTableIter iter;
  gpointer name, text;
  g_hash_table_iter_init(&iter, params);
  while (g_hash_table_iter_next(&iter, &name, &text))
    if (!g_str_equal(name, "request-id") &&
        !apply(static_cast<gchar *>(name), static_cast<gchar *>(text)))
      return FALSE;
  if (const gchar *request_id = static_cast<gchar *>(g_hash_table_lookup(params, "request-id")))
    return apply("request-id", request_id);
  return TRUE;
}
