#!/usr/bin/env bash
# The test suites under valgrind memcheck (meson's `valgrind` test setup,
# tests/meson.build): any invalid access, use of uninitialised memory or
# definite leak fails them. GLib's suppressions and tests/valgrind.supp
# cover the libraries' own. Run after scripts/test.sh: the emulator reuses
# the clips that run encoded (GROKIMAGINE_EMULATOR_CLIPS), so valgrind's
# time goes to the plugin, not to x264.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build -Dtests=enabled -Dexamples=enabled
meson compile -C build
# Not the examples (they run other programs: gst-launch, python) nor the
# emulator's self-check (test infrastructure, with its own timing checks).
meson test -C build --setup valgrind --print-errorlogs core providers grokimaginesrc native faults
