// SPDX-License-Identifier: LGPL-2.1-or-later
// What the emulator does whatever provider it speaks: the frame and image
// size rules, jobs that fail (fail_detail), moov placement, and what the
// benchmarks lean on: the rate limit, clip_bytes, the stats hook and the
// CDN's link shaping (per connection and one shared link).
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>

#include <chrono>
#include <future>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "emulator-checks.h"

using namespace emulator_checks;

// What a size function should give for a resolution and an aspect ratio.
struct ExpectedSize {
  const char *resolution;
  const char *aspect_ratio;
  int width;
  int height;
};

static void check_sizes(const char *name,
                        emu::FrameSize (*size_of)(const std::string &, const std::string &),
                        std::initializer_list<ExpectedSize> table) {
  for (const ExpectedSize &expected : table) {
    const emu::FrameSize size = size_of(expected.resolution, expected.aspect_ratio);
    fail_unless(size.width == expected.width && size.height == expected.height,
                "%s(%s, %s) = %dx%d, want %dx%d", name, expected.resolution, expected.aspect_ratio,
                size.width, size.height, expected.width, expected.height);
  }
}

GST_START_TEST(test_frame_sizes) {
  check_sizes("frame_size", emu::frame_size,
              {
                  {"480p", "16:9", 848, 480},
                  {"480p", "9:16", 480, 848},
                  {"480p", "1:1", 480, 480},
                  {"480p", "4:3", 640, 480},
                  {"480p", "3:2", 720, 480},
                  {"720p", "16:9", 1280, 720},
                  {"720p", "1:1", 720, 720},
                  {"720p", "9:16", 720, 1280},
                  {"1080p", "16:9", 1920, 1080},
                  {"480p", "3:4", 480, 640},
                  {"480p", "2:3", 480, 720},
              });
}
GST_END_TEST;

GST_START_TEST(test_image_sizes) {
  check_sizes("image_size", emu::image_size,
              {
                  {"1k", "1:1", 1024, 1024},
                  {"2k", "1:1", 2048, 2048},
                  {"1k", "16:9", 1024, 576},
                  {"2k", "16:9", 2048, 1152},
                  {"1k", "9:16", 576, 1024},
                  {"1k", "4:3", 1024, 768},
                  {"1k", "3:2", 1024, 672},
                  {"1k", "9:19.5", 464, 1024},
                  {"2k", "19.5:9", 2048, 944},
                  {"1k", "20:9", 1024, 448},
                  {"1k", "1:2", 512, 1024},
                  {"1k", "auto", 1024, 1024},
                  {"2k", "auto", 2048, 2048},
              });
}
GST_END_TEST;

GST_START_TEST(test_failing_emulator) {
  emu::Options options = timed(emu::Provider::Segmind, 20, 150);
  options.fail_detail = "Content blocked by moderation";
  emu::Emulator emulator(options);
  Http http;
  const Response submitted =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-video", R"({"prompt": "x"})");
  fail_unless(submitted.status == 200, "submit: %u %s", submitted.status, submitted.body.c_str());
  const PollOutcome outcome = poll_until_done(http, json_string(submitted.body, "status_url"));
  g_print("fail_detail: %s\n", joined(outcome.statuses_seen).c_str());
  fail_unless(outcome.final_http == 422 && outcome.final_status == "FAILED", "ended %u %s",
              outcome.final_http, outcome.final_body.c_str());
  fail_unless(json_string(outcome.final_body, "error") == options.fail_detail, "ended %s",
              outcome.final_body.c_str());
  const Response result = http.get_with_key(json_string(submitted.body, "response_url"));
  fail_unless(result.status == 422 && json_string(result.body, "status") == "FAILED",
              "result: %u %s", result.status, result.body.c_str());

  // The image model fails the same way; the synchronous preview answers 422.
  const Response images =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-image", R"({"prompt": "x"})");
  const PollOutcome images_outcome = poll_until_done(http, json_string(images.body, "status_url"));
  fail_unless(images_outcome.final_http == 422 &&
                  json_string(images_outcome.final_body, "error") == options.fail_detail,
              "image job ended %u %s", images_outcome.final_http,
              images_outcome.final_body.c_str());
  const Response preview = http.post_json(emulator.api_url() + "/v1/grok-imagine-video-1.5-preview",
                                          R"({"prompt": "x", "image": "MDEyMzQ1Njc4OQ=="})");
  fail_unless(preview.status == 422 && json_string(preview.body, "error") == options.fail_detail,
              "preview: %u %s", preview.status, preview.body.c_str());
}
GST_END_TEST;

