#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test suites again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer: any memory error, undefined behaviour or leak
# through our code fails them (tests/lsan.supp lists the libraries' own
# start-up allocations).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dtests=enabled -Dexamples=disabled
meson compile -C build-asan
# Only the plugin packages the project installs: others on the machine
# (Python's plugin loader, Qt, OpenCV...) bring their own leaks.
plugins=$(mktemp -d)
trap 'rm -rf "$plugins"' EXIT
for package in libgstreamer1.0-0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
               gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
               gstreamer1.0-x; do
  dpkg -L "$package" | grep -E '/gstreamer-1\.0/[^/]+\.so$' | xargs -r ln -sf -t "$plugins"
done
export GST_PLUGIN_SYSTEM_PATH_1_0="$plugins"
# Scan in-process: the scanner helper cannot load a sanitizer-built plugin.
export GST_REGISTRY_FORK=no
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The examples run uninstrumented programs (gst-launch, python) that cannot
# load a sanitized plugin.
# --setup all: the `slow` suite's tests (faults-slow, store-slow) too; the
# log is testlog-all.json.
meson test -C build-asan --setup all --print-errorlogs core providers grokimaginesrc native safety \
  journal store store-slow channel operations faults faults-slow emulator-segmind emulator-xai emulator-aimlapi emulator-reapi emulator-common
