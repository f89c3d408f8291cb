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

void grok_imagine_post_error(GstElement *element, const grokimagine::Error &error) {
  GstStructure *details = gst_structure_new(
      "details", "reason", G_TYPE_STRING, grok_imagine_error_reason(error.kind), "request-id",
      G_TYPE_STRING, error.request_id.empty() ? nullptr : error.request_id.c_str(),
      "http-status-code", G_TYPE_UINT, error.http_status, nullptr);
  gst_element_message_full_with_details(
      element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR, resource_code(error.kind),
      g_strdup(error.message.c_str()),
      g_strdup_printf("reason=%s", grok_imagine_error_reason(error.kind)), __FILE__, GST_FUNCTION,
      __LINE__, details);
}
