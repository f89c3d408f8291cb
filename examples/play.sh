#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generates a clip and plays it: decoded video to a window, audio to the
# speakers.
#
#   SEGMIND_API_KEY=... examples/play.sh "A dog running on a sunlit beach"
#
# VIDEO_SINK and AUDIO_SINK replace the sinks (default autovideosink and
# autoaudiosink), e.g. VIDEO_SINK=fakevideosink AUDIO_SINK=fakeaudiosink to
# run without a display. See common.sh for GROKIMAGINE_* (provider, API URL,
# duration, ...).
set -euo pipefail
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh"
# Each sink is a pipeline fragment, split into words for gst-launch.
read -r -a video_sink <<<"${VIDEO_SINK:-autovideosink}"
read -r -a audio_sink <<<"${AUDIO_SINK:-autoaudiosink}"

$gst_launch grokimaginevideosrc "${grokimagine[@]}" name=g \
  g.video_0 ! queue ! videoconvert ! "${video_sink[@]}" \
  g.audio_0 ! queue ! audioconvert ! audioresample ! "${audio_sink[@]}"
