// SPDX-License-Identifier: LGPL-2.1-or-later
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
  std::string source;
  if (auto cost = generation.cost(&source))
    gst_structure_set(s, "cost-usd", G_TYPE_DOUBLE, *cost, "cost-source", G_TYPE_STRING,
                      source.c_str(), nullptr);
  gst_element_post_message(element, gst_message_new_element(GST_OBJECT(element), s));
}

GstFlowReturn grok_imagine_run_job(
    GstElement *element, grokimagine::Generation &generation, GrokImagineJobSettings &job,
    const std::function<std::optional<grokimagine::Error>(const grokimagine::JobEvents &)> &run,
    const GrokImagineJobObserver &observer) {
  const gint64 started_us = g_get_monotonic_time();
  // "Submitting" only once nothing can stop the job without sending it
  // (events.submitting): the journal may resume it, the budget refuse it.
  grok_imagine_post_progress(element, GST_PROGRESS_TYPE_START,
                             generation.request_id().empty()
                                 ? std::string("Starting a job on ") + generation.provider().name()
                                 : "Resuming job " + generation.request_id());
  generation.set_spent_usd(job.spent_usd());
  grokimagine::JobEvents events;
  events.submitting = [&] {
    grok_imagine_post_progress(
        element, GST_PROGRESS_TYPE_CONTINUE,
        std::string("Submitting the job to ") + generation.provider().name());
  };
  events.resumed = [&](const std::string &id) {
    GST_INFO_OBJECT(element, "the journal has this job: following %s", id.c_str());
    post_job_message(element, generation, started_us, "RESUMED", -1);
    if (observer.paid_before) observer.paid_before(id);
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CONTINUE,
                               "Resuming job " + id +
                                   " from the journal (submitted earlier, never delivered): "
                                   "nothing is paid again");
  };
  events.replayed = [&](const std::string &id) {
    GST_INFO_OBJECT(element, "replaying job %s's clip from the cache", id.c_str());
    job.remember_request_id(id);
    post_job_message(element, generation, started_us, "CACHED", 100);
    if (observer.paid_before) observer.paid_before(id);
    grok_imagine_post_progress(
        element, GST_PROGRESS_TYPE_CONTINUE,
        "Replaying job " + id + "'s clip from the cache (reuse=always): nothing sent");
  };
  events.submitted = [&](const std::string &id) {
    GST_INFO_OBJECT(element, "job %s", id.c_str());
    job.remember_request_id(id);
    g_object_notify(G_OBJECT(element), "request-id");
    post_job_message(element, generation, started_us, "SUBMITTED", -1);
    if (generation.submitted_this_run() && observer.submitted) observer.submitted(id);
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CONTINUE,
                               "Job " + id +
                                   (generation.submitted_this_run() ? " submitted" : " resumed") +
                                   ", generating");
  };
  events.failed_over = [&](const grokimagine::JobEvents::Failover &failover) {
    GST_INFO_OBJECT(element, "failover from %s to %s: %s", failover.from.c_str(),
                    failover.to.c_str(), failover.reason.c_str());
    gst_element_post_message(
        element,
        gst_message_new_element(
            GST_OBJECT(element),
            gst_structure_new("grokimagine-failover", "from", G_TYPE_STRING, failover.from.c_str(),
                              "to", G_TYPE_STRING, failover.to.c_str(), "reason", G_TYPE_STRING,
                              failover.reason.c_str(), "request-id", G_TYPE_STRING,
                              failover.request_id.c_str(), nullptr)));
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CONTINUE,
                               failover.from + " could not make the clip (" + failover.reason +
                                   "): trying " + failover.to);
  };
  events.status_changed = [&](const grokimagine::JobStatus &status) {
    post_job_message(element, generation, started_us, status.provider_status, status.progress);
    std::string text = "Job " + generation.request_id() + ": " + status.provider_status;
    if (status.progress >= 0) text += " (" + std::to_string(status.progress) + "%)";
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CONTINUE, text);
  };
  auto error = run(events);
  std::string cost_source;
  // Only a job this run submitted is spent by this element.
  if (generation.submitted_this_run()) {
    if (auto cost = generation.cost(&cost_source)) {
      job.add_spent_usd(*cost);
      if (observer.cost) observer.cost(*cost, cost_source == "provider");
    }
  }
  if (error) {
    if (error->kind == grokimagine::ErrorKind::Cancelled) {
      grok_imagine_post_progress(element, GST_PROGRESS_TYPE_CANCELED, "Cancelled");
      return GST_FLOW_FLUSHING;
    }
    grok_imagine_post_progress(element, GST_PROGRESS_TYPE_ERROR, error->message);
    GROK_IMAGINE_POST_ERROR(element, *error);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

void grok_imagine_warn_skipped_fallbacks(GstElement *element,
                                         const std::vector<std::string> &skipped) {
  for (const std::string &why : skipped)
    GROK_IMAGINE_ELEMENT_WARNING(element, RESOURCE, SETTINGS, "invalid-settings",
                                 ("Fallback provider %s; it is left out.", why.c_str()),
                                 ("fallback-providers"));
}

bool grok_imagine_check_linked(GstBaseSrc *source, const grokimagine::Generation &generation) {
  if (!generation.request_id().empty() || generation.submit_in_flight() ||
      gst_pad_is_linked(GST_BASE_SRC_PAD(source)))
    return true;
  GROK_IMAGINE_ELEMENT_ERROR(
      source, CORE, PAD, "not-linked",
      ("%s's source pad is not linked: nothing was submitted (and nothing paid).",
       GST_OBJECT_NAME(source)),
      ("link the pad before the pipeline starts"));
  return false;
}

// The events of a run that only learns the id of a submit already sent.
static grokimagine::JobEvents settling_events(GstElement *element, GrokImagineJobSettings &job) {
  grokimagine::JobEvents events;
  events.submitted = [element, &job](const std::string &id) {
    job.remember_request_id(id);
    g_object_notify(G_OBJECT(element), "request-id");
    GROK_IMAGINE_ELEMENT_WARNING(
        element, RESOURCE, FAILED, "resume-later",
        ("Stopped after job %s was submitted: resume it with request-id=%s instead "
         "of submitting again.",
         id.c_str(), id.c_str()),
        ("request-id=%s", id.c_str()));
  };
  return events;
}

void grok_imagine_settle_on_eos(GstElement *element, grokimagine::Generation &generation,
                                GrokImagineJobSettings &job) {
  if (!job.eos_requested() || !generation.submit_in_flight()) return;
  GST_INFO_OBJECT(element, "EOS while the submit is in flight: waiting for its answer");
  generation.settle_submit(nullptr, settling_events(element, job));
}

void grok_imagine_settle_on_stop(GstElement *element, grokimagine::Generation &generation,
                                 GrokImagineJobSettings &job) {
  if (!generation.submit_in_flight()) return;
  // Stopping must not wait for the provider; read its answer if it came.
  g_autoptr(GCancellable) now = g_cancellable_new();
  g_cancellable_cancel(now);
  generation.settle_submit(now, settling_events(element, job));
  if (!generation.submit_in_flight()) return;
  GROK_IMAGINE_ELEMENT_WARNING(
      element, RESOURCE, FAILED, "maybe-billed",
      ("Stopped while the submit to %s was in flight: the provider may have accepted (and "
       "billed) the job, but its request id has not arrived, so this element cannot resume it. "
       "Check the provider's dashboard before submitting again.",
       generation.provider().name()),
      ("submit sent, no answer yet"));
}
