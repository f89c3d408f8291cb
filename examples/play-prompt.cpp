// SPDX-License-Identifier: LGPL-2.1-or-later
// Generates a clip from a prompt and plays it, linking grokimaginevideosrc's
// pads as they appear and printing the job's progress from the bus.
//
//   SEGMIND_API_KEY=... play-prompt "A dog running on a sunlit beach" [api-url]
//
// VIDEO_SINK and AUDIO_SINK replace autovideosink and autoaudiosink (e.g.
// fakevideosink and fakeaudiosink without a display).
#include <gst/gst.h>

#include <cstdio>
#include <string>

static std::string branch_description(const char *convert, const char *variable,
                                      const char *fallback) {
  const char *sink = g_getenv(variable);
  return std::string("queue ! ") + convert + " ! " + (sink && *sink ? sink : fallback);
}

static void link_new_pad(GstElement *, GstPad *pad, GstElement *pipeline) {
  g_autofree gchar *name = gst_pad_get_name(pad);
  const bool video = g_str_has_prefix(name, "video_");
  g_autoptr(GError) error = nullptr;
  const std::string description =
      video ? branch_description("videoconvert", "VIDEO_SINK", "autovideosink")
            : branch_description("audioconvert", "AUDIO_SINK", "autoaudiosink");
  GstElement *branch = gst_parse_bin_from_description(description.c_str(), TRUE, &error);
  if (!branch) {
    g_printerr("%s\n", error->message);
    return;
  }
  gst_bin_add(GST_BIN(pipeline), branch);
  g_autoptr(GstPad) sink = gst_element_get_static_pad(branch, "sink");
  gst_pad_link(pad, sink);
  gst_element_sync_state_with_parent(branch);
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc < 2) {
    g_printerr("usage: %s PROMPT [API-URL]\n", argv[0]);
    return 2;
  }
  g_autoptr(GstElement) pipeline = gst_pipeline_new("play-prompt");
  GstElement *source = gst_element_factory_make("grokimaginevideosrc", nullptr);
  if (!source) {
    g_printerr("grokimaginevideosrc not found: set GST_PLUGIN_PATH to the build's gst/\n");
    return 1;
  }
  g_object_set(source, "prompt", argv[1], nullptr);
  if (argc > 2) g_object_set(source, "api-url", argv[2], nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  g_signal_connect(source, "pad-added", G_CALLBACK(link_new_pad), pipeline);

  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  int status = 0;
  for (bool done = false; !done;) {
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *job = gst_message_get_structure(message);
        if (!gst_structure_has_name(job, "grokimagine-job")) break;
        double elapsed = 0;
        gst_structure_get_double(job, "elapsed", &elapsed);
        std::printf("[%6.1f s] job %s: %s\n", elapsed, gst_structure_get_string(job, "request-id"),
                    gst_structure_get_string(job, "status"));
        break;
      }
      case GST_MESSAGE_ERROR: {
        g_autoptr(GError) error = nullptr;
        gst_message_parse_error(message, &error, nullptr);
        const GstStructure *details = nullptr;
        gst_message_parse_error_details(message, &details);
        const gchar *id = details ? gst_structure_get_string(details, "request-id") : nullptr;
        g_printerr("error: %s\n", error->message);
        if (id) g_printerr("resume with: request-id=%s\n", id);
        status = 1;
        done = true;
        break;
      }
      case GST_MESSAGE_EOS:
        done = true;
        break;
      default:
        break;
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return status;
}
