#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A live generative channel pushed to an RTMP server (YouTube, Twitch, an
# nginx-rtmp or MediaMTX relay): prompts become clips of one endless stream
# (is-live=true), encoded once to H.264 and AAC and muxed as streamable FLV;
# when the next clip is not ready in time the last frame holds
# (filler=hold). Ctrl-C ends it cleanly (-e).
#
#   SEGMIND_API_KEY=... examples/channel-live-rtmp.sh rtmp://host/app/KEY "A city at dawn" "Rain on the street"
#   SEGMIND_API_KEY=... examples/channel-live-rtmp.sh recording.flv "A city at dawn"
#
# The first argument is the RTMP URL, or a file that gets the same FLV
# stream (to record it, or to try the chain without a server).
# See common.sh for GROKIMAGINE_*.
set -euo pipefail
target="${1:?usage: channel-live-rtmp.sh RTMP-URL|FILE.flv PROMPT...}"
shift
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh" ""
channel_properties "$@"
case "$target" in
  rtmp://* | rtmps://*) sink=(rtmp2sink "location=$target") ;;
  *) sink=(filesink "location=$target") ;;
esac

$gst_launch -e grokimaginechannel "${channel[@]}" is-live=true filler=hold name=c \
  flvmux name=mux streamable=true ! "${sink[@]}" \
  c.video ! queue ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=48 ! \
      h264parse ! mux. \
  c.audio ! queue ! audioconvert ! avenc_aac ! aacparse ! mux.
