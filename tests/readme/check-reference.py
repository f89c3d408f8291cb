#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference says what the plugin has: every property gst-inspect shows
(docs/gst_plugins_cache.json, which the plugins-cache test keeps equal to
the built plugin) and every debug category the sources register.

  check-reference.py PLUGINS_CACHE REFERENCE_MD SOURCE_DIR

- grokimaginesrc's and grokimaginevideosrc's properties are each a row of
  the table under "## Properties (video elements)", and every row there is
  one of their properties;
- grokimagineimagesrc's and grokimaginechannel's own properties are named
  (`name`) in the reference;
- each GST_DEBUG_CATEGORY_INIT name is a row of the debug logging table.
"""
import json
import os
import re
import sys

cache_path, reference_path, source_dir = sys.argv[1:4]
with open(cache_path) as f:
    elements = json.load(f)["grokimagine"]["elements"]
with open(reference_path, encoding="utf-8") as f:
    reference = f.read()
problems = []


def section(title):
    start = reference.index(title)
    following = reference.find("\n## ", start + len(title))
    return reference[start:following if following >= 0 else len(reference)]


def table_names(text):
    return set(re.findall(r"^\| `([a-z0-9-]+)`", text, re.M))


video_properties = set(elements["grokimaginesrc"]["properties"]) | set(
    elements["grokimaginevideosrc"]["properties"])
rows = table_names(section("## Properties (video elements)"))
for name in sorted(video_properties - rows):
    problems.append(f"property '{name}' of the video elements has no row in the properties table")
for name in sorted(rows - video_properties):
    problems.append(f"the properties table has a row for '{name}', which no video element has")

for element in ("grokimagineimagesrc", "grokimaginechannel"):
    for name in sorted(set(elements[element]["properties"]) - video_properties):
        if f"`{name}`" not in reference:
            problems.append(f"property '{name}' of {element} is not in the reference")

debug_table = section("## Debug logging")
for root, _, files in os.walk(source_dir):
    for file in files:
        if file.endswith(".cpp"):
            with open(os.path.join(root, file), encoding="utf-8") as f:
                for name in re.findall(r'GST_DEBUG_CATEGORY_INIT\(\s*\w+,\s*"([^"]+)"', f.read()):
                    if f"`{name}`" not in debug_table:
                        problems.append(f"debug category '{name}' ({file}) is not in the debug table")

for problem in problems:
    print(problem)
print(f"{len(problems)} problems" if problems else "the reference names every property and category")
sys.exit(1 if problems else 0)
