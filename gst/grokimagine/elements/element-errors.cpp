// SPDX-License-Identifier: LGPL-2.1-or-later
#include "element-errors.h"

using grokimagine::ErrorKind;

const char *grok_imagine_error_reason(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidSettings:
      return "invalid-settings";
    case ErrorKind::BadRequest:
      return "bad-request";
    case ErrorKind::NotAuthorized:
      return "not-authorized";
    case ErrorKind::InsufficientCredits:
      return "insufficient-credits";
    case ErrorKind::NotFound:
      return "not-found";
    case ErrorKind::JobFailed:
      return "job-failed";
    case ErrorKind::Moderated:
      return "moderated";
    case ErrorKind::Expired:
      return "expired";
    case ErrorKind::Timeout:
      return "timeout";
    case ErrorKind::Network:
      return "network";
    case ErrorKind::Protocol:
      return "protocol";
    case ErrorKind::Io:
      return "io";
    case ErrorKind::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

static GstResourceError resource_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidSettings:
    case ErrorKind::BadRequest:
      return GST_RESOURCE_ERROR_SETTINGS;
    case ErrorKind::NotAuthorized:
    case ErrorKind::InsufficientCredits:
      return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
    case ErrorKind::NotFound:
    case ErrorKind::Expired:
      return GST_RESOURCE_ERROR_NOT_FOUND;
    case ErrorKind::Io:
      return GST_RESOURCE_ERROR_OPEN_WRITE;
    case ErrorKind::Network:
    case ErrorKind::Protocol:
      return GST_RESOURCE_ERROR_READ;
    case ErrorKind::JobFailed:
    case ErrorKind::Moderated:
    case ErrorKind::Timeout:
    case ErrorKind::Cancelled:
      return GST_RESOURCE_ERROR_FAILED;
  }
  return GST_RESOURCE_ERROR_FAILED;
}

void grok_imagine_post_message_at(GstElement *element, GstMessageType type, GQuark domain,
                                  gint code, const std::string &text, const std::string &debug,
                                  GstStructure *details, const char *file, const char *function,
                                  int line) {
  g_return_if_fail(gst_structure_get_string(details, "reason") != nullptr);
  gst_element_message_full_with_details(element, type, domain, code, g_strdup(text.c_str()),
                                        g_strdup(debug.c_str()), file, function, line, details);
}

void grok_imagine_post_error_at(GstElement *element, const grokimagine::Error &error,
                                const char *file, const char *function, int line) {
  const char *reason = grok_imagine_error_reason(error.kind);
  GstStructure *details =
      gst_structure_new("details", "reason", G_TYPE_STRING, reason, "request-id", G_TYPE_STRING,
                        error.request_id.empty() ? nullptr : error.request_id.c_str(),
                        "http-status-code", G_TYPE_UINT, error.http_status, nullptr);
  grok_imagine_post_message_at(element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
                               resource_code(error.kind), error.message,
                               std::string("reason=") + reason, details, file, function, line);
}
