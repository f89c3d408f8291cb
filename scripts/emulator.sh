#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bundled emulator as a tool: a provider's API on loopback that renders
# real H.264/AAC clips, for trying the plugin without a key or money.
#
#   eval "$(scripts/emulator.sh start [PROVIDER])"   # segmind (default), xai, aimlapi, reapi
#   eval "$(scripts/emulator.sh stop [PROVIDER])"    # stops it, unsets its API URL
#
# `start` builds what is missing, starts the emulator in the background (its
# log in build/emulator-PROVIDER.log) and prints the exports that point the
# plugin at it: GST_PLUGIN_PATH (the plugin as built), PATH (with build/, for
# grokimagine-jobs), the provider's key variable, and GROKIMAGINE_<PROVIDER>_API_URL, which every element, URI,
# playbin and gst-play-1.0 then use as the provider's API. Only that
# provider's key is exported, so provider=auto picks it; other keys already
# in your environment are unset (auto would refuse to choose). BUILD_DIR
# chooses the build directory (default build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
action="${1:-}"
provider="${2:-segmind}"

case "$provider" in
  segmind) key_var=SEGMIND_API_KEY ;;
  xai) key_var=XAI_API_KEY ;;
  aimlapi) key_var=AIMLAPI_KEY ;;
  reapi) key_var=REAPI_KEY ;;
  *) echo "emulator.sh: unknown provider '$provider' (segmind, xai, aimlapi, reapi)" >&2; exit 2 ;;
esac
url_var="GROKIMAGINE_$(echo "$provider" | tr a-z A-Z)_API_URL"
pid_file="$build/emulator-$provider.pid"
log="$build/emulator-$provider.log"

stop() {
  if [ -f "$pid_file" ]; then
    kill "$(cat "$pid_file")" 2>/dev/null || true
    rm -f "$pid_file"
  fi
}

case "$action" in
  start)
    emulator="$build/tests/emulator/grokimagine-emulator"
    if [ ! -x "$emulator" ] || [ ! -f "$build/gst/grokimagine/libgstgrokimagine.so" ]; then
      # Everything the build prints goes to stderr: stdout is for eval.
      {
        "$root/scripts/install-deps.sh"
        [ -d "$build" ] || meson setup "$build" -Dtests=enabled -Dexamples=enabled
        meson compile -C "$build"
      } >&2
    fi
    stop
    key="emulator-key"
    # Its own session: it outlives this script and the shell's Ctrl-C.
    # Its log says which jobs it accepted (their request ids).
    GST_DEBUG="${GST_DEBUG:-grokimagine-emulator:4}" GST_DEBUG_NO_COLOR=1 \
      setsid "$emulator" --provider "$provider" --api-key "$key" --generation-ms 2000 \
      --queued-ms 500 >"$log.url" 2>"$log" </dev/null &
    echo $! >"$pid_file"
    for _ in $(seq 100); do
      grep -q '^api-url=' "$log.url" 2>/dev/null && break
      sleep 0.1
    done
    api_url=$(sed -n 's/^api-url=//p' "$log.url")
    rm -f "$log.url"
    # xAI's API lives under /v1, as https://api.x.ai/v1 does.
    [ "$provider" = xai ] && api_url="$api_url/v1"
    if [ -z "$api_url" ]; then
      echo "emulator.sh: the emulator did not start; its log:" >&2
      cat "$log" >&2
      stop
      exit 1
    fi
    echo "export GST_PLUGIN_PATH=$build/gst"
    # grokimagine-jobs, as built.
    case ":$PATH:" in *":$build:"*) ;; *) echo "export PATH=\"$build:\$PATH\"" ;; esac
    for other in XAI_API_KEY SEGMIND_API_KEY AIMLAPI_KEY REAPI_KEY; do
      [ "$other" = "$key_var" ] || echo "unset $other"
    done
    echo "export $key_var=$key"
    echo "export $url_var=$api_url"
    echo "# $provider emulator at $api_url (log: $log); stop it with: eval \"\$(scripts/emulator.sh stop $provider)\"" >&2
    ;;
  stop)
    stop
    echo "unset $url_var"
    ;;
  *)
    echo "usage: eval \"\$(scripts/emulator.sh start|stop [PROVIDER])\"" >&2
    exit 2
    ;;
esac
