// SPDX-License-Identifier: LGPL-2.1-or-later
#include "job-uri.h"

#include <string>
#include <utility>
#include <vector>

namespace {

constexpr const char *kScheme = "grokimagine";

// A URI is untrusted (a web page, a playlist, a chat message): it may say
// what to generate, never where the key goes (api-url, allow-insecure-http),
// what is written or read on this machine (location, local images) or which
// safety limits apply (max-size, timeouts, retries, polling).
// An input video likewise: a remote URL or request:ID, never a local file
// (which would also choose an upload to the provider).
constexpr const char *kUriParameters[] = {
    "prompt",   "duration", "resolution",       "aspect-ratio", "model",
    "provider", "image",    "reference-images", "request-id",   "operation",
    "output",   "video",    "generate-audio"};

bool allowed_in_uri(const char *name) {
  for (const char *allowed : kUriParameters)
    if (g_str_equal(name, allowed)) return true;
  return false;
}

// The element's own properties: the job's (not GstBaseSrc's or GstObject's).
bool is_job_property(GObject *element, GParamSpec *pspec) {
  return pspec->owner_type == G_OBJECT_TYPE(element) && (pspec->flags & G_PARAM_READABLE) &&
         (pspec->flags & G_PARAM_WRITABLE);
}

// Images in a URI must be remote: a local path or file:// URI would let the
// URI's author upload a file of this machine to the provider.
bool is_remote_image(const char *image) {
  return !image || !*image || g_ascii_strncasecmp(image, "http://", 7) == 0 ||
         g_ascii_strncasecmp(image, "https://", 8) == 0 ||
         g_ascii_strncasecmp(image, "data:", 5) == 0;
}

// `video`: an http(s) URL or request:ID (an earlier job of the same key).
bool is_remote_video(const char *video) {
  return !video || !*video || g_ascii_strncasecmp(video, "http://", 7) == 0 ||
         g_ascii_strncasecmp(video, "https://", 8) == 0 ||
         g_ascii_strncasecmp(video, "request:", 8) == 0;
}

// `image` (a string) or `reference-images` (an array of strings).
bool only_remote_images(GParamSpec *pspec, const GValue *value) {
  if (g_str_equal(pspec->name, "image")) return is_remote_image(g_value_get_string(value));
  if (g_str_equal(pspec->name, "video")) return is_remote_video(g_value_get_string(value));
  if (!g_str_equal(pspec->name, "reference-images") || !GST_VALUE_HOLDS_ARRAY(value)) return true;
  for (guint i = 0; i < gst_value_array_get_size(value); i++) {
    const GValue *item = gst_value_array_get_value(value, i);
    if (G_VALUE_HOLDS_STRING(item) && !is_remote_image(g_value_get_string(item))) return false;
  }
  return true;
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
    if (!is_job_property(element, pspec) || !allowed_in_uri(pspec->name)) continue;
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
      if (!allowed_in_uri(static_cast<gchar *>(name)))
        return fail(std::string("parameter '") + static_cast<gchar *>(name) +
                    "' is not allowed in a URI, which may only describe the job (prompt, "
                    "duration, resolution, aspect-ratio, model, provider, remote image URLs, "
                    "request-id, operation, output, a remote video URL or request:ID, "
                    "generate-audio); set it as a property of the element");
    }
  }
  // Parse every value before changing anything.
  std::vector<std::pair<GParamSpec *, GValue>> values;
  auto clear_values = [&values] {
    for (auto &entry : values) g_value_unset(&entry.second);
    values.clear();
  };
  if (params) {
    GHashTableIter iter;
    gpointer name, text;
    g_hash_table_iter_init(&iter, params);
    while (g_hash_table_iter_next(&iter, &name, &text)) {
      GParamSpec *pspec = g_object_class_find_property(klass, static_cast<gchar *>(name));
      GValue value = G_VALUE_INIT;
      g_value_init(&value, pspec->value_type);
      gboolean ok =
          G_VALUE_HOLDS_STRING(&value)
              ? (g_value_set_string(&value, static_cast<gchar *>(text)), TRUE)
              : gst_value_deserialize_with_pspec(&value, static_cast<gchar *>(text), pspec);
      if (ok) ok = !g_param_value_validate(pspec, &value);
      values.emplace_back(pspec, value);
      if (!ok) {
        clear_values();
        return fail(std::string("parameter '") + static_cast<gchar *>(name) + "' cannot be '" +
                    static_cast<gchar *>(text) + "'");
      }
      if (!only_remote_images(pspec, &values.back().second)) {
        clear_values();
        return fail(std::string("parameter '") + static_cast<gchar *>(name) +
                    (g_str_equal(pspec->name, "video")
                         ? "' in a URI takes only an http(s) URL or request:ID, not local files"
                         : "' in a URI takes only http(s) or data: image URLs, not local files"));
      }
    }
  }
  guint count = 0;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties(klass, &count);
  // A new URI is a new job description; what a URI cannot say (api-url,
  // location, limits) stays as the application set it.
  for (guint i = 0; i < count; i++) {
    if (!is_job_property(element, pspecs[i]) || !allowed_in_uri(pspecs[i]->name)) continue;
    g_object_set_property(element, pspecs[i]->name, g_param_spec_get_default_value(pspecs[i]));
  }
  for (auto &[pspec, value] : values) g_object_set_property(element, pspec->name, &value);
  clear_values();
  return TRUE;
}
