#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Overlays a generated clip on a live source: the clip, scaled to a third of
# the frame, plays in the bottom-right corner of a live 1280x720 picture
# mixed by compositor.
#
#   SEGMIND_API_KEY=... examples/overlay.sh "A dog on a beach"
#
# It runs in two steps because a generation takes minutes while a live source
# runs from the start: a clip that joins a live pipeline that late has
# running times from 0, long past, and compositor discards every frame of it
# as too old. So the clip is generated first (kept as the provider's MP4),
# then mixed from the start of the live pipeline. (An application can instead
# put grokimaginevideosrc in the live pipeline and set its pad's offset to
# the running time at which the pad appears.)
#
#   LIVE_SOURCE   the live picture (default: videotestsrc is-live=true,
#                 bounded by num-buffers), e.g. "v4l2src" for a camera
#   LIVE_SECONDS  how long the default live source runs (default: the clip's
#                 duration + 2 s); the pipeline ends at EOS after that
#   VIDEO_SINK    where the mix goes (default autovideosink), e.g.
#                 "x264enc ! mp4mux ! filesink location=mix.mp4"
#   OVERLAY_CLIP  keep the generated MP4 here (default: a temporary file)
# See common.sh for GROKIMAGINE_* (provider, API URL, duration, ...).
set -euo pipefail
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh"
live_seconds="${LIVE_SECONDS:-$((duration + 2))}"
# Pipeline fragments, split into words for gst-launch.
read -r -a live_source <<<"${LIVE_SOURCE:-videotestsrc is-live=true pattern=smpte num-buffers=$((live_seconds * 30))}"
read -r -a video_sink <<<"${VIDEO_SINK:-autovideosink}"
clip="${OVERLAY_CLIP:-}"
if [ -z "$clip" ]; then
  clip=$(mktemp --suffix=.mp4)
  trap 'rm -f "$clip"' EXIT
fi

# 1. Generate the clip.
$gst_launch grokimaginesrc "${grokimagine[@]}" ! filesink location="$clip"

# 2. Mix it over the live source; sink_1 (the clip) is drawn above sink_0.
$gst_launch -e \
  "${live_source[@]}" ! videoconvert ! videoscale ! videorate \
      ! video/x-raw,width=1280,height=720,framerate=30/1 ! queue ! mix.sink_0 \
  compositor name=mix sink_1::xpos=830 sink_1::ypos=456 \
      ! videoconvert ! "${video_sink[@]}" \
  filesrc location="$clip" ! qtdemux name=demux \
  demux.video_0 ! queue ! decodebin ! videoconvert ! videoscale \
      ! video/x-raw,width=426,height=240,pixel-aspect-ratio=1/1 ! queue ! mix.sink_1
