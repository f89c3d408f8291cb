#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads prompts from standard input, one a line, and renders them as one MP4.

Each line becomes a clip of a grokimaginechannel, queued the moment it is
read (the text pad, fed by an appsrc); the end of input ends the channel
after its last clip. Lines that arrive while a clip plays are generated
meanwhile (lookahead), so the clips follow each other without a seam.

    printf 'A dog on a beach\\nThe dog falls asleep\\n' | SEGMIND_API_KEY=... \\
        examples/channel-stdin.py story.mp4

Needs PyGObject (Debian: python3-gi gir1.2-gstreamer-1.0) and the plugin
(GST_PLUGIN_PATH=build/gst, or installed). Settings come from the same
GROKIMAGINE_* variables as the shell recipes; the key from the provider's
variable.
"""
import os
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def feed_prompts(appsrc):
    """Pushes each line of stdin as a text buffer, then EOS."""
    for line in sys.stdin:
        prompt = line.strip()
        if prompt:
            appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(prompt.encode("utf-8")))
    appsrc.emit("end-of-stream")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: channel-stdin.py OUTPUT.mp4 < prompts.txt")
    Gst.init(None)
    env = os.environ.get
    pipeline = Gst.parse_launch(
        "appsrc name=prompts caps=text/x-raw,format=utf8 format=time ! c.text "
        "grokimaginechannel name=c "
        "c.video ! queue ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux name=mux ! "
        "filesink name=out "
        "c.audio ! queue ! audioconvert ! avenc_aac ! aacparse ! mux.")
    channel = pipeline.get_by_name("c")
    Gst.util_set_object_arg(channel, "provider", env("GROKIMAGINE_PROVIDER", "auto"))
    channel.set_property("duration", int(env("GROKIMAGINE_DURATION", "6")))
    channel.set_property("resolution", env("GROKIMAGINE_RESOLUTION", "480p"))
    channel.set_property("aspect-ratio", env("GROKIMAGINE_ASPECT_RATIO", "16:9"))
    for name, variable in (("api-url", "GROKIMAGINE_API_URL"), ("model", "GROKIMAGINE_MODEL")):
        if env(variable):
            channel.set_property(name, env(variable))
    if env("GROKIMAGINE_POLL_INTERVAL"):
        channel.set_property("poll-interval", int(env("GROKIMAGINE_POLL_INTERVAL")))
    pipeline.get_by_name("out").set_property("location", sys.argv[1])

    loop = GLib.MainLoop()
    failed = []

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ELEMENT:
            info = message.get_structure()
            if info.get_name() == "grokimagine-clip":
                print("clip {}: {} (job {}) at {:.3f} s".format(
                    info.get_int("index")[1], info.get_string("prompt"),
                    info.get_string("request-id"), info.get_uint64("running-time")[1] / 1e9),
                    flush=True)
        elif message.type == Gst.MessageType.WARNING:
            print("warning: {}".format(message.parse_warning()[0].message), flush=True)
        elif message.type == Gst.MessageType.ERROR:
            failed.append(message.parse_error()[0].message)
            loop.quit()
        elif message.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    threading.Thread(target=feed_prompts, args=(pipeline.get_by_name("prompts"),),
                     daemon=True).start()
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if failed:
        sys.exit("error: " + failed[0])
    print("Wrote " + sys.argv[1])


if __name__ == "__main__":
    main()
