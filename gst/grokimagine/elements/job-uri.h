// SPDX-License-Identifier: LGPL-2.1-or-later
// grokimagine://KIND?prop=value&... URIs: a job's properties as query
// parameters, so that playbin, uridecodebin3 and gst-play can generate a
// clip. The API key never goes into a URI: it comes from the environment
// (or the api-key property).
#pragma once

#include <gst/gst.h>

// A URI that recreates the job `element` describes (properties that differ
// from their defaults; never the key).
gchar *grok_imagine_job_uri(GObject *element, const char *kind);

// Resets the job properties a URI may set (the description of the job) to
// their defaults, then applies the URI's parameters. Parameters that would
// steer the key, the disk or the limits are refused; an error names the
// first bad one, and nothing changes then.
gboolean grok_imagine_apply_job_uri(GObject *element, const char *kind, const gchar *uri,
                                    GError **error);
