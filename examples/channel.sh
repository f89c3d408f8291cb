#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Renders a playlist of prompts into one MP4 with grokimaginechannel: each
# prompt becomes a clip, the next one is generated while the previous plays,
# and the clips follow each other in one stream with continuous timestamps
# (no seam, video and audio in sync), re-encoded once at the end.
#
#   SEGMIND_API_KEY=... examples/channel.sh story.mp4 "A dog on a beach" "The dog sleeps"
#
# One continuous shot instead of cuts between scenes: each clip extends the
# one before it and only its new seconds play (xai; GROKIMAGINE_DURATION 2
# to 10):
#
#   XAI_API_KEY=... GROKIMAGINE_PROVIDER=xai CONTINUITY=extend \
#     examples/channel.sh shot.mp4 "A dog runs on a beach" "The dog jumps into the sea"
#
# See common.sh for GROKIMAGINE_* (the prompts are the arguments after the
# output file); CONTINUITY is none (default), last-frame or extend.
set -euo pipefail
output="${1:?usage: channel.sh OUTPUT.mp4 PROMPT...}"
shift
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh" ""
channel_properties "$@"

$gst_launch -e grokimaginechannel "${channel[@]}" continuity="${CONTINUITY:-none}" name=c \
  c.video ! queue ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux name=mux \
  ! filesink location="$output" \
  c.audio ! queue ! audioconvert ! avenc_aac ! aacparse ! mux.
echo "Wrote $output"
