#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is missing, builds, and runs the whole test suite: with
# --setup all, the `slow` suite too, which plain `meson test -C build`
# leaves out (the log is build/meson-logs/testlog-all.json). Arguments go
# to meson test (a test's name, --suite ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build -Dtests=enabled -Dexamples=enabled
meson compile -C build
meson test -C build --setup all --print-errorlogs "$@"
