// SPDX-License-Identifier: LGPL-2.1-or-later
// The emulator's Segmind profile: submit validation, a job's statuses and its
// clip, the CDN's downloads, input images, faults and expiry, the synchronous
// 1.5 preview, the image model, and 404 for the other providers' paths.
#include <gst/check/gstcheck.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "emulator-checks.h"

using namespace emulator_checks;

// The emulator of the job tests: slow enough to see QUEUED and PROCESSING.
static emu::Options job_options() {
  return timed(emu::Provider::Segmind, 300, 900);
}

// Quotes and a backslash in the prompt: it must reach textoverlay intact.
static const char *const kQuotedJob =
    R"({"prompt": "A \"quoted\" fox \\ jumps", "duration": 2, "resolution": "480p", "aspect_ratio": "9:16"})";

static std::string run_quoted_job(Http &http, emu::Emulator &emulator, std::string *output_url,
                                  PollOutcome *poll = nullptr) {
  return run_job(http, emulator, kQuotedJob, output_url, poll);
}

GST_START_TEST(test_submit_validation) {
  emu::Emulator emulator(job_options());
  Http http;
  g_print("emulator: api %s, cdn %s\n", emulator.api_url().c_str(), emulator.cdn_url().c_str());
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-video";
  const std::string good = R"({"prompt": "a cat", "duration": 2})";
  const emu::Counters before = emulator.counters();

  Response response = http.post_json(submit_url, good, "wrong-key");
  fail_unless(response.status == 401 && json_string(response.body, "error") == "Invalid API key",
              "wrong key: %u %s", response.status, response.body.c_str());
  response = http.post_json(submit_url, good, nullptr);
  fail_unless(response.status == 401, "no key: %u %s", response.status, response.body.c_str());
  response = http.post_json(emulator.api_url() + "/v2/some-other-model", good);
  fail_unless(response.status == 404 && json_string(response.body, "error") == "Model not found",
              "other model: %u %s", response.status, response.body.c_str());

  const char *const bad_bodies[] = {
      "{not json",
      R"(["a list"])",
      R"({"duration": 2})",
      R"({"prompt": 42})",
      R"({"prompt": "x", "duration": 0})",
      R"({"prompt": "x", "duration": 16})",
      R"({"prompt": "x", "duration": "6"})",
      R"({"prompt": "x", "duration": 6.5})",
      R"({"prompt": "x", "resolution": "4k"})",
      R"({"prompt": "x", "aspect_ratio": "21:9"})",
      R"({"prompt": "x", "image": "not base64!"})",
      R"({"prompt": "x", "image": "data:text/plain;base64,aGVsbG8="})",
  };
  for (const char *body : bad_bodies) {
    response = http.post_json(submit_url, body);
    fail_unless(response.status == 400 && !json_string(response.body, "error").empty(),
                "body %s answered %u %s", body, response.status, response.body.c_str());
  }
  const std::string long_prompt = R"({"prompt": ")" + std::string(4097, 'a') + R"("})";
  response = http.post_json(submit_url, long_prompt);
  fail_unless(response.status == 400, "a 4097-character prompt answered %u %s", response.status,
              response.body.c_str());
  g_print("400 example: %s\n", http.post_json(submit_url, bad_bodies[5]).body.c_str());

  const emu::Counters after = emulator.counters();
  fail_unless(after.submits_accepted == before.submits_accepted, "%d refused submits accepted",
              after.submits_accepted - before.submits_accepted);
  fail_unless(after.submits_total > before.submits_total, "refused submits not counted");
  const std::vector<emu::SubmitRecord> records = emulator.submits();
  fail_unless(!records.empty() && records.back().request_id.empty(),
              "a refused submit recorded with a request id");
}
GST_END_TEST;

