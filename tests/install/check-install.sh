#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` into a DESTDIR puts the plugin where GStreamer looks for
# plugins (pkg-config's pluginsdir of gstreamer-1.0 unless the build chose
# another with -Dplugins-install-dir), and it loads from there.
#
#   check-install.sh MESON BUILD_DIR PLUGINS_DIR
set -euo pipefail
meson=$1 build=$2 plugins_dir=$3

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
"$meson" install -C "$build" --no-rebuild --destdir "$dest" >"$dest/install.log" 2>&1 || {
  cat "$dest/install.log" >&2
  exit 1
}
plugin="$dest$plugins_dir/libgstgrokimagine.so"
if [ ! -f "$plugin" ]; then
  echo "not installed at $plugin; installed:" >&2
  find "$dest" -type f >&2
  exit 1
fi
if [ -f "$dest/usr/local/lib/x86_64-linux-gnu/gstreamer-1.0/libgstgrokimagine.so" ] &&
  [ "$plugins_dir" != /usr/local/lib/x86_64-linux-gnu/gstreamer-1.0 ]; then
  echo "also installed under /usr/local, where Debian's GStreamer does not look" >&2
  exit 1
fi
# Only the installed copy: no GST_PLUGIN_PATH, a registry of its own.
unset GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0
GST_PLUGIN_SYSTEM_PATH_1_0="$dest$plugins_dir" GST_REGISTRY_1_0="$dest/registry.bin" \
  gst-inspect-1.0 grokimaginesrc >"$dest/inspect.log" 2>&1 || {
  echo "gst-inspect-1.0 does not find grokimaginesrc in $dest$plugins_dir:" >&2
  cat "$dest/inspect.log" >&2
  exit 1
}
echo "installed and loaded from $plugins_dir"
