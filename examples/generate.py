#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generates a clip with grokimaginesrc and saves the provider's MP4.

Prints the job's grokimagine-job messages (request id, status, progress) as
they arrive. On an error, or on Ctrl-C once the job was submitted, prints the
request id; --request-id resumes that job without paying for a new one.

    SEGMIND_API_KEY=... examples/generate.py "A dog on a beach" dog.mp4
    examples/generate.py --request-id 1234-abcd "A dog on a beach" dog.mp4

Needs PyGObject (Debian: python3-gi gir1.2-gstreamer-1.0) and the plugin
(GST_PLUGIN_PATH=build/gst, or installed). Options default to the same
GROKIMAGINE_* variables as the shell recipes; the key comes from the
provider's variable (SEGMIND_API_KEY, XAI_API_KEY, AIMLAPI_KEY, REAPI_KEY).
"""
import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def parse_args():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt")
    parser.add_argument("output", nargs="?", default="clip.mp4")
    parser.add_argument("--provider", default=env("GROKIMAGINE_PROVIDER", "auto"),
                        help="auto, xai, segmind, aimlapi or reapi")
    parser.add_argument("--api-url", default=env("GROKIMAGINE_API_URL"))
    parser.add_argument("--model", default=env("GROKIMAGINE_MODEL"))
    parser.add_argument("--duration", type=int, default=int(env("GROKIMAGINE_DURATION", "6")))
    parser.add_argument("--resolution", default=env("GROKIMAGINE_RESOLUTION", "480p"))
    parser.add_argument("--aspect-ratio", default=env("GROKIMAGINE_ASPECT_RATIO", "16:9"))
    parser.add_argument("--poll-interval", type=int,
                        default=int(env("GROKIMAGINE_POLL_INTERVAL", "0")),
                        help="ms (0: the provider's schedule)")
    parser.add_argument("--request-id", help="resume this job instead of submitting one")
    return parser.parse_args()


def print_job(job):
    """One grokimagine-job message: the job's id and where it stands."""
    progress = job.get_int("progress")[1]
    print("[{:6.1f} s] {} {} job {}: {}{}".format(
        job.get_double("elapsed")[1], job.get_string("provider"), job.get_string("model"),
        job.get_string("request-id"), job.get_string("status"),
        " {}%".format(progress) if progress >= 0 else ""), flush=True)


def main():
    args = parse_args()
    Gst.init(None)

    source = Gst.ElementFactory.make("grokimaginesrc", None)
    if source is None:
        sys.exit("grokimaginesrc not found: set GST_PLUGIN_PATH to the build's gst/")
    # provider is an enum: set it from its name as gst-launch would.
    Gst.util_set_object_arg(source, "provider", args.provider)
    source.set_property("prompt", args.prompt)
    source.set_property("duration", args.duration)
    source.set_property("resolution", args.resolution)
    source.set_property("aspect-ratio", args.aspect_ratio)
    source.set_property("poll-interval", args.poll_interval)
    for name, value in (("api-url", args.api_url), ("model", args.model),
                        ("request-id", args.request_id)):
        if value:
            source.set_property(name, value)

    sink = Gst.ElementFactory.make("filesink", None)
    sink.set_property("location", args.output)
    pipeline = Gst.Pipeline.new("generate")
    pipeline.add(source)
    pipeline.add(sink)
    source.link(sink)

    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    status = 0
    request_id = args.request_id
    try:
        while True:
            # A bounded wait keeps Ctrl-C responsive.
            message = bus.timed_pop_filtered(
                100 * Gst.MSECOND,
                Gst.MessageType.ELEMENT | Gst.MessageType.PROGRESS | Gst.MessageType.EOS
                | Gst.MessageType.ERROR)
            if message is None:
                continue
            if message.type == Gst.MessageType.ELEMENT:
                job = message.get_structure()
                if job.has_name("grokimagine-job"):
                    request_id = job.get_string("request-id")
                    print_job(job)
            elif message.type == Gst.MessageType.PROGRESS:
                # Start, end and failure; the steps between are the job messages.
                kind, _, text = message.parse_progress()
                if kind != Gst.ProgressType.CONTINUE:
                    print("  {}".format(text), flush=True)
            elif message.type == Gst.MessageType.EOS:
                print("Wrote {} ({} bytes), request id {}".format(
                    args.output, os.path.getsize(args.output), request_id))
                break
            elif message.type == Gst.MessageType.ERROR:
                error, _ = message.parse_error()
                details = message.parse_error_details()
                if details is not None and details.get_string("request-id"):
                    request_id = details.get_string("request-id")
                print("error: {}".format(error.message), file=sys.stderr)
                if request_id:
                    print("resume with: --request-id {}".format(request_id), file=sys.stderr)
                status = 1
                break
    except KeyboardInterrupt:
        if request_id:
            print("\ninterrupted; resume with: --request-id {}".format(request_id),
                  file=sys.stderr)
        status = 130
    finally:
        pipeline.set_state(Gst.State.NULL)
    if status != 0 and os.path.exists(args.output):
        os.remove(args.output)  # half a clip is no clip
    return status


if __name__ == "__main__":
    sys.exit(main())
