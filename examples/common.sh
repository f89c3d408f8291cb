# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034  # sets variables for the recipes
# Sourced by the example recipes: turns the environment into the properties
# of a Grok Imagine source, so every recipe runs unchanged against a real
# provider or the bundled emulator.
#
#   GROKIMAGINE_PROVIDER       auto (default: the provider whose key is set), xai,
#                              segmind, aimlapi or reapi
#   GROKIMAGINE_API_URL        base URL of the API (default: the provider's own)
#   GROKIMAGINE_MODEL          model (default: the provider's)
#   GROKIMAGINE_PROMPT         the prompt, when the recipe's first argument is absent
#   GROKIMAGINE_DURATION       seconds (default 6)
#   GROKIMAGINE_RESOLUTION     480p (default), 720p or 1080p
#   GROKIMAGINE_ASPECT_RATIO   16:9 (default), 9:16, 1:1, ...
#   GROKIMAGINE_POLL_INTERVAL  ms between status requests (default: the element's, 0:
#                              the provider's own schedule)
#   GST_LAUNCH                 the gst-launch program (default gst-launch-1.0)
#
# The API key is never passed here: the element reads the provider's own
# variable (XAI_API_KEY, SEGMIND_API_KEY, AIMLAPI_KEY or REAPI_KEY).
#
# After sourcing, "${grokimagine[@]}" holds the properties and $gst_launch
# the program to run.

prompt="${1:-${GROKIMAGINE_PROMPT:-A dog running on a sunlit beach}}"
duration="${GROKIMAGINE_DURATION:-6}"
gst_launch="${GST_LAUNCH:-gst-launch-1.0}"

grokimagine=(
  provider="${GROKIMAGINE_PROVIDER:-auto}"
  prompt="$prompt"
  duration="$duration"
  resolution="${GROKIMAGINE_RESOLUTION:-480p}"
  aspect-ratio="${GROKIMAGINE_ASPECT_RATIO:-16:9}"
)
if [ -n "${GROKIMAGINE_API_URL:-}" ]; then grokimagine+=(api-url="$GROKIMAGINE_API_URL"); fi
if [ -n "${GROKIMAGINE_MODEL:-}" ]; then grokimagine+=(model="$GROKIMAGINE_MODEL"); fi
if [ -n "${GROKIMAGINE_POLL_INTERVAL:-}" ]; then
  grokimagine+=(poll-interval="$GROKIMAGINE_POLL_INTERVAL")
fi

# channel_properties PROMPT...: sets "${channel[@]}", the properties of a
# grokimaginechannel: the same, less `prompt`, plus prompts="<one,two>"
# (the prompts separated by commas; a prompt that holds a comma would need
# quotes inside the list, which gst-launch's own parsing makes awkward from
# a shell: the Python and C APIs take a plain list).
channel_properties() {
  channel=()
  for property in "${grokimagine[@]}"; do
    case "$property" in prompt=*) ;; *) channel+=("$property") ;; esac
  done
  channel+=(prompts="<$(IFS=,; echo "$*")>")
}
