#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A live generative channel published as HLS: prompts become clips of one
# endless stream (is-live=true), encoded once and cut into MPEG-TS segments
# by hlssink2; when the next clip is not ready in time, the last frame holds
# (filler=hold) and the stream goes on. Ctrl-C ends it cleanly (-e).
#
#   SEGMIND_API_KEY=... examples/channel-live-hls.sh hls/ "A city at dawn" "Rain on the street"
#   python3 -m http.server -d hls/ 8000    # then open http://localhost:8000/playlist.m3u8
#
# For RTMP (YouTube, Twitch...): channel-live-rtmp.sh.
#
# See common.sh for GROKIMAGINE_*; the prompts are the arguments after the
# directory.
set -euo pipefail
dir="${1:?usage: channel-live-hls.sh DIR PROMPT...}"
shift
mkdir -p "$dir"
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh" ""
channel_properties "$@"

$gst_launch -e grokimaginechannel "${channel[@]}" is-live=true \
    filler=hold name=c \
  hlssink2 name=hls location="$dir/segment%05d.ts" playlist-location="$dir/playlist.m3u8" \
      target-duration=2 playlist-length=0 max-files=0 \
  c.video ! queue ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=48 ! \
      h264parse ! hls.video \
  c.audio ! queue ! audioconvert ! avenc_aac ! aacparse ! hls.audio
