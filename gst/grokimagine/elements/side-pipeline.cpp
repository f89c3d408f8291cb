// SPDX-License-Identifier: LGPL-2.1-or-later
#include "side-pipeline.h"

namespace {

// The wait's bus, woken by a cancel.
void post_cancelled(GCancellable *, gpointer bus) {
  gst_bus_post(GST_BUS(bus), gst_message_new_application(
                                 nullptr, gst_structure_new_empty("grokimagine-cancelled")));
}

}  // namespace

std::optional<std::string> grok_imagine_wait_for_eos(GstElement *pipeline, GstClockTime limit,
                                                     GCancellable *cancellable) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  // Connected first: a cancel before the wait still ends it.
  const gulong cancel_id = cancellable
                               ? g_cancellable_connect(cancellable, G_CALLBACK(post_cancelled),
                                                       gst_object_ref(bus), gst_object_unref)
                               : 0;
  std::optional<std::string> error;
  g_autoptr(GstMessage) ended = gst_bus_timed_pop_filtered(
      bus, limit, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_APPLICATION));
  if (!ended) {
    error = "it took longer than " + std::to_string(limit / GST_SECOND) + " s";
  } else if (GST_MESSAGE_TYPE(ended) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) failure = nullptr;
    gst_message_parse_error(ended, &failure, nullptr);
    error = failure->message;
  } else if (GST_MESSAGE_TYPE(ended) == GST_MESSAGE_APPLICATION) {
    error = "stopped";
  }
  g_cancellable_disconnect(cancellable, cancel_id);
  return error;
}