GST_START_TEST(test_job_statuses_and_clip) {
  emu::Emulator emulator(job_options());
  Http http;
  std::string output_url;
  PollOutcome poll;
  const std::string request_id = run_quoted_job(http, emulator, &output_url, &poll);
  g_print("job %s: %s, slowest poll %" G_GINT64_FORMAT " ms\n", request_id.c_str(),
          joined(poll.statuses_seen).c_str(), poll.slowest_poll_ms);
  fail_unless(poll.statuses_seen.size() >= 3 && poll.statuses_seen[0] == "QUEUED" &&
                  poll.statuses_seen[1] == "PROCESSING",
              "statuses %s", joined(poll.statuses_seen).c_str());
  fail_unless(poll.slowest_poll_ms < kResponsiveMs, "slowest poll %" G_GINT64_FORMAT " ms",
              poll.slowest_poll_ms);
  const Response result = http.get_with_key(emulator.api_url() + "/v2/requests/" + request_id);
  fail_unless(Json(result.body).integer("$.metrics.duration_s") == 2, "result %s",
              result.body.c_str());
  check_clip(emulator.clip_path(request_id), 480, 848, 2);
}
GST_END_TEST;

GST_START_TEST(test_downloads) {
  emu::Emulator emulator(job_options());
  Http http;
  std::string output_url;
  const std::string request_id = run_quoted_job(http, emulator, &output_url);
  check_downloads(http, emulator, request_id, output_url);
}
GST_END_TEST;

// Input images: base64 and data: URIs decoded, a loopback URL fetched.
static void check_images(Http &http, emu::Emulator &emulator, const std::string &image_url,
                         gint64 image_size) {
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-video";
  // "0123456789" is 10 bytes; base64 MDEyMzQ1Njc4OQ==
  fail_unless(
      http.post_json(submit_url, R"({"image": "data:image/png;base64,MDEyMzQ1Njc4OQ=="})").status ==
          200,
      "an image as data: URI refused");
  fail_unless(emulator.submits().back().image_bytes == 10,
              "data: URI image of %" G_GINT64_FORMAT " bytes",
              static_cast<gint64>(emulator.submits().back().image_bytes));
  fail_unless(
      http.post_json(submit_url, R"({"prompt": "p", "image": "MDEyMzQ1Njc4OQ=="})").status == 200,
      "an image in base64 refused");
  fail_unless(emulator.submits().back().image_bytes == 10,
              "base64 image of %" G_GINT64_FORMAT " bytes",
              static_cast<gint64>(emulator.submits().back().image_bytes));
  // A loopback URL is fetched (here: a clip on this emulator's own CDN, which
  // also shows the fetch does not block the server thread).
  const Response fetched =
      http.post_json(submit_url, R"({"prompt": "p", "image": ")" + image_url + R"("})");
  fail_unless(fetched.status == 200, "image by URL: %u %s", fetched.status, fetched.body.c_str());
  fail_unless(emulator.submits().back().image_bytes == image_size,
              "image by URL: image_bytes=%" G_GINT64_FORMAT " (clip is %" G_GINT64_FORMAT ")",
              static_cast<gint64>(emulator.submits().back().image_bytes), image_size);
  g_print("image by URL: %u, image_bytes=%" G_GINT64_FORMAT " (clip is %" G_GINT64_FORMAT ")\n",
          fetched.status, static_cast<gint64>(emulator.submits().back().image_bytes), image_size);
  const Response missing = http.post_json(
      submit_url, R"({"prompt": "p", "image": ")" + emulator.cdn_url() + R"(/nothing.png"})");
  fail_unless(missing.status == 400, "a missing image URL answered %u %s", missing.status,
              missing.body.c_str());
  fail_unless(http.post_json(submit_url, R"({"prompt": "p"})").status == 200,
              "a prompt alone refused");
  fail_unless(emulator.submits().back().image_bytes == -1,
              "no image, yet image_bytes=%" G_GINT64_FORMAT,
              static_cast<gint64>(emulator.submits().back().image_bytes));
}

