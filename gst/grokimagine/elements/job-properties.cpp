#include "job-properties.h"

#include <vector>

#include "core/providers/provider.h"

GType grok_imagine_provider_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    // GEnumValue arrays must outlive the type: built once, never freed.
    const auto &providers = grokimagine::all_providers();
    auto *values = new GEnumValue[providers.size() + 1]();
    for (size_t i = 0; i < providers.size(); i++)
      values[i] = {gint(i), providers[i]->name(), providers[i]->name()};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineProvider", values));
  }
  return type;
}

void grok_imagine_install_job_properties(GObjectClass *klass) {
  constexpr GParamFlags rw =
      GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_PROVIDER,
      g_param_spec_enum("provider", "Provider", "Which Grok Imagine API to use",
                        GROK_IMAGINE_TYPE_PROVIDER, 0, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "Model name (empty: the provider's default, grok-imagine-video)", nullptr,
                          rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_API_URL,
      g_param_spec_string("api-url", "API URL",
                          "Base URL of the provider's API (empty: the provider's own, "
                          "e.g. https://api.segmind.com)",
                          nullptr, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_API_KEY,
      g_param_spec_string(
          "api-key", "API key",
          "API key (write-only; empty: from the provider's environment "
          "variable, e.g. SEGMIND_API_KEY). Sent only to the API host",
          nullptr,
          GParamFlags(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_PROMPT,
      g_param_spec_string("prompt", "Prompt",
                          "What to generate: subject, motion, camera, style and sound "
                          "(required for text-to-video)",
                          nullptr, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_IMAGE,
      g_param_spec_string("image", "Image",
                          "First frame for image-to-video: an http(s) URL, a data: URI, a "
                          "local path or a file:// URI (local files are sent inline)",
                          nullptr, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_DURATION,
      g_param_spec_int("duration", "Duration", "Clip length in seconds (segmind: 1 to 15)", 1, 30,
                       GROK_IMAGINE_DEFAULT_DURATION, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_RESOLUTION,
      g_param_spec_string("resolution", "Resolution", "Output resolution: 480p, 720p or 1080p",
                          GROK_IMAGINE_DEFAULT_RESOLUTION, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_ASPECT_RATIO,
      g_param_spec_string("aspect-ratio", "Aspect ratio",
                          "Frame shape: 16:9, 9:16, 1:1, 4:3, 3:4, 3:2 or 2:3 (ignored for "
                          "image-to-video by some providers)",
                          GROK_IMAGINE_DEFAULT_ASPECT_RATIO, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_POLL_INTERVAL,
      g_param_spec_uint("poll-interval", "Poll interval",
                        "Milliseconds between two status requests", 10, 600000,
                        GROK_IMAGINE_DEFAULT_POLL_INTERVAL_MS, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_TIMEOUT,
      g_param_spec_uint("timeout", "Timeout",
                        "Overall deadline in seconds from submit to the video URL; the job "
                        "can be resumed with request-id after it",
                        1, 7 * 24 * 3600, GROK_IMAGINE_DEFAULT_TIMEOUT_S, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_REQUEST_ID,
      g_param_spec_string("request-id", "Request id",
                          "The provider's id of the job, readable once submitted; set it "
                          "before starting to resume that job without submitting a new one",
                          nullptr, rw));
  g_object_class_install_property(
      klass, GROK_IMAGINE_PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Also keep the downloaded MP4 at this path (written whole or not at "
                          "all)",
                          nullptr, rw));
}
