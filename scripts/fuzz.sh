#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer targets with clang and runs each for SECONDS
# (default 60); prints executions and any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/install-deps.sh
if [ -d build-fuzz ]; then
  meson configure build-fuzz -Dfuzz-seconds="$seconds"
else
  CXX=clang++ meson setup build-fuzz -Dfuzzing=enabled -Db_lundef=false -Dtests=disabled \
    -Dexamples=disabled \
    -Dfuzz-seconds="$seconds"
fi
meson compile -C build-fuzz
meson test -C build-fuzz --print-errorlogs fuzz-responses fuzz-requests fuzz-mp4
grep -hE "^(Done|stat::number_of_executed_units)" build-fuzz/meson-logs/testlog.txt || true