// A bigger clip: the server stays responsive while it encodes.
GST_START_TEST(test_wide_job_and_image_inputs) {
  emu::Emulator emulator(job_options());
  Http http;
  std::string wide_url;
  PollOutcome wide_poll;
  const std::string wide_id =
      run_job(http, emulator, R"({"prompt": "wide", "duration": 4, "resolution": "720p"})",
              &wide_url, &wide_poll);
  g_print("720p job: %s, slowest poll %" G_GINT64_FORMAT " ms\n",
          joined(wide_poll.statuses_seen).c_str(), wide_poll.slowest_poll_ms);
  fail_unless(wide_poll.slowest_poll_ms < kResponsiveMs, "slowest poll %" G_GINT64_FORMAT " ms",
              wide_poll.slowest_poll_ms);
  check_clip(emulator.clip_path(wide_id), 1280, 720, 4);
  check_images(http, emulator, wide_url,
               static_cast<gint64>(read_file(emulator.clip_path(wide_id)).size()));
}
GST_END_TEST;

GST_START_TEST(test_faults_and_expiry) {
  emu::Emulator emulator(job_options());
  Http http;
  std::string output_url;
  const std::string request_id = run_quoted_job(http, emulator, &output_url);
  const std::string status_url = emulator.api_url() + "/v2/requests/" + request_id + "/status";
  const std::string result_url = emulator.api_url() + "/v2/requests/" + request_id;

  // A delayed 503 must not hold up the other requests.
  emulator.add_fault({emu::Phase::Status, 503, "", 400, -1, 1});
  std::atomic<gint64> delayed_ms{0};
  std::atomic<guint> delayed_status{0};
  std::thread delayed([&] {
    Http own_connection;
    const gint64 started = g_get_monotonic_time();
    delayed_status = own_connection.get_with_key(status_url).status;
    delayed_ms = (g_get_monotonic_time() - started) / 1000;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const gint64 started = g_get_monotonic_time();
  const Response meanwhile = http.get_with_key(result_url);
  const gint64 meanwhile_ms = (g_get_monotonic_time() - started) / 1000;
  delayed.join();
  g_print("delayed status fault: %u after %" G_GINT64_FORMAT
          " ms; a result fetch meanwhile took %" G_GINT64_FORMAT " ms\n",
          delayed_status.load(), delayed_ms.load(), meanwhile_ms);
  fail_unless(delayed_status == 503 && delayed_ms >= 400,
              "delayed status fault: %u after %" G_GINT64_FORMAT " ms", delayed_status.load(),
              delayed_ms.load());
  fail_unless(meanwhile.status == 200 && meanwhile_ms < kResponsiveMs,
              "a result fetch meanwhile: %u after %" G_GINT64_FORMAT " ms", meanwhile.status,
              meanwhile_ms);
  fail_unless(http.get_with_key(status_url).status == 200, "no normal poll after the fault");

  // A custom body, and a fault that repeats.
  emulator.add_fault({emu::Phase::Result, 500, "{broken", 0, -1, 2});
  const Response broken = http.get_with_key(result_url);
  fail_unless(broken.status == 500 && broken.body == "{broken", "custom fault: %u %s",
              broken.status, broken.body.c_str());
  fail_unless(http.get_with_key(result_url).status == 500, "the fault did not repeat");
  fail_unless(http.get_with_key(result_url).status == 200, "the fault repeated a third time");

  // A refused submit: counted, recorded, not billed.
  const emu::Counters before = emulator.counters();
  emulator.add_fault({emu::Phase::Submit, 429, "", 0, -1, 1});
  const Response limited =
      http.post_json(emulator.api_url() + "/v2/grok-imagine-video", R"({"prompt": "x"})");
  fail_unless(limited.status == 429, "429 fault: %u %s", limited.status, limited.body.c_str());
  const emu::Counters after = emulator.counters();
  fail_unless(after.submits_total == before.submits_total + 1, "%d submits counted, want 1",
              after.submits_total - before.submits_total);
  fail_unless(after.submits_accepted == before.submits_accepted, "%d refused submits accepted",
              after.submits_accepted - before.submits_accepted);
  fail_unless(emulator.submits().back().request_id.empty(),
              "a refused submit recorded with a request id");

  fail_unless(
      http.get_with_key(emulator.api_url() + "/v2/requests/no-such-id/status").status == 404,
      "an unknown id not answered 404");
  fail_unless(http.request("GET", status_url).status == 401, "a poll without a key not refused");

  emulator.expire(request_id);
  const Response expired = http.get_with_key(status_url);
  fail_unless(
      expired.status == 404 && json_string(expired.body, "error") == "Request not found or expired",
      "expired poll: %u %s", expired.status, expired.body.c_str());
  fail_unless(http.get_with_key(result_url).status == 404, "expired result still served");
  fail_unless(http.request("GET", output_url).status == 404, "expired clip still on the CDN");

  const emu::Counters counters = emulator.counters();
  g_print("counters: submits %d/%d accepted, %d polls, %d results, %d downloads, %d keyed\n",
          counters.submits_accepted, counters.submits_total, counters.status_polls,
          counters.result_fetches, counters.downloads, counters.cdn_requests_with_key);
}
GST_END_TEST;

// A Segmind refusal: 400, the error text starting with the field's name.
struct SegmindBad {
  const char *body;
  const char *mentions;
};

static bool segmind_refused_as(const SegmindBad &refused, const Response &response,
                               const Json &json) {
  return response.status == 400 && starts_with(json.str("$.error"), refused.mentions);
}

GST_START_TEST(test_preview_is_synchronous) {
  const emu::Options options = timed(emu::Provider::Segmind, 50, 400);
  emu::Emulator emulator(options);
  Http http;
  const std::string url = emulator.api_url() + "/v1/grok-imagine-video-1.5-preview";
  const std::string good = std::string(R"({"image": ")") + kTenByteDataUri +
                           R"(", "prompt": "a preview cat", "duration": 1, "resolution": "480p",)"
                           R"( "aspect_ratio": "1:1"})";

  Response response = http.post_json(url, good, "wrong-key");
  fail_unless(response.status == 401 && json_string(response.body, "error") == "Invalid API key",
              "wrong key: %u %s", response.status, response.body.c_str());
  const SegmindBad bad[] = {
      {R"({"prompt": "p"})", "image:"},
      {R"({"image": "MDEyMzQ1Njc4OQ=="})", "prompt:"},
      {R"({"image": "MDEyMzQ1Njc4OQ==", "prompt": "p", "resolution": "1080p"})", "resolution:"},
      {R"({"image": "MDEyMzQ1Njc4OQ==", "prompt": "p", "duration": 16})", "duration:"},
      {R"({"image": "MDEyMzQ1Njc4OQ==", "prompt": "p", "aspect_ratio": "21:9"})", "aspect_ratio:"},
      {R"({"image": "not base64!", "prompt": "p"})", "image:"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_json(url, body); }, segmind_refused_as);
  g_print("segmind 1.5 preview 400: %s\n", http.post_json(url, bad[2].body).body.c_str());

  // Synchronous: the answer is the MP4 itself, after generation_ms; no polls.
  const int polls_before = emulator.counters().status_polls;
  const emu::Counters before = emulator.counters();
  gint64 elapsed_ms = time_of([&] { response = http.post_json(url, good); });
  const emu::SubmitRecord record = emulator.submits().back();
  fail_unless(response.status == 200 && response.content_type == "video/mp4", "preview: %u %s",
              response.status, response.content_type.c_str());
  fail_unless(response.content_length == static_cast<goffset>(response.body.size()),
              "preview: Content-Length %" G_GOFFSET_FORMAT " for %zu bytes",
              response.content_length, response.body.size());
  fail_unless(elapsed_ms >= options.generation_ms,
              "preview answered after %" G_GINT64_FORMAT " ms, before generation_ms", elapsed_ms);
  fail_unless(record.path == "/v1/grok-imagine-video-1.5-preview" &&
                  record.model == "grok-imagine-video-1.5-preview" && record.image_bytes == 10 &&
                  !record.request_id.empty(),
              "recorded %s %s, image_bytes=%" G_GINT64_FORMAT ", request id '%s'",
              record.path.c_str(), record.model.c_str(), static_cast<gint64>(record.image_bytes),
              record.request_id.c_str());
  fail_unless(response.body == read_file(emulator.clip_path(record.request_id)),
              "the answer is not the job's clip");
  fail_unless(emulator.counters().status_polls == polls_before, "status polls counted");
  fail_unless(emulator.counters().submits_accepted == before.submits_accepted + 1,
              "%d submits accepted, want 1",
              emulator.counters().submits_accepted - before.submits_accepted);
  g_print("segmind 1.5 preview: 200 %s, %zu bytes after %" G_GINT64_FORMAT " ms\n",
          response.content_type.c_str(), response.body.size(), elapsed_ms);
  check_clip(emulator.clip_path(record.request_id), 480, 480, 1);

  // A delay fault holds the answer longer; other requests go on meanwhile.
  emulator.add_fault({emu::Phase::Submit, 0, "", 500, -1, 1});
  std::atomic<gint64> delayed_ms{0};
  std::atomic<guint> delayed_status{0};
  std::thread delayed([&] {
    Http own_connection;
    delayed_ms = time_of([&] { delayed_status = own_connection.post_json(url, good).status; });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  guint meanwhile_status = 0;
  const gint64 meanwhile_ms = time_of([&] {
    meanwhile_status = http.get_with_key(emulator.api_url() + "/v2/requests/none/status").status;
  });
  delayed.join();
  g_print("segmind 1.5 preview with delay_ms=500: %u after %" G_GINT64_FORMAT
          " ms; a poll meanwhile took %" G_GINT64_FORMAT " ms\n",
          delayed_status.load(), delayed_ms.load(), meanwhile_ms);
  fail_unless(meanwhile_status == 404, "a poll meanwhile answered %u", meanwhile_status);
  fail_unless(delayed_status == 200 && delayed_ms >= 500 + options.generation_ms,
              "delayed preview: %u after %" G_GINT64_FORMAT " ms", delayed_status.load(),
              delayed_ms.load());
  fail_unless(meanwhile_ms < kResponsiveMs, "a poll meanwhile took %" G_GINT64_FORMAT " ms",
              meanwhile_ms);

  emulator.add_fault({emu::Phase::Submit, 406, R"({"error":"Insufficient credits"})", 0, -1, 1});
  response = http.post_json(url, good);
  fail_unless(
      response.status == 406 && json_string(response.body, "error") == "Insufficient credits",
      "406 fault: %u %s", response.status, response.body.c_str());

  // Other models on v1 answer with their media too.
  response =
      http.post_json(emulator.api_url() + "/v1/grok-imagine-image",
                     R"({"prompt": "sync image", "resolution": "1k", "aspect_ratio": "1:1"})");
  const ImageInfo info = inspect_image(response.body);
  fail_unless(response.status == 200 && response.content_type == "image/png" && info.decoded &&
                  info.width == 1024 && info.height == 1024,
              "v1 image: %u %s, decoded %s %dx%d (%s)", response.status,
              response.content_type.c_str(), info.media_type.c_str(), info.width, info.height,
              info.error.c_str());
  fail_unless(http.post_json(emulator.api_url() + "/v1/no-such-model", good).status == 404,
              "an unknown v1 model not answered 404");
  // The preview model also runs as an async v2 job.
  response = http.post_json(emulator.api_url() + "/v2/grok-imagine-video-1.5-preview", good);
  fail_unless(response.status == 200 && json_string(response.body, "status") == "QUEUED",
              "v2 preview: %u %s", response.status, response.body.c_str());
}
GST_END_TEST;

// Submits to Segmind's v2 image model and polls it to COMPLETED; returns the
// output URLs.
static std::vector<std::string> run_segmind_images(Http &http, emu::Emulator &emulator,
                                                   const std::string &body,
                                                   std::string *request_id) {
  std::vector<std::string> urls;
  const SegmindJob job = run_segmind_job(http, emulator, "grok-imagine-image", body);
  *request_id = json_string(job.submitted.body, "request_id");
  fail_unless(job.poll.final_status == "COMPLETED", "image job ended %u %s", job.poll.final_http,
              job.poll.final_body.c_str());
  const Response result = http.get_with_key(json_string(job.submitted.body, "response_url"));
  const Json json(result.body);
  fail_unless(result.status == 200 && json.has("$.metrics.inference_time"), "result: %u %s",
              result.status, result.body.c_str());
  for (int index = 0; index < json.length("$.output"); ++index) {
    urls.push_back(json.str(("$.output[" + std::to_string(index) + "]").c_str()));
  }
  return urls;
}

GST_START_TEST(test_image_model) {
  const emu::Options options = timed(emu::Provider::Segmind, 50, 300);
  emu::Emulator emulator(options);
  Http http;
  const std::string submit_url = emulator.api_url() + "/v2/grok-imagine-image";
  const SegmindBad bad[] = {
      {R"({"n": 2})", "prompt:"},
      {R"({"prompt": "p", "n": 5})", "n:"},
      {R"({"prompt": "p", "n": 0})", "n:"},
      {R"({"prompt": "p", "output_format": "gif"})", "output_format:"},
      {R"({"prompt": "p", "resolution": "4k"})", "resolution:"},
      {R"({"prompt": "p", "aspect_ratio": "21:9"})", "aspect_ratio:"},
      {R"({"prompt": "p", "mode": "fast"})", "mode:"},
      {R"({"prompt": "p", "image": "not base64!"})", "image:"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_json(submit_url, body); },
      segmind_refused_as);
  g_print("segmind image 400: %s\n", http.post_json(submit_url, bad[5].body).body.c_str());
  fail_unless(emulator.counters().submits_accepted == 0, "%d refused submits accepted",
              emulator.counters().submits_accepted);

  // n images, each its own URL, type and content.
  std::string request_id;
  const std::vector<std::string> urls = run_segmind_images(
      http, emulator,
      R"({"prompt": "three leopards", "n": 3, "output_format": "webp", "resolution": "1k",)"
      R"( "aspect_ratio": "9:19.5", "mode": "quality"})",
      &request_id);
  std::vector<std::string> images;
  fail_unless(urls.size() == 3, "%zu images, want 3", urls.size());
  for (std::size_t index = 0; index < urls.size(); ++index) {
    fail_unless(urls[index] == emulator.cdn_url() + "/images/" + request_id + "-" +
                                   std::to_string(index) + ".webp",
                "image %zu at %s", index, urls[index].c_str());
    images.push_back(
        check_image_download(http, urls[index], "image/webp", emu::image_size("1k", "9:19.5")));
  }
  fail_unless(images[0] != images[1] && images[1] != images[2] && images[0] != images[2],
              "two of the three images are the same");
  g_print("segmind images: 3 x image/webp %dx%d (%zu, %zu, %zu bytes, all different)\n",
          emu::image_size("1k", "9:19.5").width, emu::image_size("1k", "9:19.5").height,
          images[0].size(), images[1].size(), images[2].size());

  // The CDN: the right extension and index only, no key, ranges.
  const std::string base = emulator.cdn_url() + "/images/" + request_id;
  fail_unless(http.request("GET", base + "-0.png").status == 404, "-0.png served");
  fail_unless(http.request("GET", base + "-3.webp").status == 404, "-3.webp served");
  fail_unless(http.request("GET", base + "-x.webp").status == 404, "-x.webp served");
  fail_unless(http.get_with_key(urls[0]).status == 403, "an image served with the key");
  const Response range = http.request("GET", urls[1], {{"Range", "bytes=0-99"}});
  fail_unless(range.status == 206 && range.body == images[1].substr(0, 100),
              "Range bytes=0-99: %u, %zu bytes", range.status, range.body.size());
  emulator.add_fault({emu::Phase::Download, 0, "", 0, 50, 1});
  const RawResponse cut = raw_get(emulator.cdn_url(), urls[2].substr(emulator.cdn_url().size()));
  fail_unless(cut.announced_length == static_cast<goffset>(images[2].size()) &&
                  cut.body == images[2].substr(0, 50) && cut.closed,
              "truncate_at=50: announced %" G_GOFFSET_FORMAT " of %zu, received %zu bytes, %s",
              cut.announced_length, images[2].size(), cut.body.size(),
              cut.closed ? "EOF" : "no EOF");

  // Defaults: one 2k 16:9 PNG.
  const std::vector<std::string> defaults =
      run_segmind_images(http, emulator, R"({"prompt": "one leopard"})", &request_id);
  fail_unless(defaults.size() == 1 && ends_with(defaults[0], "-0.png"), "defaults: %zu images %s",
              defaults.size(), joined(defaults).c_str());
  check_image_download(http, defaults[0], "image/png", emu::image_size("2k", "16:9"));

  // Editing: an input image by loopback URL is fetched.
  const std::vector<std::string> edited = run_segmind_images(
      http, emulator,
      R"({"prompt": "edit it", "output_format": "jpeg", "resolution": "1k", "aspect_ratio":)"
      R"( "auto", "image": ")" +
          urls[0] + R"("})",
      &request_id);
  fail_unless(emulator.submits().back().image_bytes == static_cast<gint64>(images[0].size()),
              "input image of %" G_GINT64_FORMAT " bytes, want %zu",
              static_cast<gint64>(emulator.submits().back().image_bytes), images[0].size());
  fail_unless(edited.size() == 1, "edit: %zu images", edited.size());
  check_image_download(http, edited[0], "image/jpeg", emu::image_size("1k", "auto"));
  const emu::SubmitRecord record = emulator.submits().back();
  fail_unless(record.path == "/v2/grok-imagine-image" && record.model == "grok-imagine-image",
              "recorded %s %s", record.path.c_str(), record.model.c_str());
}
GST_END_TEST;

GST_START_TEST(test_foreign_paths) {
  emu::Emulator emulator(timed(emu::Provider::Segmind, 50, 300));
  Http http;
  check_foreign_paths(http, emulator,
                      [](const Json &json) { return json.str("$.error") == "Not found"; });
}
GST_END_TEST;

static Suite *emulator_segmind_suite() {
  Suite *s = suite_create("emulator-segmind");
  TCase *jobs = tcase_create("jobs");
  tcase_set_timeout(jobs, 120);
  suite_add_tcase(s, jobs);
  tcase_add_test(jobs, test_submit_validation);
  tcase_add_test(jobs, test_job_statuses_and_clip);
  tcase_add_test(jobs, test_downloads);
  tcase_add_test(jobs, test_wide_job_and_image_inputs);
  tcase_add_test(jobs, test_faults_and_expiry);
  TCase *models = tcase_create("models");
  tcase_set_timeout(models, 120);
  suite_add_tcase(s, models);
  tcase_add_test(models, test_preview_is_synchronous);
  tcase_add_test(models, test_image_model);
  tcase_add_test(models, test_foreign_paths);
  return s;
}

GST_CHECK_MAIN(emulator_segmind);