// Top-level MP4 box types in file order, to tell faststart from moov-at-end.
static std::vector<std::string> top_level_boxes(const std::string &mp4) {
  std::vector<std::string> boxes;
  guint64 offset = 0;
  while (offset + 8 <= mp4.size()) {
    auto byte = [&](guint64 at) { return static_cast<guint64>(static_cast<guint8>(mp4[at])); };
    guint64 box_size =
        byte(offset) << 24 | byte(offset + 1) << 16 | byte(offset + 2) << 8 | byte(offset + 3);
    boxes.push_back(mp4.substr(offset + 4, 4));
    if (box_size == 1 && offset + 16 <= mp4.size()) {
      box_size = 0;
      for (int i = 0; i < 8; ++i) box_size = box_size << 8 | byte(offset + 8 + i);
    } else if (box_size == 0) {
      break;  // runs to the end of the file
    }
    if (box_size < 8) break;
    offset += box_size;
  }
  return boxes;
}

static int box_index(const std::vector<std::string> &boxes, const char *type) {
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i] == type) return static_cast<int>(i);
  }
  return -1;
}

// Faststart (__i__ 0) and moov_at_end (__i__ 1).
GST_START_TEST(test_moov_placement) {
  const bool moov_at_end = __i__ == 1;
  emu::Options options = timed(emu::Provider::Segmind, 10, 50);
  options.moov_at_end = moov_at_end;
  emu::Emulator emulator(options);
  Http http;
  std::string output_url;
  run_job(http, emulator, R"({"prompt": "moov", "duration": 1})", &output_url);
  const Response clip = http.request("GET", output_url);
  const std::vector<std::string> boxes = top_level_boxes(clip.body);
  const int moov = box_index(boxes, "moov");
  const int mdat = box_index(boxes, "mdat");
  g_print("moov_at_end=%d: boxes %s\n", moov_at_end, joined(boxes).c_str());
  fail_unless(moov >= 0 && mdat >= 0, "boxes %s", joined(boxes).c_str());
  fail_unless(moov_at_end ? moov > mdat : moov < mdat, "moov_at_end=%d: boxes %s", moov_at_end,
              joined(boxes).c_str());
}
GST_END_TEST;

// ---- Benchmark support: rate limit, clip size, stats ----

GST_START_TEST(test_rate_limit) {
  emu::Options options = timed(emu::Provider::Segmind, 10, 50);
  options.rate_limit_per_s = 1;
  emu::Emulator emulator(options);
  Http http;
  const std::string status_url = emulator.api_url() + "/v2/requests/no-such-id/status";
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-video";
  const std::string good = R"({"prompt": "limited", "duration": 1})";

  // The bucket holds one token: the first request takes it (and is answered
  // as usual), the next finds none.
  const Response first = http.get_with_key(status_url);
  const Response second = http.get_with_key(status_url);
  g_print("rate limit 1/s: %u, then %u Retry-After %s %s\n", first.status, second.status,
          second.header("retry-after").c_str(), second.body.c_str());
  fail_unless(first.status == 404, "first poll: %u %s", first.status, first.body.c_str());
  fail_unless(second.status == 429 && second.header("retry-after") == "1" &&
                  json_string(second.body, "error") == "Too Many Requests",
              "second poll: %u Retry-After '%s' %s", second.status,
              second.header("retry-after").c_str(), second.body.c_str());
  // The key is checked first; the stats hook takes no token and counts
  // nothing.
  fail_unless(http.get_with_key(status_url).status == 429, "a third poll not limited");
  fail_unless(http.request("GET", status_url, {{"x-api-key", "wrong-key"}}).status == 401,
              "a poll with a wrong key not answered 401");
  fail_unless(http.post_json(submit_url, good, "wrong-key").status == 401,
              "a submit with a wrong key not answered 401");
  fail_unless(http.request("GET", emulator.api_url() + "/emulator/stats").status == 200,
              "the stats hook limited");
  const emu::Counters before = emulator.counters();
  const Response limited = http.post_json(submit_url, good);
  const emu::Counters after = emulator.counters();
  fail_unless(limited.status == 429 && limited.header("retry-after") == "1",
              "limited submit: %u Retry-After '%s'", limited.status,
              limited.header("retry-after").c_str());
  fail_unless(after.submits_total == before.submits_total + 1 &&
                  after.submits_accepted == before.submits_accepted,
              "limited submit: %d counted, %d accepted", after.submits_total - before.submits_total,
              after.submits_accepted - before.submits_accepted);
  // Polls count whatever their answer: three limited or not, one refused.
  fail_unless(after.rate_limited == 3 && after.status_polls == 4, "%d limited, %d polls",
              after.rate_limited, after.status_polls);

  // A second later the bucket has a token again.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const Response later = http.post_json(submit_url, good);
  fail_unless(later.status == 200 && emulator.counters().submits_accepted == 1,
              "a second later: %u %s, %d accepted", later.status, later.body.c_str(),
              emulator.counters().submits_accepted);
  fail_unless(emulator.counters().rate_limited == 3, "%d limited, want 3",
              emulator.counters().rate_limited);
}
GST_END_TEST;

