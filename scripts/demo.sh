#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is missing, builds, starts the bundled Segmind emulator on
# loopback and generates a clip through grokimaginevideosrc: the decoded
# video and audio are re-encoded into demo.mp4.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build -Dtests=enabled -Dexamples=enabled
meson compile -C build

output="${1:-demo.mp4}"
key="demo-key"
emulator_log=$(mktemp)
build/tests/emulator/grokimagine-emulator --api-key "$key" --generation-ms 3000 >"$emulator_log" &
emulator=$!
trap 'kill $emulator 2>/dev/null; rm -f "$emulator_log"' EXIT
for _ in $(seq 100); do grep -q '^api-url=' "$emulator_log" && break; sleep 0.1; done
api_url=$(sed -n 's/^api-url=//p' "$emulator_log")

export GST_PLUGIN_PATH="$PWD/build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export SEGMIND_API_KEY="$key"
gst-launch-1.0 -e \
  grokimaginevideosrc provider=segmind api-url="$api_url" poll-interval=500 \
      prompt="A dog running on a sunlit beach" duration=6 resolution=480p name=g \
  g. ! queue ! videoconvert ! x264enc speed-preset=veryfast ! h264parse ! mp4mux name=mux \
  ! filesink location="$output" \
  g. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! mux.
echo "Wrote $output"
