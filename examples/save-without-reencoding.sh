#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generates a clip and saves it as MP4 without re-encoding: with decode=false
# grokimaginevideosrc hands over the provider's H.264 and AAC as they are, and
# mp4mux writes them into a new file (a remux, not a transcode).
#
#   SEGMIND_API_KEY=... examples/save-without-reencoding.sh "A dog on a beach" dog.mp4
#
# The output is the second argument, or OUTPUT (default clip.mp4). See
# common.sh for GROKIMAGINE_* (provider, API URL, duration, ...).
#
# (To keep the provider's file byte for byte instead, use
#  grokimaginesrc ... ! filesink location=clip.mp4.)
set -euo pipefail
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh"
output="${2:-${OUTPUT:-clip.mp4}}"

# -e: on Ctrl-C, finish the file (mp4mux writes its index at EOS).
$gst_launch -e grokimaginevideosrc decode=false "${grokimagine[@]}" name=g \
  g.video_0 ! queue ! h264parse ! mp4mux name=m ! filesink location="$output" \
  g.audio_0 ! queue ! aacparse ! m.
echo "Wrote $output"
