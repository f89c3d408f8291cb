#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test suites under valgrind memcheck (meson's `valgrind` test setup,
# tests/meson.build): any invalid access, use of uninitialised memory or
# definite leak fails them. GLib's suppressions and tests/valgrind.supp
# cover the libraries' own. Run after scripts/test.sh: the emulator reuses
# the clips that run encoded (GROKIMAGINE_EMULATOR_CLIPS), so valgrind's
# time goes to the plugin, not to x264.
#
# The same verdict on every CPU. Valgrind 3.19 refuses an instruction the
# CPU does not advertise: on some AMD EPYC machines RDTSCP (0x0F 0x01 0xF9),
# which libhwy's constructor executes, and libhwy comes with libjxl into
# libavcodec, so into gst-libav's avdec_* decoders (and chromaprint). So the
# suites run without the system plugins that bring libhwy in: decodebin3
# then decodes H.264 with openh264dec and AAC with faad (plugins-bad), and
# the emulator encodes AAC with voaacenc. A probe first decodes an H.264/AAC
# clip that way under valgrind. If valgrind meets an instruction it cannot
# run, in the probe or in a suite, the stage has NOT RUN on this CPU: this
# script says so loudly, writes why to build/meson-logs/valgrind-not-run.txt,
# and exits 77 (.ci/run counts it neither passed nor failed). Suites that
# failed for any other reason still fail. GROKIMAGINE_VALGRIND_SIMULATE_SIGILL=1
# makes the probe answer as it does on such a CPU, to try that path here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build -Dtests=enabled -Dexamples=enabled
meson compile -C build

logs=build/meson-logs
not_run=$logs/valgrind-not-run.txt
testlog=$logs/testlog-valgrind.json
mkdir -p "$logs"
rm -f "$not_run"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The system plugins, less those that load libhwy.
plugins=$scratch/plugins
mkdir "$plugins"
left_out=()
for plugin in "$(pkg-config --variable=pluginsdir gstreamer-1.0)"/*.so; do
  # Matched on ldd's whole output: `ldd | grep -q` under pipefail fails
  # when grep stops at its match and ldd, still writing, dies of SIGPIPE
  # (libgstlibav, whose libhwy comes early in a long list, half the time).
  deps=$(ldd "$plugin" 2>/dev/null || true)
  if [[ $deps == *libhwy.so* ]]; then
    left_out+=("$(basename "$plugin")")
  else
    ln -s "$plugin" "$plugins/"
  fi
done
export GST_PLUGIN_SYSTEM_PATH_1_0="$plugins"
echo "valgrind stage: without ${left_out[*]:-nothing} (they load libhwy)"

# Says loudly, and in $not_run, why (stdin) valgrind could not run here.
report_not_run() {
  {
    echo "$(valgrind --version 2>/dev/null) cannot run the suites on this CPU ($(
      grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')):"
    cat
  } >"$not_run"
  echo
  echo "################################################################################"
  echo "# VALGRIND STAGE NOT RUN ON THIS CPU: neither passed nor failed"
  sed 's/^/#   /' "$not_run"
  echo "################################################################################"
}

# What valgrind prints when it meets an instruction it does not handle.
unhandled='unhandled instruction bytes|Unrecognised instruction'

# The probe: decode an H.264/AAC clip as the suites do, under valgrind.
probe_log=$scratch/probe.log
(
  export GST_REGISTRY_1_0=$scratch/registry.bin
  gst-launch-1.0 -q videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=64,height=64 \
    ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux name=mux \
    ! filesink location="$scratch/probe.mp4" \
    audiotestsrc num-buffers=5 ! audioconvert ! voaacenc ! aacparse ! mux. >/dev/null ||
    echo "valgrind probe: could not encode its clip" >&2
  if [ "${GROKIMAGINE_VALGRIND_SIMULATE_SIGILL:-}" = 1 ]; then
    # What valgrind 3.19 prints on a CPU without RDTSCP.
    cat >"$probe_log" <<'EOF'
vex amd64->IR: unhandled instruction bytes: 0xF 0x1 0xF9 (simulated: GROKIMAGINE_VALGRIND_SIMULATE_SIGILL=1)
==1== valgrind: Unrecognised instruction at address 0x0.
==1==    at 0x0: ??? (in /usr/lib/x86_64-linux-gnu/libhwy.so.1.0.3)
==1== Process terminating with default action of signal 4 (SIGILL)
EOF
  else
    valgrind --log-file="$probe_log" gst-launch-1.0 -q filesrc location="$scratch/probe.mp4" \
      ! decodebin3 name=d d. ! queue ! fakesink d. ! queue ! fakesink >/dev/null 2>&1 || true
  fi
)
if grep -Eq "$unhandled" "$probe_log"; then
  grep -E "$unhandled|^==[0-9]+==    at |SIGILL" "$probe_log" | head -n 8 |
    sed 's/^/probe: /' | report_not_run
  rm -f "$testlog"
  exit 77
fi

# Not the examples (they run other programs: gst-launch, python) nor the
# emulator's own suites (emulator-*: test infrastructure, with their own
# timing checks).
status=0
meson test -C build --setup valgrind --print-errorlogs core providers grokimaginesrc native safety journal faults \
  faults-slow ||
  status=$?
[ "$status" -eq 0 ] && exit 0

# A suite that valgrind could not run is not a failure of ours: if that is
# all that failed, the stage did not run on this CPU. Its results leave the
# log .ci/run counts (kept in testlog-valgrind-all.json).
cp "$testlog" "$logs/testlog-valgrind-all.json"
python3 - "$testlog" "$unhandled" >"$scratch/unrunnable" <<'EOF'
import json, re, sys
path, unhandled = sys.argv[1], re.compile(sys.argv[2])
kept, dropped = [], []
for line in open(path):
    test = json.loads(line)
    output = (test.get("stdout") or "") + (test.get("stderr") or "")
    if test.get("result") != "OK" and unhandled.search(output):
        dropped.append(test["name"] + ": " + next(
            l for l in output.splitlines() if unhandled.search(l)).strip())
    else:
        kept.append(line)
open(path, "w").writelines(kept)
if dropped:
    print("\n".join(dropped))
EOF
[ -s "$scratch/unrunnable" ] || exit "$status"
sed 's/^/suite /' "$scratch/unrunnable" | report_not_run
# The other suites' failures stand.
grep -Eq '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$testlog" && exit 1
exit 77
