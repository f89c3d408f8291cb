// SPDX-License-Identifier: LGPL-2.1-or-later
// Generates one clip per prompt and plays them one after another, printing
// each job's request id and progress from the bus. While a clip plays, the
// next one is already being generated, so the wait between clips is only
// what generation takes beyond the previous clip's length.
//
//   SEGMIND_API_KEY=... playlist "A dog on a beach" "A cat on a wall" "A fox in the snow"
//
// One pipeline per clip: grokimaginevideosrc with a video and an audio
// branch, linked when its pads appear. Going to PAUSED starts the job (the
// paid request); the pipeline prerolls once the clip is downloaded, and it
// is set to PLAYING when its turn comes.
//
// Environment, as for the shell recipes:
//   GROKIMAGINE_PROVIDER, GROKIMAGINE_API_URL, GROKIMAGINE_MODEL,
//   GROKIMAGINE_DURATION, GROKIMAGINE_RESOLUTION, GROKIMAGINE_ASPECT_RATIO,
//   GROKIMAGINE_POLL_INTERVAL   the element's properties (unset: its defaults)
//   VIDEO_SINK, AUDIO_SINK      sinks (default autovideosink, autoaudiosink),
//                               e.g. fakevideosink / fakeaudiosink without a display
// The key comes from the provider's variable (SEGMIND_API_KEY, XAI_API_KEY, ...).
//
// Exits 0 once every clip has played; on an error, prints it with the
// request id (resume that job with request-id=...) and exits 1.
#include <gst/gst.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Clip {
  std::string prompt;
  GstElement *pipeline = nullptr;
  std::string request_id;
  bool prerolled = false;
};

struct Playlist {
  std::vector<Clip> clips;
  size_t current = 0;  // the clip playing, or the next to play
  GMainLoop *loop = nullptr;
  int status = 0;
};

struct Watch {
  Playlist *playlist;
  size_t index;
};

const char *env_or(const char *name, const char *fallback) {
  const char *value = g_getenv(name);
  return value && *value ? value : fallback;
}

// "[2/3]": which clip a line is about.
std::string tag(const Playlist &playlist, size_t index) {
  return "[" + std::to_string(index + 1) + "/" + std::to_string(playlist.clips.size()) + "]";
}

// The job's properties from GROKIMAGINE_*, each parsed by its property's
// type (GROKIMAGINE_PROVIDER=xai, GROKIMAGINE_DURATION=10).
bool configure_source(GstElement *source, const std::string &prompt) {
  static const struct {
    const char *variable, *property;
  } settings[] = {
      {"GROKIMAGINE_PROVIDER", "provider"},
      {"GROKIMAGINE_API_URL", "api-url"},
      {"GROKIMAGINE_MODEL", "model"},
      {"GROKIMAGINE_DURATION", "duration"},
      {"GROKIMAGINE_RESOLUTION", "resolution"},
      {"GROKIMAGINE_ASPECT_RATIO", "aspect-ratio"},
      {"GROKIMAGINE_POLL_INTERVAL", "poll-interval"},
  };
  g_object_set(source, "prompt", prompt.c_str(), nullptr);
  for (const auto &setting : settings) {
    const char *value = env_or(setting.variable, nullptr);
    if (!value) continue;
    GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(source), setting.property);
    GValue parsed = G_VALUE_INIT;
    g_value_init(&parsed, pspec->value_type);
    const bool ok = gst_value_deserialize(&parsed, value);
    if (ok) g_object_set_property(G_OBJECT(source), setting.property, &parsed);
    g_value_unset(&parsed);
    if (!ok) {
      g_printerr("%s=%s is not a valid %s\n", setting.variable, value, setting.property);
      return false;
    }
  }
  return true;
}

// "queue ! videoconvert ! SINK" as one bin with a ghosted sink pad.
GstElement *make_branch(const char *convert, const char *sink, GError **error) {
  const std::string description = std::string("queue ! ") + convert + " ! " + sink;
  return gst_parse_bin_from_description(description.c_str(), TRUE, error);
}

