#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generates a clip and publishes it as HLS: hlssink2 cuts the provider's H.264
# and AAC (decode=false, no re-encoding) into MPEG-TS segments and writes the
# playlist, both into one directory that any web server can serve.
#
#   SEGMIND_API_KEY=... examples/hls.sh "A dog on a beach" hls/
#   python3 -m http.server -d hls/ 8000    # then open http://localhost:8000/playlist.m3u8
#
# The directory is the second argument, or HLS_DIR (default hls); it is
# created if missing. HLS_SEGMENT_SECONDS is the target segment length
# (default 2; segments are cut at keyframes). See common.sh for GROKIMAGINE_*.
set -euo pipefail
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh"
dir="${2:-${HLS_DIR:-hls}}"
mkdir -p "$dir"

# playlist-length=0 and max-files=0: keep every segment listed and on disk,
# so the whole clip stays playable after the pipeline ends.
$gst_launch -e grokimaginevideosrc decode=false "${grokimagine[@]}" name=g \
  hlssink2 name=hls location="$dir/segment%05d.ts" playlist-location="$dir/playlist.m3u8" \
      target-duration="${HLS_SEGMENT_SECONDS:-2}" playlist-length=0 max-files=0 \
  g.video_0 ! queue ! h264parse ! hls.video \
  g.audio_0 ! queue ! aacparse ! hls.audio
echo "Wrote $dir/playlist.m3u8"
