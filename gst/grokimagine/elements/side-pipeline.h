// SPDX-License-Identifier: LGPL-2.1-or-later
// The channel's side pipelines (a still's decode, an extension input's
// remux) run to their end on the thread that asks, outside the channel's
// bin: one bounded wait on their bus, which a stop ends at once.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <optional>
#include <string>

// Waits for the EOS of `pipeline`, which the caller started: nothing then,
// else why not (its error's text, "stopped" once `cancellable` (may be
// null) fires, or "it took longer than N s" after `limit`). Leaves it in
// its state: the caller may take what reached a sink before setting it to
// NULL.
std::optional<std::string> grok_imagine_wait_for_eos(GstElement *pipeline, GstClockTime limit,
                                                     GCancellable *cancellable);
