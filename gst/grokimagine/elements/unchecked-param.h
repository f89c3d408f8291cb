// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <glib-object.h>

// Param specs that show their property's true range (gst-inspect, the
// plugins cache, the reference) but let every value of their type reach
// set_property. GLib refuses an out-of-range value with a warning and keeps
// the old one, so `duration=40` would become a paid job of the default
// length; the element instead receives the value and refuses it at start,
// before anything is sent, with an error naming the property and what is
// allowed. The double one lets NaN and the infinities through too.
GParamSpec *grok_imagine_param_spec_int(const char *name, const char *nick, const char *blurb,
                                        gint minimum, gint maximum, gint default_value,
                                        GParamFlags flags);
GParamSpec *grok_imagine_param_spec_uint(const char *name, const char *nick, const char *blurb,
                                         guint minimum, guint maximum, guint default_value,
                                         GParamFlags flags);
GParamSpec *grok_imagine_param_spec_double(const char *name, const char *nick, const char *blurb,
                                           gdouble minimum, gdouble maximum, gdouble default_value,
                                           GParamFlags flags);
