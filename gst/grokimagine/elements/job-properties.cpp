// SPDX-License-Identifier: LGPL-2.1-or-later
#include "job-properties.h"

#include "element-errors.h"
#include "unchecked-param.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/providers/provider.h"

using grokimagine::JobSettings;
using grokimagine::MediaKind;

GType grok_imagine_provider_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    // GEnumValue arrays must outlive the type: built once, never freed.
    const auto &providers = grokimagine::all_providers();
    auto *values = new GEnumValue[providers.size() + 2]();
    values[0] = {0,
                 "The provider whose API key is in the environment (an error when none or "
                 "several are set)",
                 "auto"};
    for (size_t i = 0; i < providers.size(); i++) {
      // Static strings for the type system: built once per provider, never freed.
      gchar *description =
          g_strdup_printf("%s (%s, key from %s)", providers[i]->name(),
                          providers[i]->default_api_url(), providers[i]->key_env());
      values[i + 1] = {gint(i + 1), description, providers[i]->name()};
    }
    g_once_init_leave(&type, g_enum_register_static("GrokImagineProvider", values));
  }
  return type;
}

GType grok_imagine_reuse_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {int(grokimagine::Reuse::Unfinished),
         "Follow a job of the same description that was submitted but never delivered",
         "unfinished"},
        {int(grokimagine::Reuse::Always),
         "Also replay a delivered clip of the same description from the cache, with no network",
         "always"},
        {int(grokimagine::Reuse::Never), "Always a new take (still recorded in the journal)",
         "never"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineReuse", values));
  }
  return type;
}

GType grok_imagine_on_moderation_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {1, "The next of fallback-providers makes the clip", "fallback"},
        {0, "The job fails (reason moderated); a channel skips the clip", "fail"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineOnModeration", values));
  }
  return type;
}

GType grok_imagine_operation_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {int(grokimagine::Operation::Generate), "A new clip from the prompt (and images)",
         "generate"},
        {int(grokimagine::Operation::Extend),
         "Make 'video' longer: the result is the input followed by its continuation (xai)",
         "extend"},
        {int(grokimagine::Operation::Edit), "Restyle 'video' as the prompt says (xai)", "edit"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineOperation", values));
  }
  return type;
}

GType grok_imagine_output_get_type(void) {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {0, "The whole result (an extension: the input, then the new seconds)", "full"},
        {1, "Only the new seconds of an extension (grokimaginevideosrc)", "continuation"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineOutput", values));
  }
  return type;
}

// A GstValueArray of strings property (reference-images, fallback-providers).
static std::vector<std::string> strings_of_array(const GValue *value) {
  std::vector<std::string> strings;
  for (guint i = 0; i < gst_value_array_get_size(value); i++) {
    const GValue *item = gst_value_array_get_value(value, i);
    if (G_VALUE_HOLDS_STRING(item) && g_value_get_string(item))
      strings.push_back(g_value_get_string(item));
  }
  return strings;
}

static void set_array_of_strings(GValue *value, const std::vector<std::string> &strings) {
  for (const auto &string : strings) {
    GValue item = G_VALUE_INIT;
    g_value_init(&item, G_TYPE_STRING);
    g_value_set_string(&item, string.c_str());
    gst_value_array_append_and_take_value(value, &item);
  }
}

JobSettings grok_imagine_default_settings(MediaKind kind) {
  JobSettings settings;
  settings.request.kind = kind;
  if (kind == MediaKind::Image) {
    settings.request.resolution = "1k";
    settings.request.aspect_ratio = "1:1";
  }
  return settings;
}

// The blurbs that name the providers' durations, from the provider table
// (G_PARAM_STATIC_STRINGS: made once, kept for the process).
static const char *duration_blurb() {
  static const std::string blurb = "Clip length in seconds (" +
                                   grokimagine::describe_durations(grokimagine::duration_ranges()) +
                                   "; the provider refuses others before anything is sent); "
                                   "with operation=extend, the seconds added (2 to 10)";
  return blurb.c_str();
}

// The first provider's aspect ratios, then those of each provider whose
// differ.
static const char *frame_shape_blurb() {
  static const std::string blurb = [] {
    const auto all = grokimagine::default_video_limits();
    const auto &first = all.front().limits.aspect_ratios;
    std::string text = "Frame shape: " + grokimagine::listed(first);
    for (const auto &[provider, limits] : all)
      if (limits.aspect_ratios != first)
        text += std::string(" (") + provider->name() + ": " +
                grokimagine::listed(limits.aspect_ratios, ", ") + ")";
    return text;
  }();
  return blurb.c_str();
}

