#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every recipe of the README (and the reference it links) against the
bundled emulator, so that a recipe that hangs, errors or writes nothing
fails the build. TAP on stdout (meson's protocol: 'tap'), one test per
fenced block; what ran and failures on stderr.

  run-recipes.py SOURCE_ROOT BUILD_ROOT EMULATOR CHECK_MEDIA OUTPUT_DIR MARKDOWN...

A recipe is a fenced block marked `sh` (each block one bash script, run in
a directory of its own holding the files recipes name: clip.mp4,
first.png, story.srt, ...) or `python` (run with python3, skipped when
PyGObject is missing). What the runner changes, as a reader with a key,
a display and an RTMP server would not need to:

- every provider's API is an emulator, through GROKIMAGINE_<PROVIDER>_API_URL
  (what scripts/emulator.sh exports), and gst-launch-1.0 gets the key of
  the provider its line names (segmind when it names none) and of those in
  its fallback-providers, whatever the block exported;
- autovideosink / autoaudiosink are fakesink, playbin and gst-play-1.0 get
  fakesinks, an rtmp2sink writes a file;
- `<id>`, `ID` and `request:ID` are the request id of the last job the
  line's provider accepted;
- a live pipeline (is-live=true) is interrupted (SIGINT) after a while, as
  its user would with Ctrl-C; anything else has 90 s to end by itself.

After a block, each file a `location=` names (not a pattern) must exist, and
an .mp4 must hold H.264 video. Blocks not marked (the steps with a real
key, file formats) are not run.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PROVIDERS = {
    "segmind": "SEGMIND_API_KEY",
    "xai": "XAI_API_KEY",
    "aimlapi": "AIMLAPI_KEY",
    "reapi": "REAPI_KEY",
}
KEY = "emulator-key"  # what scripts/emulator.sh gives its emulators too
LIVE_SECONDS = 12
SECONDS = 90

source_root, build_root, emulator, check_media, output_dir = sys.argv[1:6]
documents = sys.argv[6:]
tap = sys.stdout
sys.stdout = sys.stderr


def blocks(path):
    """(line, language, text) of each fenced sh/python block."""
    found, language, start, lines = [], None, 0, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fence = re.match(r"^\s*```(\w*)\s*$", line)
            if fence and language is None:
                language, start, lines = fence.group(1) or "text", number, []
            elif fence:
                if language in ("sh", "python"):
                    found.append((start, language, "".join(lines)))
                language = None
            elif language is not None:
                lines.append(re.sub(r"^  ", "", line) if line.startswith("  ") else line)
    return found


def start_emulator(provider, out):
    log = open(os.path.join(out, f"emulator-{provider}.log"), "w")
    env = dict(os.environ, GST_DEBUG="grokimagine-emulator:4", GST_DEBUG_NO_COLOR="1")
    process = subprocess.Popen(
        [emulator, "--provider", provider, "--api-key", KEY, "--generation-ms", "300",
         "--queued-ms", "100"],
        stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    line = process.stdout.readline().strip()
    if not line.startswith("api-url="):
        raise RuntimeError(f"the {provider} emulator did not start")
    return process, line[len("api-url="):]


# The prelude of every block: wrappers that do what the docstring says.
PRELUDE = r'''
set -eo pipefail
_provider() {
  local word
  for word in "$@"; do
    case "$word" in
      provider=*) echo "${word#provider=}"; return ;;
      *provider=*) word=${word#*provider=}; echo "${word%%&*}"; return ;;
    esac
  done
  echo segmind
}
_last_id() {
  cat "$RECIPES_OUT"/emulator-"$1".log "$BUILD_DIR"/emulator-"$1".log 2>/dev/null |
    sed -n 's/.* accepted \([^ ]*\) (.*/\1/p' | tail -n 1 || true
}
_prepare() {
  local provider id
  provider=$(_provider "$@")
  id=$(_last_id "$provider")
  unset XAI_API_KEY SEGMIND_API_KEY AIMLAPI_KEY REAPI_KEY
  export "$(_key_var "$provider")=emulator-key"
  _args=()
  local word fallback
  for word in "$@"; do
    case "$word" in
      fallback-providers=*)  # each fallback's key, as a user sets them
        word=${word#fallback-providers=}
        for fallback in ${word//[<>,]/ }; do export "$(_key_var "$fallback")=emulator-key"; done ;;
    esac
  done
  for word in "$@"; do
    case "$word" in
      autovideosink | autoaudiosink) word=fakesink ;;
      playbin | playbin3) _args+=("$word" video-sink=fakesink audio-sink=fakesink); continue ;;
      rtmp2sink) word=filesink ;;
      location=rtmp://*) word=location=rtmp.flv ;;
      *'<id>'*) word=${word//<id>/$id} ;;
      ID) word=$id ;;
      *=ID | *:ID) word=${word%ID}$id ;;
    esac
    _args+=("$word")
  done
}
_key_var() {
  case "$1" in
    xai) echo XAI_API_KEY ;; aimlapi) echo AIMLAPI_KEY ;; reapi) echo REAPI_KEY ;;
    *) echo SEGMIND_API_KEY ;;
  esac
}
_bounded() {
  local live=0 word program
  program=$(type -P "$1")
  shift
  for word in "$@"; do [ "$word" = is-live=true ] && live=1; done
  if [ $live = 1 ]; then
    # Ctrl-C after a while: with -e an EOS, then the end of the files.
    # Without -e, gst-launch-1.0 ends an interrupted run with 130, as a
    # shell does for Ctrl-C: that is this recipe's normal end.
    # --foreground: otherwise timeout sends the INT to gst-launch-1.0 and
    # again to its process group, and a second Ctrl-C that comes after the
    # first one's handler ran kills gst-launch-1.0 before the EOS has
    # finished the file (a moov-less MP4 under load).
    timeout --foreground --preserve-status -s INT -k 20 "$RECIPES_LIVE_SECONDS" "$program" "$@" ||
      { local status=$?; [ $status = 130 ] || return $status; }
  else
    timeout -k 5 "$RECIPES_SECONDS" "$program" "$@"
  fi
}
gst-launch-1.0() {
  _prepare "$@"
  echo "+ gst-launch-1.0 ${_args[*]}" >&2
  _bounded gst-launch-1.0 "${_args[@]}"
}
gst-play-1.0() {
  _prepare "$@"
  echo "+ gst-play-1.0 ${_args[*]}" >&2
  _bounded gst-play-1.0 --videosink=fakesink --audiosink=fakesink "${_args[@]}"
}
grokimagine-jobs() {
  _prepare "$@"
  echo "+ grokimagine-jobs ${_args[*]}" >&2
  _bounded grokimagine-jobs "${_args[@]}"
}
'''


def make_fixtures(directory, env):
    """The files recipes name, made the way a user would have them."""
    def launch(description):
        subprocess.run(["gst-launch-1.0", "-q"] + description.split(), cwd=directory, env=env,
                       check=True, timeout=120, stdout=subprocess.DEVNULL)
    for name, pattern in (("first.png", "ball"), ("mid.png", "smpte"), ("last.png", "snow")):
        launch(f"videotestsrc num-buffers=1 pattern={pattern} ! video/x-raw,width=320,height=180 "
               f"! pngenc ! filesink location={name}")
    # A 4 s clip of the xai emulator: what one would extend or edit.
    launch_env = dict(env, XAI_API_KEY=KEY)
    subprocess.run(["gst-launch-1.0", "-q", "grokimaginesrc", "provider=xai", "duration=4",
                    "prompt=A street at night", "!", "filesink", "location=clip.mp4"],
                   cwd=directory, env=launch_env, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(directory, "story.srt"), "w") as f:
        f.write("1\n00:00:00,000 --> 00:00:02,000\nA lighthouse at dusk\n\n"
                "2\n00:00:03,000 --> 00:00:05,000\nThe lamp turns on\n")
    os.makedirs(os.path.join(directory, "hls"), exist_ok=True)


def check_outputs(text, directory):
    problems = []
    flv = os.path.join(directory, "rtmp.flv")
    if "rtmp2sink" in text and (not os.path.isfile(flv) or os.path.getsize(flv) == 0):
        problems.append("rtmp.flv (what rtmp2sink would have sent): empty")
    magic = {".png": b"\x89PNG", ".jpeg": b"\xff\xd8", ".jpg": b"\xff\xd8"}
    for name in sorted(set(re.findall(r"location=([^\s\"']+)", text))):
        if name.startswith("rtmp://") or "$" in name:
            continue
        extension = os.path.splitext(name)[1]
        if "%" in name:  # multifilesink's pattern: the files it wrote
            pattern = os.path.join(directory, re.sub(r"%0?\d*d", "*", name))
            written = sorted(glob.glob(pattern))
            if not written:
                problems.append(f"{name}: nothing written")
            for path in written if extension in magic else []:
                with open(path, "rb") as f:
                    if not f.read(4).startswith(magic[extension]):
                        problems.append(f"{os.path.basename(path)}: not {extension[1:]} data")
            continue
        path = os.path.join(directory, name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            problems.append(f"{name}: not written")
        elif name.endswith(".mp4"):
            media = subprocess.run([check_media, path], capture_output=True, text=True)
            if media.returncode != 0 or "stream video/x-h264 frames=" not in media.stdout:
                problems.append(f"{name}: no H.264 video ({media.stdout.strip()} "
                                f"{media.stderr.strip()})")
    return problems


def python_with_gi():
    """$PYTHON, else the first python3 that has PyGObject (Debian's python3-gi
    is for /usr/bin/python3, which another python3 on PATH may hide)."""
    for candidate in filter(None, [os.environ.get("PYTHON"), shutil.which("python3"),
                                   "/usr/bin/python3"]):
        if subprocess.run([candidate, "-c", "import gi"], capture_output=True).returncode == 0:
            return candidate
    return None


def main():
    python = python_with_gi()
    os.makedirs(output_dir, exist_ok=True)
    out = tempfile.mkdtemp(dir=output_dir, prefix="run.")
    bin_dir = os.path.join(out, "bin")
    os.makedirs(bin_dir)
    os.symlink(os.path.join(build_root, "grokimagine-jobs"), os.path.join(bin_dir, "grokimagine-jobs"))
    env = dict(os.environ)
    emulators = []
    try:
        for provider in PROVIDERS:
            process, url = start_emulator(provider, out)
            emulators.append(process)
            # xAI's API lives under /v1, as api.x.ai/v1 does.
            env[f"GROKIMAGINE_{provider.upper()}_API_URL"] = url + ("/v1" if provider == "xai" else "")
        env.update(PATH=bin_dir + os.pathsep + env["PATH"],
                   GROKIMAGINE_JOURNAL=os.path.join(out, "journal"),
                   BUILD_DIR=build_root, RECIPES_OUT=out,
                   RECIPES_LIVE_SECONDS=str(LIVE_SECONDS), RECIPES_SECONDS=str(SECONDS))
        fixtures = os.path.join(out, "fixtures")
        os.makedirs(fixtures)
        make_fixtures(fixtures, env)

        recipes = [(doc, line, language, text) for doc in documents
                   for line, language, text in blocks(doc)]
        print(f"1..{len(recipes)}", file=tap, flush=True)
        failed = 0
        for number, (doc, line, language, text) in enumerate(recipes, 1):
            name = f"{os.path.relpath(doc, source_root)}:{line}"
            directory = os.path.join(out, f"recipe-{number}")
            shutil.copytree(fixtures, directory)
            # Paths a reader runs from the checkout: scripts/, examples/.
            for linked in ("scripts", "examples"):
                os.symlink(os.path.join(source_root, linked), os.path.join(directory, linked))
            print(f"--- {name} ({language})")
            if language == "python":
                script = os.path.join(directory, "recipe.py")
                if not python:
                    print(f"ok {number} {name} # SKIP no python3 with PyGObject", file=tap,
                          flush=True)
                    continue
                command = [python, script]
            else:
                script = os.path.join(directory, "recipe.sh")
                command = ["bash", script]
            with open(script, "w") as f:
                f.write((PRELUDE if language == "sh" else "") + text)
            started = time.monotonic()
            block_env = env
            if language == "python":  # provider=auto: the one key set
                block_env = dict(env, SEGMIND_API_KEY=KEY)
            try:
                run = subprocess.run(command, cwd=directory, env=block_env, capture_output=True,
                                     text=True, timeout=SECONDS * 4)
                status, output = run.returncode, run.stdout + run.stderr
            except subprocess.TimeoutExpired as e:
                status, output = "timeout", str(e.stdout or "") + str(e.stderr or "")
            problems = [] if status == 0 else [f"exited with {status}"]
            if status == 0:
                problems += check_outputs(text, directory)
            for provider in PROVIDERS:  # what a block started with scripts/emulator.sh
                subprocess.run(["bash", os.path.join(source_root, "scripts", "emulator.sh"), "stop",
                                provider], env=env, capture_output=True)
            print(output.rstrip())
            seconds = time.monotonic() - started
            if problems:
                failed += 1
                print(f"not ok {number} {name}: {'; '.join(problems)}", file=tap, flush=True)
                print("\n".join("  " + p for p in problems))
                print("  the block:\n" + "\n".join("    | " + l for l in text.splitlines()))
            else:
                print(f"ok {number} {name} ({seconds:.1f} s)", file=tap, flush=True)
        if failed:
            print(f"output kept in {out}")
        else:
            shutil.rmtree(out)
        return 1 if failed else 0
    finally:
        for process in emulators:
            process.send_signal(signal.SIGTERM)
            process.wait()


sys.exit(main())
