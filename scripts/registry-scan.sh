#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# With the plugin and Debian's GStreamer plugin packages installed, a
# registry scan blacklists nothing because of us (the same files as without
# our plugin: Debian's omx-generic needs hardware, and rtpmanagerbad clashes
# with the rtp package over GstRtpSrc), and libsoup 2 and 3 never meet in
# one process (souphttpsrc and grokimaginesrc in one pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-alsa gstreamer1.0-gl gstreamer1.0-x
  gstreamer1.0-gtk3 gstreamer1.0-pulseaudio gstreamer1.0-qt5 gstreamer1.0-qt6
  gstreamer1.0-plugins-rtp gstreamer1.0-rtsp gstreamer1.0-vaapi gstreamer1.0-nice
  gstreamer1.0-pipewire gstreamer1.0-opencv gstreamer1.0-wpe gstreamer1.0-espeak
  gstreamer1.0-libcamera gstreamer1.0-python3-plugin-loader gstreamer1.0-pocketsphinx
  gstreamer1.0-omx-generic gstreamer1.0-clutter-3.0 gstreamer1.0-packagekit
)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${packages[@]}" \
  >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export GST_REGISTRY_1_0="$scratch/registry.bin"
export GST_PLUGIN_PATH_1_0="$PWD/build/gst/grokimagine"

blacklisted() { gst-inspect-1.0 -b 2>/dev/null | grep -E '^ +lib' | sort; }
without=$(GST_PLUGIN_PATH_1_0= GST_REGISTRY_1_0="$scratch/without.bin" blacklisted)
with=$(blacklisted)
echo "blacklisted without the plugin: ${without:-none}"
echo "blacklisted with the plugin:    ${with:-none}"
if [ "$with" != "$without" ] || grep -q grokimagine <<<"$with"; then
  echo "the plugin changes what the registry blacklists" >&2
  exit 1
fi
gst-inspect-1.0 grokimagine | grep -q "grokimaginesrc"

# Both HTTP stacks in one process: an abort here is libsoup 2 meeting 3.
set +e
gst-launch-1.0 souphttpsrc location=http://127.0.0.1:9/none ! fakesink \
  grokimaginesrc provider=segmind api-url=http://127.0.0.1:9 api-key=k prompt=x ! fakesink \
  >"$scratch/launch.log" 2>&1
code=$?
set -e
if [ "$code" -ge 128 ] || grep -qi "libsoup.*detected" "$scratch/launch.log"; then
  cat "$scratch/launch.log"
  echo "souphttpsrc and grokimaginesrc cannot share a process (exit $code)" >&2
  exit 1
fi
echo "registry scan: the plugin adds nothing to the blacklist; souphttpsrc and grokimaginesrc share a process"
