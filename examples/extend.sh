#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes a local clip longer (xai: the result is the clip followed by its
# continuation), or with OPERATION=edit restyles it, and saves the result.
#
#   XAI_API_KEY=... GROKIMAGINE_PROVIDER=xai examples/extend.sh clip.mp4 \
#       "The camera pulls back to reveal the city" longer.mp4
#   XAI_API_KEY=... GROKIMAGINE_PROVIDER=xai OPERATION=edit examples/extend.sh clip.mp4 \
#       "Make it a watercolor painting" watercolor.mp4
#
# The input is an MP4 (2 to 15 s to extend, at most 8.7 s to edit: checked
# before anything is sent), an http(s) URL, or request:ID (an earlier job of
# the same key). GROKIMAGINE_DURATION is the number of seconds added (2 to
# 10). The provider's file is kept byte for byte (grokimaginesrc !
# filesink). See common.sh for GROKIMAGINE_* (provider, API URL, ...).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 INPUT PROMPT [OUTPUT]" >&2
  exit 2
fi
input=$1
shift
# shellcheck source=examples/common.sh
source "$(dirname "$0")/common.sh"
output="${2:-${OUTPUT:-extended.mp4}}"

$gst_launch grokimaginesrc "${grokimagine[@]}" operation="${OPERATION:-extend}" \
  video="$input" ! filesink location="$output"
echo "Wrote $output"
