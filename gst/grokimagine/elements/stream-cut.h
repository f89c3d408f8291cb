// SPDX-License-Identifier: LGPL-2.1-or-later
// A stream made to start later than it does, from pad probes: an
// extension's new part played alone (grokimaginevideosrc output=continuation,
// grokimaginechannel continuity=extend), or an extension's input cut from a
// clip. The segment starts at the cut, so that running time 0 (and
// videorate's first frame) is there, and what comes before it is dropped.
#pragma once

#include <gst/gst.h>

enum class CutRule {
  // Dropped when it starts before the cut (to a millisecond: demuxers'
  // timescales round): video frames, compressed samples.
  kStartsBefore,
  // Dropped when it ends at or before the cut: decoded audio (the buffer
  // that straddles it is kept; sinks or the caller trim its head).
  kEndsBefore,
};

struct StreamCut {
  GstClockTime at;
  CutRule rule;
};

// `info`'s event, when it is a TIME segment starting before `at`, replaced
// by one starting there; with `time_from_zero` its stream time starts at 0
// there too.
void grok_imagine_cut_segment(GstPadProbeInfo *info, GstClockTime at, bool time_from_zero = false);

// Whether `buffer` comes before the cut.
bool grok_imagine_before_cut(GstBuffer *buffer, GstClockTime at, CutRule rule);

// A probe (buffers and downstream events) doing both; `cut` is a StreamCut
// that outlives it.
GstPadProbeReturn grok_imagine_cut_probe(GstPad *pad, GstPadProbeInfo *info, gpointer cut);
