// The bus side of a job, shared by every element that runs one: progress
// messages, grokimagine-job element messages, the request id kept and
// notified as soon as it exists, and errors through GST_ELEMENT_ERROR.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <optional>
#include <string>

#include "core/generation.h"

void grok_imagine_post_progress(GstElement *element, GstProgressType type, const std::string &text);

// Runs `run` (which runs `generation`'s job with the events it is given)
// and tells the bus about it; `remember_request_id` stores the id in the
// element's settings. GST_FLOW_OK, GST_FLOW_FLUSHING when cancelled, or
// GST_FLOW_ERROR once the error is posted.
GstFlowReturn grok_imagine_run_job(
    GstElement *element, const grokimagine::Generation &generation,
    const std::function<void(const std::string &)> &remember_request_id,
    const std::function<std::optional<grokimagine::Error>(const grokimagine::JobEvents &)> &run);
