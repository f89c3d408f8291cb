// SPDX-License-Identifier: LGPL-2.1-or-later
#include "unchecked-param.h"

namespace {

// A subtype of GLib's param spec for T whose validation accepts anything.
template <typename Spec>
GType unchecked_type(GType parent, const char *name) {
  GTypeInfo info = {};
  info.class_size = sizeof(GParamSpecClass);
  info.class_init = [](gpointer klass, gpointer) {
    auto *param_class = static_cast<GParamSpecClass *>(klass);
    param_class->value_validate = [](GParamSpec *, GValue *) -> gboolean { return FALSE; };
    param_class->value_is_valid = [](GParamSpec *, const GValue *) -> gboolean { return TRUE; };
  };
  info.instance_size = sizeof(Spec);
  return g_type_register_static(parent, name, &info, GTypeFlags(0));
}

template <typename Spec, typename T>
GParamSpec *make(GType type, const char *name, const char *nick, const char *blurb, T minimum,
                 T maximum, T default_value, GParamFlags flags) {
  auto *pspec = reinterpret_cast<Spec *>(g_param_spec_internal(type, name, nick, blurb, flags));
  pspec->minimum = minimum;
  pspec->maximum = maximum;
  pspec->default_value = default_value;
  return G_PARAM_SPEC(pspec);
}

}  // namespace

GParamSpec *grok_imagine_param_spec_int(const char *name, const char *nick, const char *blurb,
                                        gint minimum, gint maximum, gint default_value,
                                        GParamFlags flags) {
  static const GType type =
      unchecked_type<GParamSpecInt>(G_TYPE_PARAM_INT, "GrokImagineParamSpecInt");
  return make<GParamSpecInt>(type, name, nick, blurb, minimum, maximum, default_value, flags);
}

GParamSpec *grok_imagine_param_spec_uint(const char *name, const char *nick, const char *blurb,
                                         guint minimum, guint maximum, guint default_value,
                                         GParamFlags flags) {
  static const GType type =
      unchecked_type<GParamSpecUInt>(G_TYPE_PARAM_UINT, "GrokImagineParamSpecUInt");
  return make<GParamSpecUInt>(type, name, nick, blurb, minimum, maximum, default_value, flags);
}

GParamSpec *grok_imagine_param_spec_double(const char *name, const char *nick, const char *blurb,
                                           gdouble minimum, gdouble maximum, gdouble default_value,
                                           GParamFlags flags) {
  static const GType type =
      unchecked_type<GParamSpecDouble>(G_TYPE_PARAM_DOUBLE, "GrokImagineParamSpecDouble");
  return make<GParamSpecDouble>(type, name, nick, blurb, minimum, maximum, default_value, flags);
}