static const char *reference_images_blurb() {
  static const std::string blurb = [] {
    size_t most = 0;
    for (const auto &[provider, limits] : grokimagine::default_video_limits())
      most = std::max(most, limits.max_references);
    return "Up to " + std::to_string(most) + " images guiding subject and style (" +
           grokimagine::providers_that(
               [](const grokimagine::VideoLimits &limits) { return limits.max_references > 0; },
               ", ") +
           "), e.g. \"<a.jpg,https://b/c.png>\"";
  }();
  return blurb.c_str();
}

// The ranges besides the first (the most providers'), which a fallback
// provider may have to adapt a job's duration to.
static const char *fallback_adapt_blurb() {
  static const std::string blurb = [] {
    auto ranges = grokimagine::duration_ranges();
    ranges.erase(ranges.begin());
    return "A fallback provider that cannot make the job's duration makes the nearest it can (" +
           grokimagine::describe_durations(ranges, " s") + ") instead of being left out";
  }();
  return blurb.c_str();
}

void grok_imagine_install_job_properties(GObjectClass *klass, MediaKind kind,
                                         GrokImagineJobScope scope) {
  // A channel's properties are each clip's defaults: what names one clip
  // (its prompt, its request id, where it is kept) is not among them.
  auto install = [klass, scope](guint prop_id, GParamSpec *pspec) {
    // Nor what the channel decides for each clip through `continuity`
    // (generate, or extend the clip before: operation, video, output), or
    // images pinned at times of one clip (keyframes).
    if (scope == GROK_IMAGINE_EACH_CLIP &&
        (prop_id == GROK_IMAGINE_PROP_PROMPT || prop_id == GROK_IMAGINE_PROP_REQUEST_ID ||
         prop_id == GROK_IMAGINE_PROP_LOCATION || prop_id == GROK_IMAGINE_PROP_OPERATION ||
         prop_id == GROK_IMAGINE_PROP_VIDEO || prop_id == GROK_IMAGINE_PROP_OUTPUT ||
         prop_id == GROK_IMAGINE_PROP_KEYFRAMES)) {
      g_param_spec_unref(g_param_spec_ref_sink(pspec));
      return;
    }
    g_object_class_install_property(klass, prop_id, pspec);
  };
  constexpr GParamFlags rw =
      GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  gst_type_mark_as_plugin_api(GROK_IMAGINE_TYPE_PROVIDER, GstPluginAPIFlags(0));
  gst_type_mark_as_plugin_api(GROK_IMAGINE_TYPE_REUSE, GstPluginAPIFlags(0));
  if (kind == MediaKind::Video) {
    gst_type_mark_as_plugin_api(GROK_IMAGINE_TYPE_OPERATION, GstPluginAPIFlags(0));
    gst_type_mark_as_plugin_api(GROK_IMAGINE_TYPE_OUTPUT, GstPluginAPIFlags(0));
    gst_type_mark_as_plugin_api(GROK_IMAGINE_TYPE_ON_MODERATION, GstPluginAPIFlags(0));
  }
  const JobSettings defaults = grok_imagine_default_settings(kind);
  const bool video = kind == MediaKind::Video;
  install(
      GROK_IMAGINE_PROP_PROVIDER,
      g_param_spec_enum("provider", "Provider",
                        video ? "Which Grok Imagine API to use; auto picks the one whose key is "
                                "in the environment (XAI_API_KEY, SEGMIND_API_KEY, AIMLAPI_KEY, "
                                "REAPI_KEY)"
                              : "Which Grok Imagine API to use (images: xai or segmind); auto "
                                "picks the one whose key is in the environment",
                        GROK_IMAGINE_TYPE_PROVIDER, 0, rw));
  install(GROK_IMAGINE_PROP_MODEL,
          g_param_spec_string("model", "Model",
                              "Model name (unset or empty: the provider's default)", nullptr, rw));
  install(GROK_IMAGINE_PROP_API_URL,
          g_param_spec_string(
              "api-url", "API URL",
              "Base URL of the provider's API (unset or empty: GROKIMAGINE_<PROVIDER>_API_URL "
              "from the environment, else the provider's own, e.g. https://api.x.ai/v1)",
              nullptr, rw));
  install(GROK_IMAGINE_PROP_API_KEY,
          g_param_spec_string(
              "api-key", "API key",
              "API key (write-only; empty: from the provider's environment "
              "variable). Sent only to the API host",
              nullptr,
              GParamFlags(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  install(GROK_IMAGINE_PROP_PROMPT,
          g_param_spec_string("prompt", "Prompt",
                              video ? "What to generate: subject, motion, camera, style and sound "
                                      "(required for text-to-video)"
                                    : "What to draw, or the edit to apply to 'image' (required)",
                              nullptr, rw));
  install(
      GROK_IMAGINE_PROP_IMAGE,
      g_param_spec_string("image", "Image",
                          video ? "First frame for image-to-video: an http(s) URL, a data: URI, a "
                                  "local path or a file:// URI (local files are sent inline "
                                  "where the provider allows)"
                                : "Image to edit (segmind): an http(s) URL, a data: URI, a local "
                                  "path or a file:// URI",
                          nullptr, rw));
  install(GROK_IMAGINE_PROP_RESOLUTION,
          g_param_spec_string("resolution", "Resolution",
                              video ? "Output resolution: 480p, 720p or 1080p (what each provider "
                                      "allows varies)"
                                    : "Output resolution: 1k or 2k",
                              defaults.request.resolution.c_str(), rw));
  install(GROK_IMAGINE_PROP_ASPECT_RATIO,
          g_param_spec_string("aspect-ratio", "Aspect ratio",
                              video ? frame_shape_blurb()
                                    : "Image shape: 1:1, 16:9, 9:16, 4:3, 3:4, 3:2, 2:3 (segmind "
                                      "also 9:19.5, 19.5:9, 9:20, 20:9, 1:2, 2:1, auto)",
                              defaults.request.aspect_ratio.c_str(), rw));
  install(GROK_IMAGINE_PROP_POLL_INTERVAL,
          grok_imagine_param_spec_uint(
              "poll-interval", "Poll interval",
              "Milliseconds between two status requests (100 to 600000); 0 follows the provider: "
              "by reported progress (xai), every 5 s then backing off (reapi), or "
              "from 1 s growing to 5 s. All jobs of one key share the provider's "
              "rate limit (xai: 1 request/s)",
              0, 600000, guint(defaults.timing.poll_interval.count()), rw));
  install(GROK_IMAGINE_PROP_TIMEOUT,
          grok_imagine_param_spec_uint(
              "timeout", "Timeout",
              "Overall deadline in seconds from submit to the result; the job can be "
              "resumed with request-id after it (1 to 604800)",
              1, 604800, guint(defaults.timing.timeout.count()), rw));
  install(GROK_IMAGINE_PROP_REQUEST_ID,
          g_param_spec_string("request-id", "Request id",
                              "The provider's id of the job, readable once submitted; set it "
                              "before starting to resume that job without submitting a new one",
                              nullptr, rw));
  install(GROK_IMAGINE_PROP_REQUEST_TIMEOUT,
          grok_imagine_param_spec_uint(
              "request-timeout", "Request timeout",
              "Seconds one API request may take, answer included, before it counts "
              "as failed (and is retried where that is safe); a download making no "
              "progress for this long is cut (1 to 3600)",
              1, 3600, guint(defaults.timing.request_timeout.count()), rw));
  install(GROK_IMAGINE_PROP_RETRIES,
          grok_imagine_param_spec_uint(
              "retries", "Retries",
              "How many times a request that failed for a passing reason (429, 5xx, "
              "network) is tried again within the timeout; a submit is repeated only "
              "where the provider cannot have accepted it (0 to 20)",
              0, 20, guint(defaults.timing.max_attempts - 1), rw));
  install(GROK_IMAGINE_PROP_RETRY_BACKOFF,
          grok_imagine_param_spec_uint(
              "retry-backoff", "Retry backoff",
              "Milliseconds before the first retry; doubled each time (with jitter, "
              "capped at 30 s), unless the server says Retry-After (10 to 60000)",
              10, 60000, guint(defaults.timing.retry_backoff.count()), rw));
  install(GROK_IMAGINE_PROP_ALLOW_INSECURE_HTTP,
          g_param_spec_boolean("allow-insecure-http", "Allow insecure HTTP",
                               "Send the API key over plain http to a host that is not loopback "
                               "(it would travel unencrypted)",
                               FALSE, rw));
  install(GROK_IMAGINE_PROP_JOURNAL,
          g_param_spec_string(
              "journal", "Journal",
              "Directory of the job journal, which makes running the same job twice cost one job "
              "(unset: GROKIMAGINE_JOURNAL, else $XDG_STATE_HOME/grokimagine; empty: no journal)",
              nullptr, rw));
  install(GROK_IMAGINE_PROP_STORE,
          g_param_spec_string(
              "store", "Store",
              "Where the journal's entries live when machines share one key: a PostgreSQL "
              "connection string or postgresql:// URI (write-only: it may hold a password; unset: "
              "GROKIMAGINE_STORE; empty: the journal directory). Delivered clips stay in the "
              "journal directory",
              nullptr,
              GParamFlags(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  install(GROK_IMAGINE_PROP_REUSE,
          g_param_spec_enum("reuse", "Reuse",
                            "What a journal entry of the same description is good for: follow an "
                            "unfinished job, also replay a delivered clip (always), or nothing "
                            "(never)",
                            GROK_IMAGINE_TYPE_REUSE, int(defaults.reuse), rw));
  install(GROK_IMAGINE_PROP_BUDGET,
          grok_imagine_param_spec_double(
              "budget", "Budget",
              "US dollars this element may spend (0: no limit); a job whose estimated cost would "
              "pass it is refused before it is submitted",
              0, INFINITY, defaults.budget_usd, rw));
  install(GROK_IMAGINE_PROP_BUDGET_SCOPE,
          g_param_spec_string("budget-scope", "Budget scope",
                              "A name (e.g. team, channel-7) whose 'budget' every machine using "
                              "the same store shares: each job reserves its estimated cost there "
                              "as it is claimed and is refused when the scope would pass the "
                              "budget (empty: the budget is this element's)",
                              nullptr, rw));
  install(GROK_IMAGINE_PROP_PRICES,
          g_param_spec_string("prices", "Prices",
                              "A price file: lines of 'provider model resolution usd-per-second "
                              "[usd-per-input-image]' (unset: GROKIMAGINE_PRICES; xai's published "
                              "prices are built in)",
                              nullptr, rw));
  install(GROK_IMAGINE_PROP_SPENT_USD,
          g_param_spec_double("spent-usd", "Spent (USD)",
                              "What this element's jobs have cost so far: the provider's figure "
                              "where it reports one, else the price table's estimate",
                              0, G_MAXDOUBLE, 0,
                              GParamFlags(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  install(GROK_IMAGINE_PROP_FALLBACK_PROVIDERS,
          gst_param_spec_array(
              "fallback-providers", "Fallback providers",
              "Providers tried in order after 'provider' for a job that cannot be had from it "
              "(refused before any job existed: credit, key, the request, rate limits or the "
              "network; or the job failed or was moderated), never after a submit whose fate "
              "is unknown; each with its key and GROKIMAGINE_<PROVIDER>_API_URL from the "
              "environment, e.g. \"<segmind,aimlapi>\" (one without a key or that cannot take "
              "the job is left out, said at start)",
              g_param_spec_string("provider", "Provider", "A provider's name", nullptr,
                                  G_PARAM_READWRITE),
              rw));
  install(GROK_IMAGINE_PROP_FAILOVER_COOLDOWN,
          g_param_spec_uint("failover-cooldown", "Failover cool-down",
                            "Seconds a provider that failed a job is skipped for the next jobs "
                            "with fallback providers, in the whole process (0: never skipped)",
                            0, G_MAXUINT, guint(defaults.failover_cooldown.count()), rw));
  install(
      GROK_IMAGINE_PROP_FALLBACK_ADAPT,
      g_param_spec_boolean("fallback-adapt", "Fallback adapt", fallback_adapt_blurb(), FALSE, rw));
  install(GROK_IMAGINE_PROP_ON_MODERATION,
          g_param_spec_enum("on-moderation", "On moderation",
                            "What a moderated job does with fallback-providers set: move on to "
                            "the next provider, or fail (a channel skips the clip)",
                            GROK_IMAGINE_TYPE_ON_MODERATION,
                            defaults.fallback_on_moderation ? 1 : 0, rw));
  if (video) {
    install(GROK_IMAGINE_PROP_CACHE_SIZE,
            g_param_spec_uint64("cache-size", "Cache size",
                                "Bytes of delivered clips kept beside the journal for reuse=always "
                                "(least recently used evicted)",
                                0, G_MAXUINT64, defaults.cache_size, rw));
    install(GROK_IMAGINE_PROP_MAX_SIZE,
            g_param_spec_uint64("max-size", "Maximum size",
                                "Largest clip accepted from the network, in bytes (0: no limit)", 0,
                                G_MAXUINT64, defaults.max_size, rw));
    install(GROK_IMAGINE_PROP_DURATION,
            grok_imagine_param_spec_int("duration", "Duration", duration_blurb(), 1, 30,
                                        defaults.request.duration, rw));
    install(GROK_IMAGINE_PROP_REFERENCE_IMAGES,
            gst_param_spec_array("reference-images", "Reference images", reference_images_blurb(),
                                 g_param_spec_string("image", "Image", "Image URI or path", nullptr,
                                                     G_PARAM_READWRITE),
                                 rw));
    install(
        GROK_IMAGINE_PROP_OPERATION,
        g_param_spec_enum("operation", "Operation",
                          "generate a new clip, extend 'video' (2 to 15 s; duration 2 to 10 "
                          "new seconds) or edit (restyle) 'video' (at most 8.7 s); extend "
                          "and edit are xai's",
                          GROK_IMAGINE_TYPE_OPERATION, int(grokimagine::Operation::Generate), rw));
    install(GROK_IMAGINE_PROP_VIDEO,
            g_param_spec_string(
                "video", "Video",
                "Input video of operation=extend or edit: an http(s) URL, a local MP4 (path "
                "or file:// URI; its length is checked before sending, large files go to "
                "xai's Files API), or request:ID for the result of an earlier job of the "
                "same key",
                nullptr, rw));
    install(GROK_IMAGINE_PROP_OUTPUT,
            g_param_spec_enum("output", "Output",
                              "What an extension plays: full (the input, then the new "
                              "seconds) or continuation (only the new seconds; "
                              "grokimaginevideosrc with decode=true)",
                              GROK_IMAGINE_TYPE_OUTPUT, 0, rw));
    install(
        GROK_IMAGINE_PROP_KEYFRAMES,
        gst_param_spec_array(
            "keyframes", "Keyframes",
            "Up to 4 images pinned at times in the clip (xai), each TIME:IMAGE with "
            "TIME in seconds, e.g. \"<0:first.png,4.5:https://host/mid.png>\"",
            g_param_spec_string("keyframe", "Keyframe", "TIME:IMAGE", nullptr, G_PARAM_READWRITE),
            rw));
    install(
        GROK_IMAGINE_PROP_REFERENCE_AUDIOS,
        gst_param_spec_array(
            "reference-audios", "Reference audios",
            "Up to 3 audio files (each at most 15 s) guiding the sound (xai with "
            "grok-imagine-video-1.5): http(s) URLs or local files, e.g. \"<voice.mp3>\"",
            g_param_spec_string("audio", "Audio", "Audio URI or path", nullptr, G_PARAM_READWRITE),
            rw));
    install(GROK_IMAGINE_PROP_GENERATE_AUDIO,
            g_param_spec_boolean("generate-audio", "Generate audio",
                                 "Make a sound track; false (xai) makes a silent clip, and "
                                 "grokimaginevideosrc then exposes no audio pad",
                                 TRUE, rw));
    install(
        GROK_IMAGINE_PROP_LOCATION,
        g_param_spec_string("location", "Location",
                            "Also keep the downloaded MP4 at this path (written whole or not at "
                            "all)",
                            nullptr, rw));
  } else {
    install(GROK_IMAGINE_PROP_N,
            grok_imagine_param_spec_int(
                "n", "Count", "How many images to generate (segmind: 1 to 4; xai: 1 to 10)", 1, 10,
                defaults.request.count, rw));
    install(
        GROK_IMAGINE_PROP_OUTPUT_FORMAT,
        g_param_spec_string("output-format", "Output format",
                            "Image format to request from segmind: jpeg, png or webp (xai always "
                            "sends jpeg; the caps follow what arrives)",
                            defaults.request.output_format.c_str(), rw));
    install(GROK_IMAGINE_PROP_MODE,
            g_param_spec_string("mode", "Mode",
                                "Segmind generation mode: standard or quality; other providers "
                                "ignore it",
                                defaults.request.mode.c_str(), rw));
  }
}

static std::string string_or_empty(const GValue *value) {
  const gchar *text = g_value_get_string(value);
  return text ? text : "";
}

// Whether a property describes the job (what is generated), as opposed to
// how it is run: changing one makes another job.
bool grok_imagine_describes_job(guint prop_id) {
  switch (prop_id) {
    case GROK_IMAGINE_PROP_PROVIDER:
    case GROK_IMAGINE_PROP_MODEL:
    case GROK_IMAGINE_PROP_PROMPT:
    case GROK_IMAGINE_PROP_IMAGE:
    case GROK_IMAGINE_PROP_RESOLUTION:
    case GROK_IMAGINE_PROP_ASPECT_RATIO:
    case GROK_IMAGINE_PROP_DURATION:
    case GROK_IMAGINE_PROP_REFERENCE_IMAGES:
    case GROK_IMAGINE_PROP_OPERATION:
    case GROK_IMAGINE_PROP_VIDEO:
    case GROK_IMAGINE_PROP_OUTPUT:
    case GROK_IMAGINE_PROP_KEYFRAMES:
    case GROK_IMAGINE_PROP_REFERENCE_AUDIOS:
    case GROK_IMAGINE_PROP_GENERATE_AUDIO:
    case GROK_IMAGINE_PROP_N:
    case GROK_IMAGINE_PROP_OUTPUT_FORMAT:
    case GROK_IMAGINE_PROP_MODE:
      return true;
    default:
      return false;
  }
}

bool grok_imagine_set_job_property(JobSettings &s, guint prop_id, const GValue *value) {
  switch (prop_id) {
    case GROK_IMAGINE_PROP_PROVIDER: {
      gint index = g_value_get_enum(value);
      s.provider = index == 0 ? "auto" : grokimagine::all_providers()[index - 1]->name();
      break;
    }
    case GROK_IMAGINE_PROP_MODEL:
      s.request.model = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_API_URL:
      s.api_url = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_API_KEY:
      s.api_key = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_PROMPT:
      s.request.prompt = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_IMAGE:
      s.request.image = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_RESOLUTION:
      s.request.resolution = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_ASPECT_RATIO:
      s.request.aspect_ratio = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_POLL_INTERVAL:
      s.timing.poll_interval = std::chrono::milliseconds(g_value_get_uint(value));
      break;
    case GROK_IMAGINE_PROP_TIMEOUT:
      s.timing.timeout = std::chrono::seconds(g_value_get_uint(value));
      break;
    case GROK_IMAGINE_PROP_REQUEST_ID:
      s.request_id = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_REQUEST_TIMEOUT:
      s.timing.request_timeout = std::chrono::seconds(g_value_get_uint(value));
      break;
    case GROK_IMAGINE_PROP_RETRIES:
      s.timing.max_attempts = int(g_value_get_uint(value)) + 1;
      break;
    case GROK_IMAGINE_PROP_RETRY_BACKOFF:
      s.timing.retry_backoff = std::chrono::milliseconds(g_value_get_uint(value));
      break;
    case GROK_IMAGINE_PROP_ALLOW_INSECURE_HTTP:
      s.allow_insecure_http = g_value_get_boolean(value);
      break;
    case GROK_IMAGINE_PROP_MAX_SIZE:
      s.max_size = g_value_get_uint64(value);
      break;
    case GROK_IMAGINE_PROP_JOURNAL:
      s.journal = g_value_get_string(value) ? std::optional<std::string>(g_value_get_string(value))
                                            : std::nullopt;
      break;
    case GROK_IMAGINE_PROP_STORE:
      s.store = g_value_get_string(value) ? std::optional<std::string>(g_value_get_string(value))
                                          : std::nullopt;
      break;
    case GROK_IMAGINE_PROP_REUSE:
      s.reuse = grokimagine::Reuse(g_value_get_enum(value));
      break;
    case GROK_IMAGINE_PROP_BUDGET_SCOPE:
      s.budget_scope = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case GROK_IMAGINE_PROP_BUDGET:
      s.budget_usd = g_value_get_double(value);
      break;
    case GROK_IMAGINE_PROP_FALLBACK_PROVIDERS:
      s.fallback_providers = strings_of_array(value);
      break;
    case GROK_IMAGINE_PROP_FAILOVER_COOLDOWN:
      s.failover_cooldown = std::chrono::seconds(g_value_get_uint(value));
      break;
    case GROK_IMAGINE_PROP_FALLBACK_ADAPT:
      s.fallback_adapt = g_value_get_boolean(value);
      break;
    case GROK_IMAGINE_PROP_ON_MODERATION:
      s.fallback_on_moderation = g_value_get_enum(value) == 1;
      break;
    case GROK_IMAGINE_PROP_PRICES:
      s.prices = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_CACHE_SIZE:
      s.cache_size = g_value_get_uint64(value);
      break;
    case GROK_IMAGINE_PROP_DURATION:
      s.request.duration = g_value_get_int(value);
      break;
    case GROK_IMAGINE_PROP_REFERENCE_IMAGES:
      s.request.reference_images = strings_of_array(value);
      break;
    case GROK_IMAGINE_PROP_LOCATION:
      s.location = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_OPERATION:
      s.request.operation = grokimagine::Operation(g_value_get_enum(value));
      break;
    case GROK_IMAGINE_PROP_VIDEO:
      s.request.video = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_OUTPUT:
      s.request.continuation_only = g_value_get_enum(value) == 1;
      break;
    case GROK_IMAGINE_PROP_KEYFRAMES:
    case GROK_IMAGINE_PROP_REFERENCE_AUDIOS: {
      auto &list =
          prop_id == GROK_IMAGINE_PROP_KEYFRAMES ? s.request.keyframes : s.request.reference_audios;
      list.clear();
      for (guint i = 0; i < gst_value_array_get_size(value); i++) {
        const GValue *item = gst_value_array_get_value(value, i);
        if (G_VALUE_HOLDS_STRING(item) && g_value_get_string(item))
          list.push_back(g_value_get_string(item));
      }
      break;
    }
    case GROK_IMAGINE_PROP_GENERATE_AUDIO:
      s.request.generate_audio = g_value_get_boolean(value);
      break;
    case GROK_IMAGINE_PROP_N:
      s.request.count = g_value_get_int(value);
      break;
    case GROK_IMAGINE_PROP_OUTPUT_FORMAT:
      s.request.output_format = string_or_empty(value);
      break;
    case GROK_IMAGINE_PROP_MODE:
      s.request.mode = string_or_empty(value);
      break;
    default:
      return false;
  }
  return true;
}

bool grok_imagine_get_job_property(const JobSettings &s, guint prop_id, GValue *value) {
  auto set_string = [value](const std::string &text) {
    g_value_set_string(value, text.empty() ? nullptr : text.c_str());
  };
  switch (prop_id) {
    case GROK_IMAGINE_PROP_PROVIDER: {
      const auto &providers = grokimagine::all_providers();
      g_value_set_enum(value, 0);
      for (size_t i = 0; i < providers.size(); i++)
        if (s.provider == providers[i]->name()) g_value_set_enum(value, gint(i + 1));
      break;
    }
    case GROK_IMAGINE_PROP_MODEL:
      set_string(s.request.model);
      break;
    case GROK_IMAGINE_PROP_API_URL:
      set_string(s.api_url);
      break;
    case GROK_IMAGINE_PROP_PROMPT:
      set_string(s.request.prompt);
      break;
    case GROK_IMAGINE_PROP_IMAGE:
      set_string(s.request.image);
      break;
    case GROK_IMAGINE_PROP_RESOLUTION:
      set_string(s.request.resolution);
      break;
    case GROK_IMAGINE_PROP_ASPECT_RATIO:
      set_string(s.request.aspect_ratio);
      break;
    case GROK_IMAGINE_PROP_POLL_INTERVAL:
      g_value_set_uint(value, guint(s.timing.poll_interval.count()));
      break;
    case GROK_IMAGINE_PROP_TIMEOUT:
      g_value_set_uint(value, guint(s.timing.timeout.count()));
      break;
    case GROK_IMAGINE_PROP_REQUEST_ID:
      set_string(s.request_id);
      break;
    case GROK_IMAGINE_PROP_REQUEST_TIMEOUT:
      g_value_set_uint(value, guint(s.timing.request_timeout.count()));
      break;
    case GROK_IMAGINE_PROP_RETRIES:
      g_value_set_uint(value, guint(s.timing.max_attempts - 1));
      break;
    case GROK_IMAGINE_PROP_RETRY_BACKOFF:
      g_value_set_uint(value, guint(s.timing.retry_backoff.count()));
      break;
    case GROK_IMAGINE_PROP_ALLOW_INSECURE_HTTP:
      g_value_set_boolean(value, s.allow_insecure_http);
      break;
    case GROK_IMAGINE_PROP_MAX_SIZE:
      g_value_set_uint64(value, s.max_size);
      break;
    case GROK_IMAGINE_PROP_JOURNAL:
      g_value_set_string(value, s.journal ? s.journal->c_str() : nullptr);
      break;
    case GROK_IMAGINE_PROP_REUSE:
      g_value_set_enum(value, int(s.reuse));
      break;
    case GROK_IMAGINE_PROP_FALLBACK_PROVIDERS:
      set_array_of_strings(value, s.fallback_providers);
      break;
    case GROK_IMAGINE_PROP_FAILOVER_COOLDOWN:
      g_value_set_uint(value, guint(s.failover_cooldown.count()));
      break;
    case GROK_IMAGINE_PROP_FALLBACK_ADAPT:
      g_value_set_boolean(value, s.fallback_adapt);
      break;
    case GROK_IMAGINE_PROP_ON_MODERATION:
      g_value_set_enum(value, s.fallback_on_moderation ? 1 : 0);
      break;
    case GROK_IMAGINE_PROP_BUDGET:
      g_value_set_double(value, s.budget_usd);
      break;
    case GROK_IMAGINE_PROP_BUDGET_SCOPE:
      g_value_set_string(value, s.budget_scope.c_str());
      break;
    case GROK_IMAGINE_PROP_PRICES:
      set_string(s.prices);
      break;
    case GROK_IMAGINE_PROP_CACHE_SIZE:
      g_value_set_uint64(value, s.cache_size);
      break;
    case GROK_IMAGINE_PROP_DURATION:
      g_value_set_int(value, s.request.duration);
      break;
    case GROK_IMAGINE_PROP_REFERENCE_IMAGES:
      set_array_of_strings(value, s.request.reference_images);
      break;
    case GROK_IMAGINE_PROP_LOCATION:
      set_string(s.location);
      break;
    case GROK_IMAGINE_PROP_OPERATION:
      g_value_set_enum(value, int(s.request.operation));
      break;
    case GROK_IMAGINE_PROP_VIDEO:
      set_string(s.request.video);
      break;
    case GROK_IMAGINE_PROP_OUTPUT:
      g_value_set_enum(value, s.request.continuation_only ? 1 : 0);
      break;
    case GROK_IMAGINE_PROP_KEYFRAMES:
    case GROK_IMAGINE_PROP_REFERENCE_AUDIOS:
      for (const auto &entry : prop_id == GROK_IMAGINE_PROP_KEYFRAMES
                                   ? s.request.keyframes
                                   : s.request.reference_audios) {
        GValue item = G_VALUE_INIT;
        g_value_init(&item, G_TYPE_STRING);
        g_value_set_string(&item, entry.c_str());
        gst_value_array_append_and_take_value(value, &item);
      }
      break;
    case GROK_IMAGINE_PROP_GENERATE_AUDIO:
      g_value_set_boolean(value, s.request.generate_audio);
      break;
    case GROK_IMAGINE_PROP_N:
      g_value_set_int(value, s.request.count);
      break;
    case GROK_IMAGINE_PROP_OUTPUT_FORMAT:
      set_string(s.request.output_format);
      break;
    case GROK_IMAGINE_PROP_MODE:
      set_string(s.request.mode);
      break;
    default:
      return false;
  }
  return true;
}

void GrokImagineJobSettings::set_property(GstElement *element, guint prop_id, const GValue *value,
                                          GParamSpec *pspec) {
  GST_OBJECT_LOCK(element);
  const GstState state = GST_STATE(element);
  GST_OBJECT_UNLOCK(element);
  if (state > GST_STATE_READY) {
    GROK_IMAGINE_ELEMENT_WARNING(
        element, CORE, STATE_CHANGE, "invalid-settings",
        ("Property '%s' cannot change while the job runs; set it in the NULL or "
         "READY state. The change was ignored.",
         pspec->name),
        ("state %s", gst_element_state_get_name(state)));
    return;
  }
  std::lock_guard<std::mutex> lock(lock_);
  if (!grok_imagine_set_job_property(settings_, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(element, prop_id, pspec);
    return;
  }
  if (prop_id == GROK_IMAGINE_PROP_REQUEST_ID) {
    request_id_learned_ = false;
  } else if (grok_imagine_describes_job(prop_id) && request_id_learned_) {
    // A new job description is a new job: forget the id of the one this
    // element ran. An id the user set wins whatever the order of properties.
    settings_.request_id.clear();
    request_id_learned_ = false;
  }
}