// Bearer keys too, in the provider's envelope; the bucket holds
// rate_limit_per_s tokens.
GST_START_TEST(test_rate_limit_with_bearer_keys) {
  emu::Options xai_options;
  xai_options.provider = emu::Provider::Xai;
  xai_options.rate_limit_per_s = 2;
  emu::Emulator xai(xai_options);
  Http http;
  const std::string poll_url = xai.api_url() + "/v1/videos/no-such-id";
  fail_unless(http.get_bearer(poll_url).status == 404, "first poll limited");
  fail_unless(http.get_bearer(poll_url).status == 404, "second poll limited");
  const Response xai_limited = http.get_bearer(poll_url);
  fail_unless(xai_limited.status == 429 && xai_limited.header("retry-after") == "1" &&
                  Json(xai_limited.body).str("$.code") == "resource_exhausted" &&
                  !xai_limited.header("x-request-id").empty(),
              "third poll: %u Retry-After '%s' x-request-id '%s' %s", xai_limited.status,
              xai_limited.header("retry-after").c_str(), xai_limited.header("x-request-id").c_str(),
              xai_limited.body.c_str());
  fail_unless(http.get_bearer(poll_url, "wrong-key").status == 401,
              "a poll with a wrong key not answered 401");
  fail_unless(xai.counters().rate_limited == 1, "%d limited, want 1", xai.counters().rate_limited);
}
GST_END_TEST;

// The stats hook's counters and job times, against the in-process ones.
static void check_stats_match(Http &http, emu::Emulator &emulator) {
  const emu::Counters counters = emulator.counters();
  const std::vector<emu::JobTimes> times = emulator.job_times();
  const Response response = http.request("GET", emulator.api_url() + "/emulator/stats");
  const Json stats(response.body);
  g_print("stats: %s\n", response.body.c_str());
  fail_unless(response.status == 200 && response.content_type == "application/json", "stats: %u %s",
              response.status, response.content_type.c_str());
  fail_unless(stats.integer("$.submits_total") == counters.submits_total &&
                  stats.integer("$.submits_accepted") == counters.submits_accepted &&
                  stats.integer("$.status_polls") == counters.status_polls &&
                  stats.integer("$.result_fetches") == counters.result_fetches &&
                  stats.integer("$.downloads") == counters.downloads &&
                  stats.integer("$.rate_limited") == counters.rate_limited,
              "stats %s; counters: submits %d/%d, %d polls, %d results, %d downloads, %d limited",
              response.body.c_str(), counters.submits_accepted, counters.submits_total,
              counters.status_polls, counters.result_fetches, counters.downloads,
              counters.rate_limited);
  fail_unless(stats.length("$.jobs") == static_cast<int>(times.size()),
              "stats list %d jobs, want %zu", stats.length("$.jobs"), times.size());
  for (std::size_t index = 0; index < times.size(); ++index) {
    const std::string job = "$.jobs[" + std::to_string(index) + "]";
    fail_unless(stats.str((job + ".request_id").c_str()) == times[index].request_id &&
                    stats.integer((job + ".submitted_us").c_str()) == times[index].submitted_us &&
                    stats.integer((job + ".completed_us").c_str()) == times[index].completed_us,
                "job %zu: %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " in the stats", index,
                times[index].request_id.c_str(), times[index].submitted_us,
                times[index].completed_us);
  }
  // Asking counts nowhere.
  const emu::Counters afterwards = emulator.counters();
  fail_unless(afterwards.submits_total == counters.submits_total &&
                  afterwards.status_polls == counters.status_polls &&
                  afterwards.result_fetches == counters.result_fetches &&
                  afterwards.downloads == counters.downloads,
              "asking for the stats counted");
}

