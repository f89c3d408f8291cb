#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every example in examples/ against the emulator and checks what each
# one produced, not only that it exited 0. TAP on stdout (meson's protocol:
# 'tap'), one test per example; details and failures on stderr.
#
#   run-examples.sh EXAMPLES_DIR EMULATOR CHECK_MEDIA PLAYLIST PLAY_PROMPT OUTPUT_DIR
#
# meson passes the arguments and the environment that finds the uninstalled
# plugin (GST_PLUGIN_PATH_1_0, GST_REGISTRY_1_0, GST_REGISTRY_FORK).
# generate.py runs with $PYTHON, else the first of python3 and
# /usr/bin/python3 that has PyGObject; with none, its test is skipped.
set -uo pipefail

if [ $# -ne 6 ]; then
  echo "usage: $0 EXAMPLES_DIR EMULATOR CHECK_MEDIA PLAYLIST PLAY_PROMPT OUTPUT_DIR" >&2
  exit 2
fi
examples=$1 emulator=$2 check_media=$3 playlist=$4 play_prompt=$5 out=$6

# TAP goes to fd 3; everything else, whatever prints it, to stderr.
exec 3>&1 1>&2
tests=0
tap() { echo "$*" >&3; }
problem() { echo "  $*"; }

# A directory of this run's own under OUTPUT_DIR (runs may overlap), kept
# when something fails.
mkdir -p "$out"
out=$(mktemp -d "$out/run.XXXXXX")

# The emulator's clips (tests/emulator/clip.cpp): 24 frames per second,
# H.264 and AAC; 480p at 16:9 is 848x480.
duration=2
frames=$((duration * 24))
key="examples-key"
emulator_pids=()
failed=0
finish() {
  for pid in "${emulator_pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait
  if [ $failed -eq 0 ]; then rm -rf "$out"; else echo "output kept in $out"; fi
}
trap finish EXIT

# start_emulator NAME [OPTION...]: sets $api_url; the log (with every
# accepted submit and encoded clip) is $out/NAME.log.
start_emulator() {
  local name=$1
  shift
  GST_DEBUG=grokimagine-emulator:4 GST_DEBUG_NO_COLOR=1 \
    "$emulator" --api-key "$key" --generation-ms 300 --queued-ms 100 "$@" \
    >"$out/$name.url" 2>"$out/$name.log" &
  emulator_pids+=($!)
  for _ in $(seq 100); do
    grep -q '^api-url=' "$out/$name.url" && break
    sleep 0.1
  done
  api_url=$(sed -n 's/^api-url=//p' "$out/$name.url")
  [ -n "$api_url" ]
}

# What the emulator saw, from its log.
accepted_ids() { sed -n 's/.* accepted \([^ ]*\) (.*/\1/p' "$out/${1:-emulator}.log"; }
submits() { accepted_ids | wc -l; }
# The newest clip the emulator made or took from its shared clips.
last_clip() { sed -n 's/.* \(encoded\|reused\) \(.*\.mp4\) (.*/\2/p' "$out/emulator.log" | tail -n 1; }

# run NAME COMMAND...: runs with a time limit, output in $out/NAME.log,
# shown on failure.
run() {
  local log="$out/$1.log"
  shift
  timeout 40 "$@" >"$log" 2>&1
  local status=$?
  if [ $status -ne 0 ]; then
    problem "$(basename "$1") exited with $status; its output:"
    sed 's/^/    | /' "$log"
  fi
  return $status
}

# media FILE...: check-media's summary, one "stream ..." line per kind.
media() {
  "$check_media" "$@" >"$out/media.txt" || return 1
  sed 's/^/  /' "$out/media.txt"
}
stream_line() { grep "^stream $1 " "$out/media.txt"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# expect_stream CAPS-NAME FRAMES [FIELD=VALUE...]: the last media() has that
# stream, with that many frames (N, MIN-MAX, or empty: any) and those caps
# fields.
expect_stream() {
  local name=$1 count=$2 line actual
  shift 2
  line=$(stream_line "$name") || {
    problem "no $name stream"
    return 1
  }
  actual=$(field frames <<<"$line")
  if [ -n "$count" ] && ! awk -v n="$actual" -v min="${count%-*}" -v max="${count#*-}" \
    'BEGIN { exit !(n >= min && n <= max) }'; then
    problem "$name has $actual frames, expected $count"
    return 1
  fi
  for expected in "$@"; do
    [[ " $line " == *" $expected "* ]] || {
      problem "$name: expected $expected in: $line"
      return 1
    }
  done
}

# An MP4 of the clip as the emulator made it: H.264 848x480, every frame,
# and AAC lasting the clip.
expect_clip_mp4() {
  media "$1" || return 1
  expect_stream video/x-h264 "$frames" width=848 height=480 || return 1
  expect_stream audio/mpeg "" mpegversion=4 rate=48000 || return 1
  local audio_seconds
  audio_seconds=$(stream_line audio/mpeg | field duration)
  awk -v s="$audio_seconds" -v d="$duration" 'BEGIN { exit !(s >= d - 0.1 && s <= d + 0.1) }' || {
    problem "the audio lasts $audio_seconds s, the clip $duration s"
    return 1
  }
}

# --- the examples ------------------------------------------------------------

test_play() {
  local before frames_dir="$out/play-frames"
  before=$(submits)
  mkdir -p "$frames_dir"
  # What reaches the sinks: each video frame as a JPEG (at the clip's pace),
  # the audio as a WAV.
  VIDEO_SINK="jpegenc ! multifilesink sync=true location=$frames_dir/frame-%05d.jpg" \
    AUDIO_SINK="wavenc ! filesink location=$out/play.wav" \
    run play "$examples/play.sh" "examples test: play.sh" || return 1
  grep -q 'Got EOS from element' "$out/play.log" || {
    problem "no EOS"
    return 1
  }
  local video audio_seconds
  video=$(find "$frames_dir" -name 'frame-*.jpg' | wc -l)
  media "$out/play.wav" || return 1
  audio_seconds=$(stream_line audio/x-raw | field duration)
  echo "  play.sh rendered $video video frames and ${audio_seconds:-no} s of audio"
  [ "$video" -eq "$frames" ] || {
    problem "expected $frames video frames"
    return 1
  }
  awk -v s="${audio_seconds:-0}" -v d="$duration" 'BEGIN { exit !(s >= d - 0.1 && s <= d + 0.1) }' || {
    problem "expected $duration s of audio"
    return 1
  }
  [ $(($(submits) - before)) -eq 1 ] || {
    problem "the emulator saw $(($(submits) - before)) submits, expected 1"
    return 1
  }
}

test_save() {
  local saved="$out/saved.mp4"
  run save "$examples/save-without-reencoding.sh" "examples test: save" "$saved" || return 1
  expect_clip_mp4 "$saved" || return 1
  # Not re-encoded: the same H.264 and AAC payloads as the emulator's file.
  local saved_video saved_audio source
  saved_video=$(stream_line video/x-h264 | field sha256)
  saved_audio=$(stream_line audio/mpeg | field sha256)
  source=$(last_clip)
  media "$source" >/dev/null || return 1
  [ "$saved_video" = "$(stream_line video/x-h264 | field sha256)" ] || {
    problem "the H.264 differs from the provider's ($source): re-encoded?"
    return 1
  }
  [ "$saved_audio" = "$(stream_line audio/mpeg | field sha256)" ] || {
    problem "the AAC differs from the provider's ($source): re-encoded?"
    return 1
  }
  echo "  H.264 and AAC payloads identical to the provider's clip"
  # The remux also carries the job: the prompt as title, the request id.
  local id
  id=$(accepted_ids | tail -n 1)
  gst-launch-1.0 -t filesrc location="$saved" ! qtdemux ! fakesink >"$out/tags.txt" 2>&1
  grep -q 'title: examples test: save$' "$out/tags.txt" && grep -qF "$id" "$out/tags.txt" || {
    problem "the prompt or the request id $id is not in the file's tags:"
    grep -E '^ +[a-z-]+: ' "$out/tags.txt"
    return 1
  }
}

test_hls() {
  local dir="$out/hls"
  HLS_SEGMENT_SECONDS=1 run hls "$examples/hls.sh" "examples test: hls" "$dir" || return 1
  local playlist="$dir/playlist.m3u8"
  [ -f "$playlist" ] || {
    problem "no $playlist"
    return 1
  }
  sed 's/^/  | /' "$playlist"
  echo
  head -n 1 "$playlist" | grep -q '^#EXTM3U' || {
    problem "$playlist does not start with #EXTM3U"
    return 1
  }
  local segments=()
  mapfile -t segments < <(grep -v '^#' "$playlist" | grep '\.ts$')
  [ ${#segments[@]} -ge 1 ] || {
    problem "no segment in the playlist"
    return 1
  }
  local paths=()
  for segment in "${segments[@]}"; do
    [ -f "$dir/$(basename "$segment")" ] || {
      problem "listed segment $segment is missing"
      return 1
    }
    paths+=("$dir/$(basename "$segment")")
  done
  echo "  ${#segments[@]} segments listed, $(find "$dir" -name '*.ts' | wc -l) .ts files"
  # Together the segments hold the whole clip.
  media "${paths[@]}" || return 1
  expect_stream video/x-h264 "$frames" width=848 height=480 || return 1
  expect_stream audio/mpeg "" mpegversion=4 || return 1
}

# luma_at SECONDS FILE: the luma of the first frame at or after SECONDS in
# check-media --luma's output.
luma_at() {
  awk -v t="$1" '{ split($2, p, "="); split($3, l, "=") }
    p[2] >= t { print l[2]; exit }' "$2"
}

test_overlay() {
  local mix="$out/overlay.mp4"
  # A white live picture, 4 s at 30 fps, encoded into a file.
  LIVE_SECONDS=4 LIVE_SOURCE="videotestsrc is-live=true pattern=white num-buffers=120" \
    VIDEO_SINK="x264enc speed-preset=ultrafast tune=zerolatency ! mp4mux ! filesink location=$mix" \
    run overlay "$examples/overlay.sh" "examples test: overlay" || return 1
  grep -q 'Got EOS from element' "$out/overlay.log" || {
    problem "no EOS"
    return 1
  }
  media "$mix" || return 1
  # 4 s at 30 fps; compositor may start a frame or two before the live
  # source's first one.
  expect_stream video/x-h264 120-126 width=1280 height=720 || return 1
  # The clip (dark: a ball on black) covers the bottom-right corner while
  # it lasts (2 s); the live picture shows everywhere else, and there too
  # after the clip.
  "$check_media" --luma 830,456,426,240 "$mix" >"$out/corner.txt" &&
    "$check_media" --luma 0,0,426,240 "$mix" >"$out/elsewhere.txt" || return 1
  local corner_during corner_after elsewhere
  corner_during=$(luma_at 1 "$out/corner.txt")
  corner_after=$(luma_at 3 "$out/corner.txt")
  elsewhere=$(luma_at 1 "$out/elsewhere.txt")
  echo "  mean luma: corner $corner_during at 1 s, $corner_after at 3 s; top-left $elsewhere at 1 s"
  awk -v a="${corner_during:-255}" -v b="${corner_after:-0}" -v c="${elsewhere:-0}" \
    'BEGIN { exit !(a < 120 && b > 200 && c > 200) }' || {
    problem "the clip is not in the corner for its 2 s only"
    return 1
  }
}

test_playlist() {
  local before ids=()
  before=$(submits)
  VIDEO_SINK=fakevideosink AUDIO_SINK=fakeaudiosink \
    run playlist "$playlist" "examples test: first" "examples test: second" \
    "examples test: third" || return 1
  local log="$out/playlist.log"
  sed 's/^/  | /' "$log"
  grep -q '^played 3 clips$' "$log" || {
    problem "no 'played 3 clips'"
    return 1
  }
  mapfile -t ids < <(sed -n 's/^\[[1-3]\/3\] playing (request \(.*\))$/\1/p' "$log")
  [ ${#ids[@]} -eq 3 ] && [ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" -eq 3 ] || {
    problem "expected 3 distinct request ids played, got: ${ids[*]}"
    return 1
  }
  [ "$(grep -c '^\[[1-3]/3\] finished$' "$log")" -eq 3 ] || {
    problem "not every clip finished"
    return 1
  }
  # The ids played are the jobs the emulator accepted, one submit per clip.
  local new
  new=$(accepted_ids | tail -n +$((before + 1)) | sort)
  [ "$new" = "$(printf '%s\n' "${ids[@]}" | sort)" ] || {
    problem "the emulator accepted: ${new//$'\n'/ }; the playlist played: ${ids[*]}"
    return 1
  }
  # The second clip was generated while the first played.
  [ "$(grep -n -m1 '^\[2/3\] generating' "$log" | cut -d: -f1)" -lt \
    "$(grep -n -m1 '^\[1/3\] finished' "$log" | cut -d: -f1)" ] || {
    problem "clip 2 was not generated while clip 1 played"
    return 1
  }
}

# extend.sh against an xai emulator: a red 2 s clip extended by 2 s (96
# frames, the input's size), then restyled (48 frames), one submit each.
test_extend() {
  start_emulator xai --provider xai || {
    problem "the xai emulator did not start"
    return 1
  }
  local input="$out/red.mp4"
  gst-launch-1.0 -q videotestsrc pattern=solid-color foreground-color=0xffff0000 num-buffers=48 \
    ! video/x-raw,width=320,height=240,framerate=24/1 ! videoconvert ! x264enc \
    speed-preset=ultrafast ! mp4mux ! filesink location="$input" >/dev/null || return 1
  XAI_API_KEY=$key GROKIMAGINE_PROVIDER=xai GROKIMAGINE_API_URL=$api_url/v1 \
    run extend "$examples/extend.sh" "$input" "examples test: extend" "$out/longer.mp4" ||
    return 1
  media "$out/longer.mp4" || return 1
  expect_stream video/x-h264 95-97 width=320 height=240 || return 1
  XAI_API_KEY=$key GROKIMAGINE_PROVIDER=xai GROKIMAGINE_API_URL=$api_url/v1 OPERATION=edit \
    run edit "$examples/extend.sh" "$input" "examples test: edit" "$out/edited.mp4" || return 1
  media "$out/edited.mp4" || return 1
  expect_stream video/x-h264 47-49 width=320 height=240 || return 1
  [ "$(accepted_ids xai | wc -l)" -eq 2 ] || {
    problem "the xai emulator saw $(accepted_ids xai | wc -l) jobs, expected 2"
    return 1
  }
}

test_playlist_error() {
  start_emulator failing --fail-detail "examples test: refused" || {
    problem "the failing emulator did not start"
    return 1
  }
  GROKIMAGINE_API_URL=$api_url VIDEO_SINK=fakevideosink AUDIO_SINK=fakeaudiosink \
    timeout 40 "$playlist" "examples test: refused" >"$out/playlist-error.log" 2>&1
  local status=$?
  sed 's/^/  | /' "$out/playlist-error.log"
  [ $status -eq 1 ] || {
    problem "exited with $status, expected 1"
    return 1
  }
  local id
  id=$(accepted_ids failing | head -n 1)
  [ -n "$id" ] && grep -qF "resume with: request-id=$id" "$out/playlist-error.log" || {
    problem "the request id ${id:-?} is not printed"
    return 1
  }
}

test_play_prompt() {
  local before
  before=$(submits)
  VIDEO_SINK=fakevideosink AUDIO_SINK=fakeaudiosink \
    run play-prompt "$play_prompt" "examples test: play-prompt" "$GROKIMAGINE_API_URL" || return 1
  sed 's/^/  | /' "$out/play-prompt.log"
  local id
  id=$(accepted_ids | tail -n 1)
  [ $(($(submits) - before)) -eq 1 ] && grep -q "job $id: COMPLETED" "$out/play-prompt.log" || {
    problem "expected one job, $id, reported COMPLETED"
    return 1
  }
}

test_channel() {
  local saved="$out/channel.mp4" before
  before=$(submits)
  run channel "$examples/channel.sh" "$saved" "examples test: one" "two dogs" "three" ||
    return 1
  media "$saved" || return 1
  # Three clips in one stream: every frame of each, and audio as long.
  expect_stream video/x-h264 "$((3 * frames))" width=848 height=480 || return 1
  local audio_seconds
  audio_seconds=$(stream_line audio/mpeg | field duration)
  awk -v s="$audio_seconds" -v d="$((3 * duration))" 'BEGIN { exit !(s >= d - 0.1 && s <= d + 0.1) }' || {
    problem "the audio lasts $audio_seconds s, the three clips $((3 * duration)) s"
    return 1
  }
  [ $(($(submits) - before)) -eq 3 ] || {
    problem "the emulator saw $(($(submits) - before)) submits, expected 3"
    return 1
  }
}

# channel.sh with CONTINUITY=extend against an xai emulator: two clips, the
# second extending the first, and only the new seconds of each in the MP4
# (2 clips of $duration s; the extended input played again would add more).
test_channel_extend() {
  start_emulator xai-channel --provider xai || {
    problem "the xai emulator did not start"
    return 1
  }
  local saved="$out/channel-extend.mp4"
  XAI_API_KEY=$key GROKIMAGINE_PROVIDER=xai GROKIMAGINE_API_URL=$api_url/v1 CONTINUITY=extend \
    GST_DEBUG=grokimaginechannel:4 GST_DEBUG_NO_COLOR=1 run channel-extend "$examples/channel.sh" "$saved" "examples test: a dog runs" \
    "examples test: the dog jumps" || return 1
  media "$saved" || return 1
  expect_stream video/x-h264 "$((2 * frames))" width=848 height=480 || return 1
  [ "$(accepted_ids xai-channel | wc -l)" -eq 2 ] &&
    grep -q 'clip 1 extends clip 0' "$out/channel-extend.log" || {
    problem "expected clip 1 to extend clip 0; the emulator saw $(accepted_ids xai-channel | wc -l) jobs"
    return 1
  }
}

test_channel_stdin() {
  local saved="$out/channel-stdin.mp4" before
  before=$(submits)
  printf 'examples test: stdin one\n\nexamples test: stdin two\n' |
    run channel-stdin "$python" "$examples/channel-stdin.py" "$saved" || return 1
  sed 's/^/  | /' "$out/channel-stdin.log"
  grep -q "clip 1: examples test: stdin two" "$out/channel-stdin.log" || {
    problem "the second line did not become the second clip"
    return 1
  }
  media "$saved" || return 1
  expect_stream video/x-h264 "$((2 * frames))" width=848 height=480 || return 1
  [ $(($(submits) - before)) -eq 2 ] || {
    problem "the emulator saw $(($(submits) - before)) submits, expected 2"
    return 1
  }
}

test_channel_live_hls() {
  local dir="$out/live-hls" before
  before=$(submits)
  # Live: it never ends by itself; Ctrl-C (SIGINT, with gst-launch -e) ends it.
  timeout -s INT 12 "$examples/channel-live-hls.sh" "$dir" "examples test: live one" \
    "examples test: live two" >"$out/live-hls.log" 2>&1
  local playlist="$dir/playlist.m3u8"
  grep -q '^#EXTM3U' "$playlist" 2>/dev/null || {
    problem "no playlist in $dir"
    sed 's/^/    | /' "$out/live-hls.log"
    return 1
  }
  local paths=()
  mapfile -t paths < <(grep -v '^#' "$playlist" | grep '\.ts$' | sed "s|^|$dir/|")
  [ ${#paths[@]} -ge 2 ] || {
    problem "only ${#paths[@]} segments in the playlist"
    return 1
  }
  echo "  ${#paths[@]} segments"
  media "${paths[@]}" || return 1
  # Both clips played: their 2 s each, plus what filler held around them.
  expect_stream video/x-h264 "$((2 * frames))-100000" width=848 height=480 || return 1
  [ $(($(submits) - before)) -eq 2 ] || {
    problem "the emulator saw $(($(submits) - before)) submits, expected 2"
    return 1
  }
}

test_channel_live_rtmp() {
  local flv="$out/live.flv" before
  before=$(submits)
  # The RTMP chain into a file (no RTMP server here); Ctrl-C ends it.
  timeout -s INT 12 "$examples/channel-live-rtmp.sh" "$flv" "examples test: rtmp one" \
    "examples test: rtmp two" >"$out/live-rtmp.log" 2>&1
  media "$flv" || {
    sed 's/^/    | /' "$out/live-rtmp.log"
    return 1
  }
  # Both clips played (2 s each), plus what filler held around them; and
  # the sound under them.
  expect_stream video/x-h264 "$((2 * frames))-100000" width=848 height=480 || return 1
  expect_stream audio/mpeg "" mpegversion=4 || return 1
  [ $(($(submits) - before)) -eq 2 ] || {
    problem "the emulator saw $(($(submits) - before)) submits, expected 2"
    return 1
  }
}

test_python() {
  local saved="$out/python.mp4"
  run python "$python" "$examples/generate.py" "examples test: python" "$saved" || return 1
  sed 's/^/  | /' "$out/python.log"
  local id
  id=$(accepted_ids | tail -n 1)
  grep -q "job $id: SUBMITTED" "$out/python.log" && grep -q "job $id: COMPLETED" "$out/python.log" || {
    problem "job $id's SUBMITTED and COMPLETED messages are not printed"
    return 1
  }
  # grokimaginesrc ! filesink keeps the provider's file byte for byte.
  cmp "$saved" "$(last_clip)" || {
    problem "$saved differs from the provider's clip"
    return 1
  }
  expect_clip_mp4 "$saved"
}

# --- running them ------------------------------------------------------------

start_emulator emulator || {
  failed=1
  tap "Bail out! the emulator did not start"
  exit 1
}
echo "emulator at $api_url"
# As a user would: the key in the provider's variable, the rest in
# GROKIMAGINE_*; nothing else that could change what the examples do.
unset XAI_API_KEY AIMLAPI_KEY REAPI_KEY GROKIMAGINE_MODEL GROKIMAGINE_RESOLUTION \
  GROKIMAGINE_ASPECT_RATIO GROKIMAGINE_PROMPT GST_LAUNCH VIDEO_SINK AUDIO_SINK OUTPUT HLS_DIR \
  HLS_SEGMENT_SECONDS LIVE_SOURCE LIVE_SECONDS OVERLAY_CLIP
export SEGMIND_API_KEY=$key GROKIMAGINE_PROVIDER=segmind GROKIMAGINE_API_URL=$api_url \
  GROKIMAGINE_DURATION=$duration GROKIMAGINE_POLL_INTERVAL=100

# example NAME FUNCTION: one TAP test.
example() {
  tests=$((tests + 1))
  echo "--- $tests: $1"
  local started=$SECONDS
  if "$2"; then
    tap "ok $tests - $1"
  else
    tap "not ok $tests - $1"
    failed=1
  fi
  echo "    ($((SECONDS - started)) s)"
}

example "channel.sh renders three prompts into one MP4 without a seam" test_channel
example "channel-live-hls.sh publishes a live channel as HLS until Ctrl-C" test_channel_live_hls
example "channel-live-rtmp.sh muxes a live channel as streamable FLV until Ctrl-C" test_channel_live_rtmp
example "play.sh plays every frame and the audio" test_play
example "save-without-reencoding.sh remuxes H.264 and AAC into an MP4" test_save
example "hls.sh writes a playlist and segments holding the clip" test_hls
example "overlay.sh mixes the clip into a corner of the live source until EOS" test_overlay
example "playlist plays 3 generated clips in turn" test_playlist
example "playlist exits 1 with the request id on a failed job" test_playlist_error
example "play-prompt plays a generated clip" test_play_prompt
example "extend.sh extends a local clip, and restyles it with OPERATION=edit" test_extend
example "channel.sh with CONTINUITY=extend plays one continuous shot" test_channel_extend

python=""
for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import gi; gi.require_version("Gst", "1.0"); from gi.repository import Gst' \
    2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -n "$python" ]; then
  echo "python: $python"
  example "generate.py saves the clip and prints the job" test_python
  example "channel-stdin.py turns lines of input into clips of one MP4" test_channel_stdin
else
  for skipped in generate.py channel-stdin.py; do
    tests=$((tests + 1))
    tap "ok $tests - $skipped # SKIP PyGObject (python3-gi, gir1.2-gstreamer-1.0) is missing"
  done
fi

tap "1..$tests"
