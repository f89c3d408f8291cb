#pragma once

#include <gst/gst.h>

#include "core/error.h"

// Posts `error` through the element's GST_ELEMENT_ERROR path, with a
// `details` structure applications can match on: reason (a stable word per
// ErrorKind), request-id (once a job exists) and http-status-code.
void grok_imagine_post_error(GstElement *element, const grokimagine::Error &error);

const char *grok_imagine_error_reason(grokimagine::ErrorKind kind);