GST_START_TEST(test_clip_bytes_and_stats) {
  emu::Options options = timed(emu::Provider::Segmind, 10, 800);
  options.clip_bytes = 20000000;
  emu::Emulator emulator(options);
  Http http;
  const std::string body = R"({"prompt": "twenty megabytes", "duration": 2, "resolution": "720p"})";
  std::string output_url;
  const gint64 encode_started = g_get_monotonic_time();
  const std::string first = run_job(http, emulator, body, &output_url);
  const gint64 took_ms = (g_get_monotonic_time() - encode_started) / 1000;
  const std::string path = emulator.clip_path(first);
  GStatBuf info;
  const gint64 size = g_stat(path.c_str(), &info) == 0 ? static_cast<gint64>(info.st_size) : -1;
  g_print("clip_bytes=20000000: 720p 2 s clip of %" G_GINT64_FORMAT
          " bytes, job took %" G_GINT64_FORMAT " ms\n",
          size, took_ms);
  fail_unless(size >= 15000000 && size <= 25000000,
              "clip_bytes=20000000 made %" G_GINT64_FORMAT " bytes", size);
  check_clip(path, 1280, 720, 2);
  fail_unless(http.request("HEAD", output_url).content_length == size,
              "HEAD announces another length than the file's %" G_GINT64_FORMAT, size);

  // The same clip again: the file is reused, so the job completes right at
  // generation_ms.
  const std::string second = run_job(http, emulator, body, &output_url);
  fail_unless(!second.empty() && emulator.clip_path(second) == path, "the clip of %s is %s, not %s",
              second.c_str(), emulator.clip_path(second).c_str(), path.c_str());

  // A job just submitted has not completed.
  const Response submitted = http.post_json(emulator.api_url() + "/v2/grok-imagine-video", body);
  const std::string third = json_string(submitted.body, "request_id");
  const std::vector<emu::JobTimes> pending = emulator.job_times();
  fail_unless(
      pending.size() == 3 && pending.back().request_id == third && pending.back().completed_us == 0,
      "%zu jobs, the last %s completed at %" G_GINT64_FORMAT, pending.size(),
      pending.empty() ? "" : pending.back().request_id.c_str(),
      pending.empty() ? G_GINT64_CONSTANT(0) : pending.back().completed_us);
  poll_until_done(http, json_string(submitted.body, "status_url"));

  const std::vector<emu::JobTimes> times = emulator.job_times();
  const gint64 generation_us = options.generation_ms * G_GINT64_CONSTANT(1000);
  fail_unless(times.size() == 3, "%zu jobs, want 3", times.size());
  fail_unless(
      times[0].request_id == first && times[1].request_id == second && times[2].request_id == third,
      "jobs %s %s %s, want %s %s %s", times[0].request_id.c_str(), times[1].request_id.c_str(),
      times[2].request_id.c_str(), first.c_str(), second.c_str(), third.c_str());
  for (const emu::JobTimes &job : times) {
    fail_unless(job.submitted_us > 0 && job.completed_us >= job.submitted_us + generation_us,
                "job %s submitted at %" G_GINT64_FORMAT ", completed at %" G_GINT64_FORMAT,
                job.request_id.c_str(), job.submitted_us, job.completed_us);
    fail_unless(job.completed_us <= g_get_monotonic_time(),
                "job %s completed in the future (%" G_GINT64_FORMAT ")", job.request_id.c_str(),
                job.completed_us);
  }
  fail_unless(times[1].completed_us == times[1].submitted_us + generation_us,
              "the reused clip's job took %" G_GINT64_FORMAT " us, want %" G_GINT64_FORMAT,
              times[1].completed_us - times[1].submitted_us, generation_us);
  check_stats_match(http, emulator);
  fail_unless(http.request("POST", emulator.api_url() + "/emulator/stats").status == 405,
              "POST on the stats hook not answered 405");
}
GST_END_TEST;

// A finished Segmind job's clip and its CDN URL.
static std::string served_clip(Http &http, emu::Emulator &emulator, std::string *url) {
  const std::string id = run_job(http, emulator, R"({"prompt": "shaped", "duration": 2})", url);
  return read_file(emulator.clip_path(id));
}

