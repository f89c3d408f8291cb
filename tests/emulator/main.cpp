// SPDX-License-Identifier: LGPL-2.1-or-later
// grokimagine-emulator: runs the provider emulator as a process, for manual
// runs, scripts and benchmarks. Prints "api-url=http://127.0.0.1:PORT" on
// stdout once listening, then serves until SIGINT or SIGTERM. GET
// <api-url>/emulator/stats answers its counters and job times (emulator.h).
#include "emulator.h"

#include <glib-unix.h>
#include <glib.h>
#include <gst/gst.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace {

gboolean quit_loop(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop *>(loop));
  return G_SOURCE_CONTINUE;
}

bool in_range(gint value, gint min, gint max) {
  return value >= min && value <= max;
}

bool parse_provider(const char *name, grokimagine::emulator::Provider *provider) {
  using grokimagine::emulator::Provider;
  const struct {
    const char *name;
    Provider provider;
  } known[] = {{"segmind", Provider::Segmind},
               {"xai", Provider::Xai},
               {"aimlapi", Provider::Aimlapi},
               {"reapi", Provider::Reapi}};
  for (const auto &entry : known) {
    if (std::strcmp(name, entry.name) == 0) {
      *provider = entry.provider;
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char **argv) {
  // Scripts parse stdout for the one api-url line: keep every log off it.
  g_log_writer_default_set_use_stderr(TRUE);

  grokimagine::emulator::Options defaults;
  gint api_port = 0;
  gint cdn_port = 0;
  gint generation_ms = static_cast<gint>(defaults.generation_ms);
  gint image_generation_ms = 0;
  gint queued_ms = static_cast<gint>(defaults.queued_ms);
  gboolean moov_at_end = FALSE;
  gboolean bulky = FALSE;
  gint rate_limit = 0;
  gint64 clip_bytes = 0;
  gboolean moderate = FALSE;
  gboolean expire_jobs = FALSE;
  gdouble cost_scale = 1.0;
  gboolean ignore_range = FALSE;
  gboolean unknown_total = FALSE;
  gint cdn_delay_ms = 0;
  gint64 cdn_rate = 0;
  gint64 cdn_link_rate = 0;
  g_autofree gchar *provider = nullptr;
  g_autofree gchar *api_key = nullptr;
  g_autofree gchar *fail_detail = nullptr;
  g_autofree gchar *request_id_prefix = nullptr;
  g_autofree gchar *cdn_lie = nullptr;
  const GOptionEntry entries[] = {
      {"provider", 0, 0, G_OPTION_ARG_STRING, &provider,
       "API to speak: segmind (default), xai, aimlapi or reapi", "NAME"},
      {"api-port", 0, 0, G_OPTION_ARG_INT, &api_port, "API port (0: any free port)", "N"},
      {"cdn-port", 0, 0, G_OPTION_ARG_INT, &cdn_port, "CDN port (0: any free port)", "N"},
      {"api-key", 0, 0, G_OPTION_ARG_STRING, &api_key, "Accepted API key (emulator-key)", "K"},
      {"generation-ms", 0, 0, G_OPTION_ARG_INT, &generation_ms,
       "Time from submit to COMPLETED, at least", "N"},
      {"image-generation-ms", 0, 0, G_OPTION_ARG_INT, &image_generation_ms,
       "The same for image jobs (0: generation-ms)", "N"},
      {"queued-ms", 0, 0, G_OPTION_ARG_INT, &queued_ms, "Time a job stays QUEUED", "N"},
      {"moov-at-end", 0, 0, G_OPTION_ARG_NONE, &moov_at_end,
       "Serve clips with moov after mdat (no faststart)", nullptr},
      {"bulky", 0, 0, G_OPTION_ARG_NONE, &bulky, "Encode clips as noise at 60 Mbit/s (tens of MB)",
       nullptr},
      {"clip-bytes", 0, 0, G_OPTION_ARG_INT64, &clip_bytes,
       "Encode each clip as noise of about N bytes (+-25%) at the asked duration; at most "
       "~82 MB per second of 1080p, ~36 MB/s of 720p, ~16 MB/s of 480p (0: normal clips)",
       "N"},
      {"rate-limit", 0, 0, G_OPTION_ARG_INT, &rate_limit,
       "Allow each API key N requests per second on the API port (a token bucket of N); "
       "more are answered 429 with Retry-After (0: no limit)",
       "N"},
      {"fail-detail", 0, 0, G_OPTION_ARG_STRING, &fail_detail,
       "Make every job fail with this detail, the provider's way", "TEXT"},
      {"request-id-prefix", 0, 0, G_OPTION_ARG_STRING, &request_id_prefix,
       "Begin every job's request id with this (a hostile API's ids)", "TEXT"},
      {"moderate", 0, 0, G_OPTION_ARG_NONE, &moderate,
       "xai: jobs end done but blocked by moderation (empty url)", nullptr},
      {"expire-jobs", 0, 0, G_OPTION_ARG_NONE, &expire_jobs, "xai: jobs end expired", nullptr},
      {"cost-scale", 0, 0, G_OPTION_ARG_DOUBLE, &cost_scale,
       "xai: finished jobs report this many times the published price (1)", "X"},
      {"ignore-range", 0, 0, G_OPTION_ARG_NONE, &ignore_range,
       "The CDN ignores Range and always sends the whole clip (200)", nullptr},
      {"cdn-lie", 0, 0, G_OPTION_ARG_STRING, &cdn_lie,
       "The CDN lies: gzip-when-offered, gzip (compressed media), no-content-range, part-as-200, "
       "part-as-200-unsized or wrong-total (a later part of a ranged download)",
       "HOW"},
      {"cdn-unknown-total", 0, 0, G_OPTION_ARG_NONE, &unknown_total,
       "The CDN answers Range without the clip's length (Content-Range: bytes A-B/*)", nullptr},
      {"cdn-delay-ms", 0, 0, G_OPTION_ARG_INT, &cdn_delay_ms,
       "Link shaping: every CDN answer waits N ms after its request (latency)", "N"},
      {"cdn-rate", 0, 0, G_OPTION_ARG_INT64, &cdn_rate,
       "Link shaping: each CDN body is sent at most N bytes/s, per connection (0: no cap)", "N"},
      {"cdn-link-rate", 0, 0, G_OPTION_ARG_INT64, &cdn_link_rate,
       "Link shaping: every CDN body shares one link of N bytes/s (0: no shared link)", "N"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  g_autoptr(GOptionContext) option_context =
      g_option_context_new("- emulate the Grok Imagine provider APIs on loopback");
  g_option_context_add_main_entries(option_context, entries, nullptr);
  g_option_context_set_description(
      option_context,
      "Test hook: GET <api-url>/emulator/stats (no key needed) answers the counters and each "
      "job's submitted_us/completed_us (g_get_monotonic_time(), CLOCK_MONOTONIC) as JSON.");
  g_option_context_add_group(option_context, gst_init_get_option_group());
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(option_context, &argc, &argv, &error)) {
    std::fprintf(stderr, "grokimagine-emulator: %s\n", error->message);
    return 2;
  }
  if (!in_range(api_port, 0, 65535) || !in_range(cdn_port, 0, 65535) || generation_ms < 0 ||
      image_generation_ms < 0 || queued_ms < 0) {
    std::fprintf(stderr, "grokimagine-emulator: ports must be 0..65535 and times >= 0\n");
    return 2;
  }
  if (rate_limit < 0 || clip_bytes < 0 || cdn_delay_ms < 0 || cdn_rate < 0 || cdn_link_rate < 0) {
    std::fprintf(stderr,
                 "grokimagine-emulator: --rate-limit, --clip-bytes, --cdn-delay-ms, --cdn-rate and "
                 "--cdn-link-rate must be >= 0\n");
    return 2;
  }

  grokimagine::emulator::Options options;
  if (provider != nullptr && !parse_provider(provider, &options.provider)) {
    std::fprintf(stderr, "grokimagine-emulator: unknown provider %s\n", provider);
    return 2;
  }
  options.api_port = static_cast<unsigned>(api_port);
  options.cdn_port = static_cast<unsigned>(cdn_port);
  if (api_key != nullptr) options.api_key = api_key;
  options.generation_ms = static_cast<unsigned>(generation_ms);
  options.image_generation_ms = static_cast<unsigned>(image_generation_ms);
  options.queued_ms = static_cast<unsigned>(queued_ms);
  options.moov_at_end = moov_at_end;
  options.bulky = bulky;
  options.clip_bytes = clip_bytes;
  options.rate_limit_per_s = static_cast<unsigned>(rate_limit);
  if (fail_detail != nullptr) options.fail_detail = fail_detail;
  options.moderate = moderate;
  options.expire_jobs = expire_jobs;
  options.cost_scale = cost_scale;
  if (request_id_prefix) options.request_id_prefix = request_id_prefix;
  if (cdn_lie) {
    using CdnLie = grokimagine::emulator::Options::CdnLie;
    const std::pair<const char *, CdnLie> lies[] = {
        {"gzip-when-offered", CdnLie::GzipWhenOffered},    {"gzip", CdnLie::GzipAlways},
        {"no-content-range", CdnLie::NoContentRange},      {"part-as-200", CdnLie::PartAs200},
        {"part-as-200-unsized", CdnLie::PartAs200Unsized}, {"wrong-total", CdnLie::WrongTotal}};
    bool known = false;
    for (const auto &[name, lie] : lies)
      if (g_str_equal(cdn_lie, name)) {
        options.cdn_lie = lie;
        known = true;
      }
    if (!known) {
      g_printerr("--cdn-lie: unknown '%s'\n", cdn_lie);
      return 2;
    }
  }
  options.ignore_range = ignore_range;
  options.cdn_unknown_total = unknown_total;
  options.cdn_delay_ms = static_cast<unsigned>(cdn_delay_ms);
  options.cdn_rate_bytes_per_s = static_cast<std::uint64_t>(cdn_rate);
  options.cdn_link_rate_bytes_per_s = static_cast<std::uint64_t>(cdn_link_rate);

  try {
    grokimagine::emulator::Emulator emulator(options);
    g_autoptr(GMainLoop) loop = g_main_loop_new(nullptr, FALSE);
    const guint sigint_watch = g_unix_signal_add(SIGINT, quit_loop, loop);
    const guint sigterm_watch = g_unix_signal_add(SIGTERM, quit_loop, loop);
    std::printf("api-url=%s\n", emulator.api_url().c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "grokimagine-emulator: CDN at %s\n", emulator.cdn_url().c_str());
    g_main_loop_run(loop);
    g_source_remove(sigint_watch);
    g_source_remove(sigterm_watch);
  } catch (const std::exception &failure) {
    std::fprintf(stderr, "grokimagine-emulator: %s\n", failure.what());
    return 1;
  }
  return 0;
}
