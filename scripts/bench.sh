#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds and runs the benchmark of docs/benchmarks.md: prints its table.
# Arguments go to grokimagine-bench (--runs N, --quick, --only NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build -Dtests=enabled -Dexamples=enabled
meson compile -C build
export GST_PLUGIN_PATH_1_0="$PWD/build/gst/grokimagine${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
export GST_REGISTRY_1_0="$PWD/build/bench-registry.bin"
exec build/tests/bench/grokimagine-bench "$@"