// Link shaping: every CDN answer waits cdn_delay_ms, each body is sent no
// faster than cdn_rate_bytes_per_s, and cdn_unknown_total leaves the
// length out of Content-Range.
GST_START_TEST(test_cdn_shaping) {
  emu::Options options = timed(emu::Provider::Segmind, 10, 100);
  options.cdn_delay_ms = 300;
  options.cdn_rate_bytes_per_s = 1 << 20;
  options.cdn_unknown_total = true;
  options.clip_bytes = 1000000;  // about a second at that rate
  emu::Emulator emulator(options);
  Http http;
  std::string url;
  const std::string clip = served_clip(http, emulator, &url);
  fail_unless(!clip.empty(), "no clip at %s", url.c_str());
  const gint64 started = g_get_monotonic_time();
  const Response whole = http.request("GET", url);
  const gint64 took_ms = (g_get_monotonic_time() - started) / 1000;
  fail_unless(whole.status == 200 && whole.body == clip, "GET: %u, %zu bytes of %zu", whole.status,
              whole.body.size(), clip.size());
  // Never faster than the link allows (a busy machine only adds to it).
  const gint64 least_ms =
      options.cdn_delay_ms + gint64(clip.size()) * 1000 / gint64(options.cdn_rate_bytes_per_s);
  g_print("shaped CDN: %zu bytes in %" G_GINT64_FORMAT
          " ms (300 ms + 1 MiB/s: at least %" G_GINT64_FORMAT " ms)\n",
          clip.size(), took_ms, least_ms);
  fail_unless(took_ms >= least_ms,
              "%zu bytes in %" G_GINT64_FORMAT " ms, faster than %" G_GINT64_FORMAT " ms",
              clip.size(), took_ms, least_ms);
  const Response part = http.request("GET", url, {{"Range", "bytes=0-99"}});
  fail_unless(part.status == 206 && part.content_range == "bytes 0-99/*" &&
                  part.body == clip.substr(0, 100),
              "Range bytes=0-99: %u, Content-Range %s, %zu bytes", part.status,
              part.content_range.c_str(), part.body.size());
  const Response past =
      http.request("GET", url, {{"Range", "bytes=" + std::to_string(clip.size()) + "-"}});
  fail_unless(past.status == 416, "Range past the end: %u", past.status);
  fail_unless(emulator.counters().cdn_peak_paced_bodies == 1, "%d paced bodies at once",
              emulator.counters().cdn_peak_paced_bodies);
}
GST_END_TEST;

// A shared link: two bodies at once share cdn_link_rate_bytes_per_s, so
// both take as long as the two one after the other would (each alone would
// take half); the counters tell what the link carried before each request.
GST_START_TEST(test_cdn_shared_link) {
  emu::Options options = timed(emu::Provider::Segmind, 10, 100);
  options.cdn_link_rate_bytes_per_s = 2 << 20;
  options.clip_bytes = 1000000;  // half a second alone on the link
  emu::Emulator emulator(options);
  Http http;
  std::string url;
  const std::string clip = served_clip(http, emulator, &url);
  fail_unless(!clip.empty(), "no clip at %s", url.c_str());
  const gint64 started = g_get_monotonic_time();
  Response first, second;
  std::thread other([&] {
    Http own;
    second = own.request("GET", url);
  });
  first = http.request("GET", url);
  other.join();
  const gint64 took_ms = (g_get_monotonic_time() - started) / 1000;
  fail_unless(first.status == 200 && first.body == clip, "first GET: %u, %zu bytes of %zu",
              first.status, first.body.size(), clip.size());
  fail_unless(second.status == 200 && second.body == clip, "second GET: %u, %zu bytes of %zu",
              second.status, second.body.size(), clip.size());
  // The link's burst (four 5 ms ticks) is all it may run ahead.
  const gint64 least_ms =
      gint64(2 * clip.size()) * 1000 / gint64(options.cdn_link_rate_bytes_per_s) - 20;
  g_print("shared link: 2 x %zu bytes at once in %" G_GINT64_FORMAT
          " ms (2 MiB/s for both: at least %" G_GINT64_FORMAT " ms)\n",
          clip.size(), took_ms, least_ms);
  fail_unless(took_ms >= least_ms,
              "2 x %zu bytes in %" G_GINT64_FORMAT " ms, faster than %" G_GINT64_FORMAT " ms",
              clip.size(), took_ms, least_ms);
  fail_unless(emulator.counters().cdn_peak_paced_bodies == 2, "%d paced bodies at once",
              emulator.counters().cdn_peak_paced_bodies);
  fail_unless(emulator.counters().cdn_paced_bytes == 2 * clip.size(),
              "%" G_GUINT64_FORMAT " paced bytes, want %zu",
              static_cast<guint64>(emulator.counters().cdn_paced_bytes), 2 * clip.size());
  const auto before = emulator.cdn_paced_bytes_at_requests();
  fail_unless(before.size() == 2 && before[0] == 0,
              "%zu requests, the first after %" G_GUINT64_FORMAT " bytes", before.size(),
              before.empty() ? G_GUINT64_CONSTANT(0) : static_cast<guint64>(before[0]));
}
GST_END_TEST;

