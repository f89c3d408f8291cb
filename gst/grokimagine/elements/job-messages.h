// SPDX-License-Identifier: LGPL-2.1-or-later
// The bus side of a job, shared by every element that runs one: progress
// messages, grokimagine-job element messages, the request id kept and
// notified as soon as it exists, and errors through GROK_IMAGINE_POST_ERROR.
#pragma once

#include <gst/base/gstbasesrc.h>
#include <gst/gst.h>

#include <functional>
#include <optional>
#include <string>

#include "core/generation.h"
#include "job-properties.h"

void grok_imagine_post_progress(GstElement *element, GstProgressType type, const std::string &text);

// What a job's run tells a parent bin that asked for it (the channel), as
// typed calls on the running thread; any may be empty.
struct GrokImagineJobObserver {
  // This run submitted the job: it is paid for.
  std::function<void(const std::string &request_id)> submitted;
  // An earlier run paid for it: the journal resumed it, or replays its clip.
  std::function<void(const std::string &request_id)> paid_before;
  // The job this run paid for is done: what it cost (the provider's
  // figure when `reported`, else the price table's estimate).
  std::function<void(double usd, bool reported)> cost;
};

// Runs `run` (which runs `generation`'s job with the events it is given)
// and tells the bus about it, and `observer` when given; the request id is
// kept in `job` (the element's settings) and what the job cost added to its
// spent-usd. GST_FLOW_OK, GST_FLOW_FLUSHING when cancelled, or
// GST_FLOW_ERROR once the error is posted.
GstFlowReturn grok_imagine_run_job(
    GstElement *element, grokimagine::Generation &generation, GrokImagineJobSettings &job,
    const std::function<std::optional<grokimagine::Error>(const grokimagine::JobEvents &)> &run,
    const GrokImagineJobObserver &observer = {});

// Says once, at start, which fallback providers are left out and why (no
// key, the job's settings refused): a warning.
void grok_imagine_warn_skipped_fallbacks(GstElement *element,
                                         const std::vector<std::string> &skipped);

// A job is paid for as soon as its submit leaves: a source whose pad is
// unlinked (no sink, or a gst-launch line whose prompt the shell swallowed)
// is stopped before, with an error saying nothing was submitted. False then.
bool grok_imagine_check_linked(GstBaseSrc *source, const grokimagine::Generation &generation);

// After a run was cancelled: when the stream is ending (EOS) and a submit is
// out, waits for its answer (bounded by request-timeout) and posts its id.
void grok_imagine_settle_on_eos(GstElement *element, grokimagine::Generation &generation,
                                GrokImagineJobSettings &job);

// In stop(): reads the answer to a submit in flight if it has come (never
// waits), and otherwise warns that the job may have been accepted.
void grok_imagine_settle_on_stop(GstElement *element, grokimagine::Generation &generation,
                                 GrokImagineJobSettings &job);
