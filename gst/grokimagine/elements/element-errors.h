// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/gst.h>

#include <string>

#include "core/error.h"

// Every error and warning an element of this plugin posts goes through
// one of these: each keeps its call site (for the debug log and the
// message's debug text) and carries a `details` structure with at least
// `reason`, a stable word an application can match on (the ErrorKind's,
// below, or one of the call site's own), and `request-id` and
// `http-status-code` where they are known.

// `error` from the core: its message, a GST_RESOURCE_ERROR code for its
// kind, reason, request-id and http-status-code.
#define GROK_IMAGINE_POST_ERROR(element, error) \
  grok_imagine_post_error_at((element), (error), __FILE__, GST_FUNCTION, __LINE__)

// GST_ELEMENT_ERROR / GST_ELEMENT_WARNING with a reason.
#define GROK_IMAGINE_ELEMENT_ERROR(element, domain, code, reason, text, debug) \
  GST_ELEMENT_ERROR_WITH_DETAILS(element, domain, code, text, debug,           \
                                 ("reason", G_TYPE_STRING, (reason), NULL))
#define GROK_IMAGINE_ELEMENT_WARNING(element, domain, code, reason, text, debug) \
  GST_ELEMENT_WARNING_WITH_DETAILS(element, domain, code, text, debug,           \
                                   ("reason", G_TYPE_STRING, (reason), NULL))

// A message of `type` (error or warning) with `details` made by the caller
// (taken; it must hold `reason`), for what repeats another element's error.
#define GROK_IMAGINE_POST_MESSAGE(element, type, domain, code, text, debug, details)            \
  grok_imagine_post_message_at((element), (type), (domain), (code), (text), (debug), (details), \
                               __FILE__, GST_FUNCTION, __LINE__)

void grok_imagine_post_error_at(GstElement *element, const grokimagine::Error &error,
                                const char *file, const char *function, int line);
void grok_imagine_post_message_at(GstElement *element, GstMessageType type, GQuark domain,
                                  gint code, const std::string &text, const std::string &debug,
                                  GstStructure *details, const char *file, const char *function,
                                  int line);

const char *grok_imagine_error_reason(grokimagine::ErrorKind kind);