// A test's hooks: the first status poll is held at a gate, and while it
// waits another connection is answered; opened, the gate lets the held poll
// get the emulator's own answer. A hook answering itself sends its status,
// body and headers, and the request counts as any other.
GST_START_TEST(test_hooks) {
  emu::Emulator emulator(timed(emu::Provider::Segmind, 10, 50));
  const std::string polls = emulator.api_url() + "/v2/requests/";
  auto gate = std::make_shared<emu::Gate>();
  std::promise<std::string> first_poll;
  emulator.hook({emu::Port::Api, "GET", "/v2/requests/"},
                [gate, &first_poll](const emu::HookRequest &request) {
                  if (request.seen > 0) return emu::Reply::go_on();
                  first_poll.set_value(request.path);
                  return emu::Reply::go_on().held_by(gate);
                });
  emulator.hook({emu::Port::Api, "POST"}, [](const emu::HookRequest &) {
    return emu::Reply::answer(418, R"({"error": "hooked"})").header("X-Hooked", "yes");
  });
  std::future<Response> held = std::async(std::launch::async, [&] {
    Http own;
    return own.get_with_key(polls + "held/status");
  });
  std::future<std::string> arrived = first_poll.get_future();
  fail_unless(arrived.wait_for(std::chrono::seconds(10)) == std::future_status::ready,
              "the first poll never reached its hook");
  const std::string held_path = arrived.get();
  assert_equals_string(held_path.c_str(), "/v2/requests/held/status");
  Http http;
  const Response other = http.get_with_key(polls + "other/status");
  fail_unless(other.status == 404, "a poll beside the held one: %u %s", other.status,
              other.error.c_str());
  fail_unless_equals_int(gate->held(), 1);
  fail_unless(held.wait_for(std::chrono::seconds(0)) == std::future_status::timeout,
              "the held poll was answered before its gate opened");
  gate->open();
  fail_unless(held.wait_for(std::chrono::seconds(10)) == std::future_status::ready,
              "the held poll not answered once its gate opened");
  const Response released = held.get();
  fail_unless(released.status == 404 && json_string(released.body, "error") != "",
              "the released poll: %u %s", released.status, released.body.c_str());

  const Response hooked =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-video", R"({"prompt": "hooked"})");
  fail_unless(hooked.status == 418 && hooked.header("x-hooked") == "yes" &&
                  json_string(hooked.body, "error") == "hooked",
              "the hook's answer: %u X-Hooked '%s' %s", hooked.status,
              hooked.header("x-hooked").c_str(), hooked.body.c_str());
  const emu::Counters counted = emulator.counters();
  fail_unless(
      counted.status_polls == 2 && counted.submits_total == 1 && counted.submits_accepted == 0,
      "%d polls, %d submits, %d accepted", counted.status_polls, counted.submits_total,
      counted.submits_accepted);
}
GST_END_TEST;

static Suite *emulator_common_suite() {
  Suite *s = suite_create("emulator-common");
  TCase *rules = tcase_create("rules");
  suite_add_tcase(s, rules);
  tcase_add_test(rules, test_frame_sizes);
  tcase_add_test(rules, test_image_sizes);
  TCase *options = tcase_create("options");
  tcase_set_timeout(options, 120);
  suite_add_tcase(s, options);
  tcase_add_test(options, test_failing_emulator);
  tcase_add_loop_test(options, test_moov_placement, 0, 2);
  tcase_add_test(options, test_rate_limit);
  tcase_add_test(options, test_rate_limit_with_bearer_keys);
  tcase_add_test(options, test_hooks);
  // A 20 MB noise clip to encode when no earlier run left it in
  // GROKIMAGINE_EMULATOR_CLIPS.
  tcase_add_test(options, test_clip_bytes_and_stats);
  TCase *cdn = tcase_create("cdn");
  tcase_set_timeout(cdn, 120);
  suite_add_tcase(s, cdn);
  tcase_add_test(cdn, test_cdn_shaping);
  tcase_add_test(cdn, test_cdn_shared_link);
  return s;
}

GST_CHECK_MAIN(emulator_common);
