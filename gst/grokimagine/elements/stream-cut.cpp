// SPDX-License-Identifier: LGPL-2.1-or-later
#include "stream-cut.h"

void grok_imagine_cut_segment(GstPadProbeInfo *info, GstClockTime at, bool time_from_zero) {
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) != GST_EVENT_SEGMENT) return;
  const GstSegment *segment = nullptr;
  gst_event_parse_segment(event, &segment);
  if (segment->format != GST_FORMAT_TIME || segment->start >= at) return;
  GstSegment moved;
  gst_segment_copy_into(segment, &moved);
  moved.start = moved.position = at;
  if (time_from_zero) moved.time = 0;
  GstEvent *replaced = gst_event_new_segment(&moved);
  gst_event_set_seqnum(replaced, gst_event_get_seqnum(event));
  gst_event_unref(event);
  GST_PAD_PROBE_INFO_DATA(info) = replaced;
}

bool grok_imagine_before_cut(GstBuffer *buffer, GstClockTime at, CutRule rule) {
  if (!buffer || !GST_BUFFER_PTS_IS_VALID(buffer)) return false;
  const GstClockTime pts = GST_BUFFER_PTS(buffer);
  if (rule == CutRule::kStartsBefore) return pts + GST_MSECOND < at;
  const GstClockTime end =
      GST_BUFFER_DURATION_IS_VALID(buffer) ? pts + GST_BUFFER_DURATION(buffer) : pts;
  return end <= at;
}

GstPadProbeReturn grok_imagine_cut_probe(GstPad *, GstPadProbeInfo *info, gpointer data) {
  const auto *cut = static_cast<const StreamCut *>(data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    grok_imagine_cut_segment(info, cut->at);
    return GST_PAD_PROBE_OK;
  }
  return grok_imagine_before_cut(GST_PAD_PROBE_INFO_BUFFER(info), cut->at, cut->rule)
             ? GST_PAD_PROBE_DROP
             : GST_PAD_PROBE_OK;
}
