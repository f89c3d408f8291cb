#include "job-messages.h"

#include "element-errors.h"

void grok_imagine_post_progress(GstElement *element, GstProgressType type,
                                const std::string &text) {
  gst_element_post_message(
      element, gst_message_new_progress(GST_OBJECT(element), type, "grokimagine", text.c_str()));
}

static void post_job_message(GstElement *element, const grokimagine::Generation &generation,
                             gint64 started_us, const std::string &status, int progress) {
  const double elapsed = double(g_get_monotonic_time() - started_us) / G_USEC_PER_SEC;
  GstStructure *s = gst_structure_new(
      "grokimagine-job", "request-id", G_TYPE_STRING, generation.request_id().c_str(), "provider",
      G_TYPE_STRING, generation.provider().name(), "model", G_TYPE_STRING,
      generation.settings().request.model.c_str(), "status", G_TYPE_STRING, status.c_str(),
      "elapsed", G_TYPE_DOUBLE, elapsed, "progress", G_TYPE_INT, progress, nullptr);
  gst_element_post_message(element, gst_message_new_element(GST_OBJECT(element), s));
}

GstFlowReturn grok_imagine_run_job(
    GstElement *element, const grokimagine::Generation &generation,
    const std::function<void(const std::string &)> &remember_request_id,
    const std::function<std::optional<grokimagine::Error>(const grokimagine::JobEvents &)> &run) {
  const gint64 started_us = g_get_monotonic_time();
  grok_imagine_post_progress(
      element, GST_PROGRESS_TYPE_START,
      generation.request_id().empty()
          ? std::string("Submitting the job to ") + generation.provider().name()
          : "Resuming job " + generation.request_id());
  grokimagine::JobEvents events;
  events.submitted = [&](const std::string &id) {
    remember_request_id(id);
    g_object_notify(G_OBJECT(element), "request-id");
    post_job_message(element, generation, started_us, "SUBMITTED", -1);
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CONTINUE,
                               "Job " + id + " submitted, generating");
  };
  events.status_changed = [&](const grokimagine::JobStatus &status) {
    post_job_message(element, generation, started_us, status.provider_status, status.progress);
    std::string text = "Job " + generation.request_id() + ": " + status.provider_status;
    if (status.progress >= 0) text += " (" + std::to_string(status.progress) + "%)";
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CONTINUE, text);
  };
  if (auto error = run(events)) {
    if (error->kind == grokimagine::ErrorKind::Cancelled) {
      grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CANCELED, "Cancelled");
      return GST_FLOW_FLUSHING;
    }
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_ERROR, error->message);
    grok_imagine_post_error(element, *error);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}