void link_pad(GstElement *, GstPad *pad, GstElement *pipeline) {
  g_autofree gchar *name = gst_pad_get_name(pad);
  // video_0 / audio_0; a second stream of either kind is not played.
  const char *branch_name = g_str_equal(name, "video_0")   ? "video"
                            : g_str_equal(name, "audio_0") ? "audio"
                                                           : nullptr;
  if (!branch_name) return;
  g_autoptr(GstElement) branch = gst_bin_get_by_name(GST_BIN(pipeline), branch_name);
  g_autoptr(GstPad) sink = gst_element_get_static_pad(branch, "sink");
  if (gst_pad_link(pad, sink) != GST_PAD_LINK_OK) g_printerr("could not link %s\n", name);
}

gboolean on_message(GstBus *, GstMessage *message, gpointer data);

// Builds the clip's pipeline and sets it to PAUSED, which starts the job.
bool start_generation(Playlist &playlist, size_t index) {
  Clip &clip = playlist.clips[index];
  std::printf("%s generating: \"%s\"\n", tag(playlist, index).c_str(), clip.prompt.c_str());
  std::fflush(stdout);

  clip.pipeline = gst_pipeline_new(nullptr);
  GstElement *source = gst_element_factory_make("grokimaginevideosrc", nullptr);
  if (!source) {
    g_printerr("grokimaginevideosrc not found: set GST_PLUGIN_PATH to the build's gst/\n");
    return false;
  }
  gst_bin_add(GST_BIN(clip.pipeline), source);
  if (!configure_source(source, clip.prompt)) return false;

  // The branches exist before the pads do, so the pipeline prerolls (PAUSED
  // completes, ASYNC_DONE) only once both sinks hold the clip's first data.
  // (Every provider's clips have sound; a clip without would never preroll.)
  g_autoptr(GError) error = nullptr;
  GstElement *video = make_branch("videoconvert", env_or("VIDEO_SINK", "autovideosink"), &error);
  GstElement *audio = video ? make_branch("audioconvert ! audioresample",
                                          env_or("AUDIO_SINK", "autoaudiosink"), &error)
                            : nullptr;
  if (!video || !audio) {
    g_printerr("bad VIDEO_SINK or AUDIO_SINK: %s\n", error->message);
    if (video) gst_object_unref(video);
    return false;
  }
  gst_object_set_name(GST_OBJECT(video), "video");
  gst_object_set_name(GST_OBJECT(audio), "audio");
  gst_bin_add_many(GST_BIN(clip.pipeline), video, audio, nullptr);
  g_signal_connect(source, "pad-added", G_CALLBACK(link_pad), clip.pipeline);

  g_autoptr(GstBus) bus = gst_element_get_bus(clip.pipeline);
  gst_bus_add_watch_full(bus, G_PRIORITY_DEFAULT, on_message, new Watch{&playlist, index},
                         [](gpointer watch) { delete static_cast<Watch *>(watch); });
  if (gst_element_set_state(clip.pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    g_printerr("%s could not start the pipeline\n", tag(playlist, index).c_str());
    return false;
  }
  return true;
}

void stop(Playlist &playlist, int status) {
  playlist.status = status;
  g_main_loop_quit(playlist.loop);
}

// The current clip's turn: play it and start generating the next one.
void play_current(Playlist &playlist) {
  Clip &clip = playlist.clips[playlist.current];
  std::printf("%s playing (request %s)\n", tag(playlist, playlist.current).c_str(),
              clip.request_id.c_str());
  std::fflush(stdout);
  gst_element_set_state(clip.pipeline, GST_STATE_PLAYING);
  const size_t next = playlist.current + 1;
  if (next < playlist.clips.size() && !playlist.clips[next].pipeline &&
      !start_generation(playlist, next))
    stop(playlist, 1);
}

void print_job(const Playlist &playlist, size_t index, Clip &clip, const GstStructure *job) {
  const gchar *id = gst_structure_get_string(job, "request-id");
  if (id) clip.request_id = id;
  const gchar *status = gst_structure_get_string(job, "status");
  double elapsed = 0;
  gst_structure_get_double(job, "elapsed", &elapsed);
  gint progress = -1;
  gst_structure_get_int(job, "progress", &progress);
  const gchar *provider = gst_structure_get_string(job, "provider");
  const gchar *model = gst_structure_get_string(job, "model");
  std::printf("%s job %s (%s, %s): %s", tag(playlist, index).c_str(), id ? id : "?",
              provider ? provider : "?", model ? model : "?", status ? status : "?");
  if (progress >= 0) std::printf(" %d%%", progress);
  std::printf(" after %.1f s\n", elapsed);
  std::fflush(stdout);
}

gboolean on_message(GstBus *, GstMessage *message, gpointer data) {
  auto *watch = static_cast<Watch *>(data);
  Playlist &playlist = *watch->playlist;
  const size_t index = watch->index;
  Clip &clip = playlist.clips[index];

  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *job = gst_message_get_structure(message);
      if (gst_structure_has_name(job, "grokimagine-job")) print_job(playlist, index, clip, job);
      break;
    }
    case GST_MESSAGE_PROGRESS: {
      // Start, end and failure; the steps between are the job messages.
      GstProgressType type;
      g_autofree gchar *code = nullptr;
      g_autofree gchar *text = nullptr;
      gst_message_parse_progress(message, &type, &code, &text);
      if (type != GST_PROGRESS_TYPE_CONTINUE) {
        std::printf("%s %s\n", tag(playlist, index).c_str(), text);
        std::fflush(stdout);
      }
      break;
    }
    case GST_MESSAGE_ASYNC_DONE:
      // Prerolled: the clip is downloaded and its first frame is waiting.
      if (GST_MESSAGE_SRC(message) != GST_OBJECT(clip.pipeline) || clip.prerolled) break;
      clip.prerolled = true;
      if (index == playlist.current) play_current(playlist);
      break;
    case GST_MESSAGE_EOS:
      if (index != playlist.current) break;
      std::printf("%s finished\n", tag(playlist, index).c_str());
      std::fflush(stdout);
      gst_element_set_state(clip.pipeline, GST_STATE_NULL);
      if (++playlist.current == playlist.clips.size()) {
        stop(playlist, 0);
      } else if (playlist.clips[playlist.current].prerolled) {
        play_current(playlist);
      } else {
        std::printf("%s still generating\n", tag(playlist, playlist.current).c_str());
        std::fflush(stdout);
      }
      break;
    case GST_MESSAGE_ERROR: {
      g_autoptr(GError) error = nullptr;
      g_autofree gchar *debug = nullptr;
      gst_message_parse_error(message, &error, &debug);
      const GstStructure *details = nullptr;
      gst_message_parse_error_details(message, &details);
      const gchar *id = details ? gst_structure_get_string(details, "request-id") : nullptr;
      if (!id && !clip.request_id.empty()) id = clip.request_id.c_str();
      g_printerr("%s error: %s\n", tag(playlist, index).c_str(), error->message);
      if (id)
        g_printerr("%s resume with: request-id=%s\n", tag(playlist, index).c_str(), id);
      else
        g_printerr("%s no job was submitted\n", tag(playlist, index).c_str());
      stop(playlist, 1);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc < 2) {
    g_printerr("usage: %s PROMPT [PROMPT...]\n", argv[0]);
    return 2;
  }
  Playlist playlist;
  for (int i = 1; i < argc; ++i) playlist.clips.push_back(Clip{argv[i]});
  playlist.loop = g_main_loop_new(nullptr, FALSE);

  if (start_generation(playlist, 0))
    g_main_loop_run(playlist.loop);
  else
    playlist.status = 1;

  for (Clip &clip : playlist.clips) {
    if (!clip.pipeline) continue;
    gst_element_set_state(clip.pipeline, GST_STATE_NULL);
    g_autoptr(GstBus) bus = gst_element_get_bus(clip.pipeline);
    gst_bus_remove_watch(bus);
    gst_object_unref(clip.pipeline);
  }
  g_main_loop_unref(playlist.loop);
  if (playlist.status == 0) std::printf("played %zu clips\n", playlist.clips.size());
  return playlist.status;
}
