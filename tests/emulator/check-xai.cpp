// SPDX-License-Identifier: LGPL-2.1-or-later
// The emulator's xAI profile: refusals in xAI's envelope, a video job's
// pending polls and its clip, faults and expiry, synchronous images, input
// and reference images, how jobs end besides done, an input video traced
// back to the job it came from, and 404 for the other providers' paths.
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "emulator-checks.h"

using namespace emulator_checks;

// The emulator of the profile tests.
static emu::Options xai_options() {
  return timed(emu::Provider::Xai, 100, 600);
}

static const std::string kModel = R"("model": "grok-imagine-video", )";
static const std::string kGood =
    R"({"model": "grok-imagine-video", "prompt": "an xai fox", "duration": 1,)"
    R"( "aspect_ratio": "4:3"})";

struct XaiPoll {
  int empty_pending = 0;  // 202 with an empty body
  int json_pending = 0;   // 202 {"status": "pending", "progress": N}
  std::vector<gint64> progress;
  bool traced = true;  // every answer carried x-request-id
  Response final;
};

static XaiPoll poll_xai(Http &http, const std::string &url) {
  XaiPoll poll;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    Response response = http.get_bearer(url);
    poll.traced = poll.traced && !response.header("x-request-id").empty();
    if (response.status != 202) {
      poll.final = std::move(response);
      break;
    }
    if (response.body.empty()) {
      ++poll.empty_pending;
    } else {
      const Json json(response.body);
      fail_unless(json.str("$.status") == "pending", "202 with %s", response.body.c_str());
      ++poll.json_pending;
      poll.progress.push_back(json.integer("$.progress"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return poll;
}

// xAI's envelope: {"code": "...", "error": "message"}.
static bool xai_refused_as(const BadRequest &refused, const Response &response, const Json &json) {
  return response.status == refused.status && json.str("$.code") == refused.code &&
         contains(json.str("$.error"), refused.mentions);
}

GST_START_TEST(test_refusals) {
  emu::Emulator emulator(xai_options());
  Http http;
  const std::string videos = emulator.api_url() + "/v1/videos/generations";

  Response response = http.post_bearer(videos, kGood, nullptr);
  fail_unless(response.status == 401 && Json(response.body).str("$.code") == "unauthenticated" &&
                  !Json(response.body).str("$.error").empty() &&
                  !response.header("x-request-id").empty(),
              "no key: %u %s (x-request-id '%s')", response.status, response.body.c_str(),
              response.header("x-request-id").c_str());
  fail_unless(http.post_bearer(videos, kGood, "wrong-key").status == 401, "a wrong key accepted");
  fail_unless(http.post_json(videos, kGood).status == 401,
              "x-api-key accepted");  // x-api-key is not xAI's

  const std::string ref = R"({"url": "https://example.com/r.png"})";
  std::string eight_refs;
  for (int i = 0; i < 8; ++i) eight_refs += (i ? ", " : "") + ref;
  const BadRequest bad[] = {
      {"{not json", 400, "invalid_argument", "body"},
      {R"({"prompt": "x"})", 422, "invalid_argument", "`model`"},
      {R"({"model": "grok-imagine-video"})", 422, "invalid_argument", "`prompt`"},
      {R"({"model": "grok-imagine-video-9", "prompt": "x"})", 404, "not_found",
       "grok-imagine-video-9"},
      {"{" + kModel + R"("prompt": 42})", 400, "invalid_argument", "prompt"},
      {"{" + kModel + R"("prompt": "x", "duration": 0})", 400, "invalid_argument", "duration"},
      {"{" + kModel + R"("prompt": "x", "duration": 16})", 400, "invalid_argument", "duration"},
      {"{" + kModel + R"("prompt": "x", "duration": "8"})", 400, "invalid_argument", "duration"},
      {"{" + kModel + R"("prompt": "x", "aspect_ratio": "21:9"})", 400, "invalid_argument",
       "aspect_ratio"},
      {"{" + kModel + R"("prompt": "x", "resolution": "4k"})", 400, "invalid_argument",
       "resolution"},
      {"{" + kModel + R"("prompt": "x", "resolution": "1080p"})", 400, "invalid_argument", "1080p"},
      {"{" + kModel + R"("image": "https://example.com/a.png"})", 400, "invalid_argument", "image"},
      {"{" + kModel + R"("image": {"url": "ftp://example.com/a.png"}})", 400, "invalid_argument",
       "image.url"},
      {"{" + kModel + R"("image": {"url": "MDEyMzQ1Njc4OQ=="}})", 400, "invalid_argument",
       "image.url"},
      {"{" + kModel + R"("prompt": "x", "reference_images": [)" + eight_refs + "]}", 400,
       "invalid_argument", "reference_images"},
      {"{" + kModel + R"("prompt": "x", "image": )" + ref + R"(, "reference_images": [)" + ref +
           "]}",
       400, "invalid_argument", "reference_images"},
      {"{" + kModel + R"("prompt": "x", "reference_images": ["https://example.com/r.png"]})", 400,
       "invalid_argument", "reference_images[0]"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_bearer(videos, body); },
      [](const BadRequest &refused, const Response &response, const Json &json) {
        return xai_refused_as(refused, response, json) && !response.header("x-request-id").empty();
      });
  g_print("xai 400: %s\nxai 422: %s\nxai 404: %s\n",
          http.post_bearer(videos, bad[10].body).body.c_str(),
          http.post_bearer(videos, bad[1].body).body.c_str(),
          http.post_bearer(videos, bad[3].body).body.c_str());
  fail_unless(emulator.counters().submits_accepted == 0, "%d refused submits accepted",
              emulator.counters().submits_accepted);
}
GST_END_TEST;

GST_START_TEST(test_video_job) {
  emu::Emulator emulator(xai_options());
  Http http;
  const std::string videos = emulator.api_url() + "/v1/videos/generations";

  // Text to video. Pending polls alternate between an empty 202 and a
  // progress body.
  Response response = http.post_bearer(videos, kGood);
  const std::string id = Json(response.body).str("$.request_id");
  fail_unless(response.status == 200 && !id.empty() && !response.header("x-request-id").empty(),
              "submit: %u %s (x-request-id '%s')", response.status, response.body.c_str(),
              response.header("x-request-id").c_str());
  const emu::SubmitRecord record = emulator.submits().back();
  fail_unless(record.path == "/v1/videos/generations" && record.model == "grok-imagine-video" &&
                  record.request_id == id && record.image_bytes == -1 &&
                  record.reference_image_bytes.empty(),
              "recorded %s %s %s, image_bytes=%" G_GINT64_FORMAT ", %zu references",
              record.path.c_str(), record.model.c_str(), record.request_id.c_str(),
              static_cast<gint64>(record.image_bytes), record.reference_image_bytes.size());
  const std::string status_url = emulator.api_url() + "/v1/videos/" + id;
  const XaiPoll poll = poll_xai(http, status_url);
  const Json done(poll.final.body);
  const std::string video_url = done.str("$.video.url");
  g_print("xai job: %d empty + %d progress 202s (progress %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT
          "), then %s\n",
          poll.empty_pending, poll.json_pending, poll.progress.empty() ? -1 : poll.progress.front(),
          poll.progress.empty() ? -1 : poll.progress.back(), poll.final.body.c_str());
  fail_unless(poll.empty_pending >= 1 && poll.json_pending >= 1 && poll.traced,
              "%d empty and %d progress 202s, %s", poll.empty_pending, poll.json_pending,
              poll.traced ? "all traced" : "one without x-request-id");
  fail_unless(std::is_sorted(poll.progress.begin(), poll.progress.end()),
              "progress went backwards");
  fail_unless(!poll.progress.empty() && poll.progress.front() >= 0 && poll.progress.back() <= 99 &&
                  poll.progress.back() > 0,
              "progress %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT,
              poll.progress.empty() ? -1 : poll.progress.front(),
              poll.progress.empty() ? -1 : poll.progress.back());
  fail_unless(poll.final.status == 200 && done.str("$.status") == "done" &&
                  done.integer("$.progress") == 100,
              "ended %u %s", poll.final.status, poll.final.body.c_str());
  fail_unless(video_url == emulator.cdn_url() + "/videos/" + id + ".mp4", "video.url %s",
              video_url.c_str());
  fail_unless(
      done.integer("$.video.duration") == 1 && done.boolean("$.video.respect_moderation") == 1,
      "done: %s", poll.final.body.c_str());
  fail_unless(done.integer("$.usage.cost_in_usd_ticks") > 0, "no cost in %s",
              poll.final.body.c_str());
  fail_unless(
      http.request("GET", video_url, {{"Authorization", std::string("Bearer ") + kKey}}).status ==
          403,
      "the clip served with the key");
  const Response clip = http.request("GET", video_url);
  fail_unless(clip.status == 200 && clip.content_type == "video/mp4" &&
                  clip.body == read_file(emulator.clip_path(id)),
              "clip: %u %s, %zu bytes", clip.status, clip.content_type.c_str(), clip.body.size());
  check_clip(emulator.clip_path(id), 640, 480, 1);

  // Faults in xAI's envelope; unknown and expired ids.
  emulator.add_fault({emu::Phase::Status, 503, "", 0, -1, 1});
  response = http.get_bearer(status_url);
  fail_unless(response.status == 503 && Json(response.body).str("$.code") == "unavailable" &&
                  !response.header("x-request-id").empty(),
              "503 fault: %u %s", response.status, response.body.c_str());
  emulator.add_fault({emu::Phase::Download, 502, "", 0, -1, 1});
  fail_unless(http.request("GET", video_url).status == 502, "no 502 download fault");
  const emu::Counters before_limit = emulator.counters();
  emulator.add_fault({emu::Phase::Submit, 429, "", 0, -1, 1});
  response = http.post_bearer(videos, kGood);
  fail_unless(response.status == 429 && Json(response.body).str("$.code") == "resource_exhausted",
              "429 fault: %u %s", response.status, response.body.c_str());
  fail_unless(emulator.counters().submits_total == before_limit.submits_total + 1 &&
                  emulator.counters().submits_accepted == before_limit.submits_accepted,
              "a limited submit: %d counted, %d accepted",
              emulator.counters().submits_total - before_limit.submits_total,
              emulator.counters().submits_accepted - before_limit.submits_accepted);
  response = http.get_bearer(emulator.api_url() + "/v1/videos/no-such-id");
  fail_unless(response.status == 404 && Json(response.body).str("$.code") == "not_found",
              "unknown id: %u %s", response.status, response.body.c_str());
  fail_unless(http.get_bearer(status_url, nullptr).status == 401, "a poll without a key answered");
  emulator.expire(id);
  fail_unless(http.get_bearer(status_url).status == 404, "an expired job still polled");
  fail_unless(http.request("GET", video_url).status == 404, "an expired clip still served");

  // 1080p is for grok-imagine-video-1.5.
  response = http.post_bearer(
      videos,
      R"({"model": "grok-imagine-video-1.5", "prompt": "p", "resolution": "1080p", "duration": 1})");
  fail_unless(response.status == 200 && emulator.submits().back().model == "grok-imagine-video-1.5",
              "1080p on grok-imagine-video-1.5: %u %s", response.status, response.body.c_str());
}
GST_END_TEST;

GST_START_TEST(test_images_and_input_images) {
  const emu::Options options = xai_options();
  emu::Emulator emulator(options);
  Http http;
  const std::string videos = emulator.api_url() + "/v1/videos/generations";
  const std::string images = emulator.api_url() + "/v1/images/generations";

  // Images: synchronous, held for generation_ms, JPEG on the CDN.
  Response response;
  std::string first_image;
  gint64 elapsed_ms = time_of([&] {
    response =
        http.post_bearer(images, R"({"prompt": "two xai cats", "n": 2, "aspect_ratio": "16:9"})");
  });
  const Json data(response.body);
  const std::string images_id = emulator.submits().back().request_id;
  fail_unless(response.status == 200 && elapsed_ms >= options.generation_ms,
              "images: %u after %" G_GINT64_FORMAT " ms", response.status, elapsed_ms);
  fail_unless(emulator.submits().back().path == "/v1/images/generations" &&
                  emulator.submits().back().model == "grok-imagine-image",
              "recorded %s %s", emulator.submits().back().path.c_str(),
              emulator.submits().back().model.c_str());
  fail_unless(data.length("$.data") == 2, "images: %s", response.body.c_str());
  std::vector<std::string> bodies;
  for (int index = 0; index < 2; ++index) {
    const std::string prefix = "$.data[" + std::to_string(index) + "]";
    const std::string url = data.str((prefix + ".url").c_str());
    fail_unless(
        url == emulator.cdn_url() + "/images/" + images_id + "-" + std::to_string(index) + ".jpeg",
        "image %d at %s", index, url.c_str());
    fail_unless(data.str((prefix + ".mime_type").c_str()) == "image/jpeg", "image %d: %s", index,
                response.body.c_str());
    bodies.push_back(check_image_download(http, url, "image/jpeg", emu::image_size("1k", "16:9")));
  }
  fail_unless(bodies[0] != bodies[1], "the two images are the same");
  first_image = data.str("$.data[0].url");
  g_print("xai images: 2 x image/jpeg %dx%d after %" G_GINT64_FORMAT " ms (%zu and %zu bytes)\n",
          emu::image_size("1k", "16:9").width, emu::image_size("1k", "16:9").height, elapsed_ms,
          bodies[0].size(), bodies[1].size());
  response = http.post_bearer(
      images,
      R"({"prompt": "one xai cat", "model": "grok-imagine-image", "response_format": "b64_json",)"
      R"( "resolution": "2k", "aspect_ratio": "3:4"})");
  const Json b64(response.body);
  const ImageInfo inline_image = inspect_image(base64_decode(b64.str("$.data[0].b64_json")));
  fail_unless(response.status == 200 && b64.length("$.data") == 1 && !b64.has("$.data[0].url"),
              "b64_json: %u, %d images%s", response.status, b64.length("$.data"),
              b64.has("$.data[0].url") ? ", with a url" : "");
  fail_unless(inline_image.decoded && inline_image.media_type == "image/jpeg" &&
                  inline_image.width == emu::image_size("2k", "3:4").width &&
                  inline_image.height == emu::image_size("2k", "3:4").height,
              "b64_json: %s %dx%d (%s)", inline_image.media_type.c_str(), inline_image.width,
              inline_image.height, inline_image.error.c_str());
  g_print("xai b64_json: image/jpeg %dx%d\n", inline_image.width, inline_image.height);
  const BadRequest bad_images[] = {
      {R"({"n": 2})", 422, "invalid_argument", "`prompt`"},
      {R"({"prompt": "p", "n": 11})", 400, "invalid_argument", "n"},
      {R"({"prompt": "p", "n": 0})", 400, "invalid_argument", "n"},
      {R"({"prompt": "p", "model": "grok-2-image"})", 404, "not_found", "grok-2-image"},
      {R"({"prompt": "p", "response_format": "png"})", 400, "invalid_argument", "response_format"},
      {R"({"prompt": "p", "resolution": "4k"})", 400, "invalid_argument", "resolution"},
      {R"({"prompt": "p", "aspect_ratio": "auto"})", 400, "invalid_argument", "aspect_ratio"},
  };
  check_refusals(
      bad_images, [&](const std::string &body) { return http.post_bearer(images, body); },
      xai_refused_as);

  // The server keeps answering while a synchronous image request is held.
  std::atomic<guint> held_status{0};
  std::thread held([&] {
    Http own_connection;
    held_status = own_connection.post_bearer(images, R"({"prompt": "held"})").status;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  guint meanwhile_status = 0;
  const gint64 meanwhile_ms = time_of(
      [&] { meanwhile_status = http.get_bearer(emulator.api_url() + "/v1/videos/none").status; });
  held.join();
  fail_unless(meanwhile_status == 404, "a poll meanwhile answered %u", meanwhile_status);
  fail_unless(held_status == 200 && meanwhile_ms < kResponsiveMs,
              "held image request: %u; a poll meanwhile took %" G_GINT64_FORMAT " ms",
              held_status.load(), meanwhile_ms);

  // Input images: data: URIs are decoded, loopback URLs fetched.
  response = http.post_bearer(
      videos, "{" + kModel + R"("image": {"url": ")" + kTenByteDataUri + R"("}, "duration": 1})");
  fail_unless(response.status == 200 && emulator.submits().back().image_bytes == 10,
              "image as data: URI: %u, image_bytes=%" G_GINT64_FORMAT, response.status,
              static_cast<gint64>(emulator.submits().back().image_bytes));
  const gint64 first_size = static_cast<gint64>(http.request("GET", first_image).body.size());
  response = http.post_bearer(
      videos, "{" + kModel + R"("prompt": "refs", "duration": 1, "reference_images": [{"url": ")" +
                  kTenByteDataUri + R"("}, {"url": ")" + first_image + R"("}]})");
  emu::SubmitRecord record = emulator.submits().back();
  fail_unless(response.status == 200 && record.image_bytes == -1 &&
                  record.reference_image_bytes == std::vector<std::int64_t>({10, first_size}),
              "reference_images: %u %s, image_bytes=%" G_GINT64_FORMAT ", %zu references",
              response.status, response.body.c_str(), static_cast<gint64>(record.image_bytes),
              record.reference_image_bytes.size());
  g_print("xai reference_images: %u, bytes {%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "}\n",
          response.status, static_cast<gint64>(record.reference_image_bytes.at(0)),
          static_cast<gint64>(record.reference_image_bytes.at(1)));
  response = http.post_bearer(videos, "{" + kModel +
                                          R"("prompt": "refs", "reference_images": [{"url": ")" +
                                          emulator.cdn_url() + R"(/nothing.png"}]})");
  record = emulator.submits().back();
  fail_unless(response.status == 400 && contains(Json(response.body).str("$.error"),
                                                 "reference_images[0].url: could not fetch"),
              "a missing reference image: %u %s", response.status, response.body.c_str());
  fail_unless(
      record.request_id.empty() && record.reference_image_bytes == std::vector<std::int64_t>{0},
      "a refused submit recorded as %s with %zu references", record.request_id.c_str(),
      record.reference_image_bytes.size());

  const emu::Counters counters = emulator.counters();
  g_print("xai counters: submits %d/%d accepted, %d polls, %d downloads, %d keyed\n",
          counters.submits_accepted, counters.submits_total, counters.status_polls,
          counters.downloads, counters.cdn_requests_with_key);
}
GST_END_TEST;

GST_START_TEST(test_foreign_paths) {
  emu::Emulator emulator(xai_options());
  Http http;
  check_foreign_paths(http, emulator,
                      [](const Json &json) { return json.str("$.code") == "not_found"; });
}
GST_END_TEST;

// How xAI jobs end besides done: moderated, expired, failed (one each,
// __i__ of the loop test).
enum class Ending { Moderated, Expired, Failed };

GST_START_TEST(test_endings) {
  const Ending ending = static_cast<Ending>(__i__);
  emu::Options options = timed(emu::Provider::Xai, 10, 150);
  options.moderate = ending == Ending::Moderated;
  options.expire_jobs = ending == Ending::Expired;
  if (ending == Ending::Failed) options.fail_detail = "the prompt was rejected";
  emu::Emulator emulator(options);
  Http http;
  const Response submitted =
      http.post_bearer(emulator.api_url() + "/v1/videos/generations",
                       R"({"model": "grok-imagine-video", "prompt": "x", "duration": 1})");
  const std::string id = Json(submitted.body).str("$.request_id");
  const XaiPoll poll = poll_xai(http, emulator.api_url() + "/v1/videos/" + id);
  const Json json(poll.final.body);
  fail_unless(submitted.status == 200 && poll.final.status == 200, "submit %u, poll %u %s",
              submitted.status, poll.final.status, poll.final.body.c_str());
  const Response images =
      http.post_bearer(emulator.api_url() + "/v1/images/generations", R"({"prompt": "x"})");
  const Json image_json(images.body);
  g_print("xai ending: %s; images %u\n", poll.final.body.c_str(), images.status);
  switch (ending) {
    case Ending::Moderated:
      fail_unless(json.str("$.status") == "done" && json.has("$.video.url") &&
                      json.str("$.video.url").empty() &&
                      json.boolean("$.video.respect_moderation") == 0,
                  "moderated: %s", poll.final.body.c_str());
      fail_unless(http.request("GET", emulator.cdn_url() + "/videos/" + id + ".mp4").status == 404,
                  "a moderated clip served");
      fail_unless(images.status == 200 && image_json.str("$.data[0].url").empty() &&
                      image_json.boolean("$.data[0].respect_moderation") == 0,
                  "moderated images: %u %s", images.status, images.body.c_str());
      break;
    case Ending::Expired:
      fail_unless(json.str("$.status") == "expired", "expired: %s", poll.final.body.c_str());
      fail_unless(images.status == 200 && !image_json.str("$.data[0].url").empty(),
                  "images of an expiring emulator: %u %s", images.status, images.body.c_str());
      break;
    case Ending::Failed:
      fail_unless(json.str("$.status") == "failed" &&
                      json.str("$.error.code") == "generation_failed" &&
                      json.str("$.error.message") == options.fail_detail,
                  "failed: %s", poll.final.body.c_str());
      fail_unless(images.status == 400 && image_json.str("$.code") == "generation_failed" &&
                      image_json.str("$.error") == options.fail_detail,
                  "failed images: %u %s", images.status, images.body.c_str());
      break;
  }
}
GST_END_TEST;

// Submits an xAI video job to `path` and waits for it to end: its request
// id; the test fails (the answer reported) when it was refused or did not
// end done.
static std::string run_xai_job(Http &http, const emu::Emulator &emulator, const char *path,
                               const std::string &body) {
  const Response submitted = http.post_bearer(emulator.api_url() + path, body);
  const std::string id = Json(submitted.body).str("$.request_id");
  fail_unless(submitted.status == 200 && !id.empty(), "%s answered %u %s", path, submitted.status,
              submitted.body.c_str());
  const XaiPoll poll = poll_xai(http, emulator.api_url() + "/v1/videos/" + id);
  fail_unless(Json(poll.final.body).str("$.status") == "done", "job %s ended %u %s", id.c_str(),
              poll.final.status, poll.final.body.c_str());
  return id;
}

// Uploads `bytes` to xAI's Files API as an MP4: the file id.
static std::string upload_xai_file(Http &http, const emu::Emulator &emulator,
                                   const std::string &bytes) {
  SoupMultipart *multipart = soup_multipart_new(SOUP_FORM_MIME_TYPE_MULTIPART);
  g_autoptr(GBytes) file = g_bytes_new(bytes.data(), bytes.size());
  soup_multipart_append_form_file(multipart, "file", "clip.mp4", "video/mp4", file);
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_MULTIPART);
  g_autoptr(GBytes) body = nullptr;
  soup_multipart_to_message(multipart, headers, &body);
  soup_multipart_free(multipart);
  gsize size = 0;
  const auto *data = static_cast<const char *>(g_bytes_get_data(body, &size));
  const Response uploaded = http.request(
      "POST", emulator.api_url() + "/v1/files", {{"Authorization", std::string("Bearer ") + kKey}},
      std::string(data, size), soup_message_headers_get_one(headers, "Content-Type"));
  fail_unless(uploaded.status == 200, "upload: %u %s", uploaded.status, uploaded.body.c_str());
  return Json(uploaded.body).str("$.id");
}

// Plays `pipeline`, whose filesink is named "sink", into a temporary file:
// the MP4 it wrote.
static std::string record_mp4(GstElement *pipeline) {
  g_autofree gchar *path = nullptr;
  const int fd = g_file_open_tmp("emulator-input-XXXXXX", &path, nullptr);
  fail_unless(fd >= 0, "no temporary file");
  g_close(fd, nullptr);
  {
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_object_set(sink, "location", path, nullptr);
  }
  const std::string error = play_to_eos(pipeline, 60 * GST_SECOND);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (!error.empty()) g_remove(path);
  fail_unless(error.empty(), "writing an MP4: %s", error.c_str());
  const std::string mp4 = read_file(path);
  g_remove(path);
  return mp4;
}

// Drops samples until the first keyframe at or after `from`.
struct TailCut {
  GstClockTime from;
  bool reached = false;
  int dropped = 0;
};

static GstPadProbeReturn cut_tail(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *cut = static_cast<TailCut *>(data);
  GstBuffer *sample = GST_PAD_PROBE_INFO_BUFFER(info);
  cut->reached = cut->reached || (GST_BUFFER_PTS(sample) >= cut->from &&
                                  !GST_BUFFER_FLAG_IS_SET(sample, GST_BUFFER_FLAG_DELTA_UNIT));
  if (cut->reached) return GST_PAD_PROBE_OK;
  ++cut->dropped;
  return GST_PAD_PROBE_DROP;
}

// The video track of the MP4 at `path` from its first keyframe at or after
// `from`, remuxed with its samples copied (as a client sends the end of a
// clip to extend it).
static std::string remuxed_tail(const std::string &path, GstClockTime from) {
  std::string error;
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "filesrc name=source ! qtdemux name=demux demux.video_0 ! queue name=cut ! mux.video_0"
      " mp4mux name=mux ! filesink name=sink",
      &error);
  fail_unless(pipeline != nullptr, "remuxing pipeline: %s", error.c_str());
  g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
  g_autoptr(GstElement) queue = gst_bin_get_by_name(GST_BIN(pipeline), "cut");
  g_autoptr(GstPad) queue_sink = gst_element_get_static_pad(queue, "sink");
  g_object_set(source, "location", path.c_str(), nullptr);
  TailCut cut{from};
  gst_pad_add_probe(queue_sink, GST_PAD_PROBE_TYPE_BUFFER, cut_tail, &cut, nullptr);
  const std::string tail = record_mp4(pipeline);
  fail_unless(cut.dropped > 0, "nothing cut before %" GST_TIME_FORMAT, GST_TIME_ARGS(from));
  return tail;
}

// A 2 s H.264 MP4 the test encodes itself: no result of the emulator's.
static std::string foreign_mp4() {
  std::string error;
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "videotestsrc pattern=smpte num-buffers=48"
      " ! video/x-raw,width=320,height=240,framerate=24/1 ! x264enc speed-preset=ultrafast"
      " key-int-max=24 ! h264parse ! mp4mux ! filesink name=sink",
      &error);
  fail_unless(pipeline != nullptr, "encoding pipeline: %s", error.c_str());
  return record_mp4(pipeline);
}

static std::string mp4_data_uri(const std::string &mp4) {
  g_autofree gchar *encoded =
      g_base64_encode(reinterpret_cast<const guchar *>(mp4.data()), mp4.size());
  return std::string("data:video/mp4;base64,") + encoded;
}

// An extension's or edit's input video is traced back to the earlier job
// whose result it is, however it is sent (URL, data: URI, file_id) and when
// it is only a remux of that result's tail; a clip the emulator did not make
// traces back to none.
GST_START_TEST(test_input_origin) {
  emu::Emulator emulator(timed(emu::Provider::Xai, 10, 150));
  Http http;
  const std::string first =
      run_xai_job(http, emulator, "/v1/videos/generations",
                  R"({"model": "grok-imagine-video", "prompt": "first of two", "duration": 3})");
  // The latest job: matching `first` below is by content, not recency.
  [[maybe_unused]] const std::string second =
      run_xai_job(http, emulator, "/v1/videos/generations",
                  R"({"model": "grok-imagine-video", "prompt": "second of two", "duration": 3})");
  const std::string first_url = emulator.cdn_url() + "/videos/" + first + ".mp4";
  const Response download = http.request("GET", first_url);
  fail_unless(download.status == 200, "GET %s: %u", first_url.c_str(), download.status);

  // Extends the video `input` ({url} or {file_id}): the submit's record.
  const auto extend = [&](const std::string &input) {
    const Response response = http.post_bearer(
        emulator.api_url() + "/v1/videos/extensions",
        R"({"model": "grok-imagine-video", "prompt": "more", "duration": 2, "video": )" + input +
            "}");
    fail_unless(response.status == 200, "extension: %u %s", response.status, response.body.c_str());
    return emulator.submits().back();
  };
  const std::string tail = remuxed_tail(emulator.clip_path(first), GST_SECOND);
  const std::string file_id = upload_xai_file(http, emulator, download.body);
  const struct {
    const char *sent_as;
    std::string input;
    const char *video_source;
    std::string origin;
  } inputs[] = {
      {"its URL", R"({"url": ")" + first_url + R"("})", "url", first},
      {"a data: URI", R"({"url": ")" + mp4_data_uri(download.body) + R"("})", "data", first},
      {"a file_id", R"({"file_id": ")" + file_id + R"("})", "file_id", first},
      {"its tail remuxed", R"({"url": ")" + mp4_data_uri(tail) + R"("})", "data", first},
      {"a foreign clip", R"({"url": ")" + mp4_data_uri(foreign_mp4()) + R"("})", "data", ""},
  };
  for (const auto &input : inputs) {
    const emu::SubmitRecord record = extend(input.input);
    fail_unless(
        record.video_source == input.video_source && record.video_from_request_id == input.origin,
        "%s: from %s \"%s\", expected \"%s\"", input.sent_as, record.video_source.c_str(),
        record.video_from_request_id.c_str(), input.origin.c_str());
  }

  // An extension's result is a result too: an edit of it traces back to it.
  const std::string extended_id = run_xai_job(
      http, emulator, "/v1/videos/extensions",
      R"({"model": "grok-imagine-video", "prompt": "further", "duration": 2, "video": {"url": ")" +
          first_url + R"("}})");
  const Response edit = http.post_bearer(
      emulator.api_url() + "/v1/videos/edits",
      R"({"model": "grok-imagine-video", "prompt": "in grey", "video": {"url": ")" +
          emulator.cdn_url() + "/videos/" + extended_id + R"(.mp4"}})");
  fail_unless(edit.status == 200 && emulator.submits().back().video_from_request_id == extended_id,
              "edit of %s: %u %s, traced to \"%s\"", extended_id.c_str(), edit.status,
              edit.body.c_str(), emulator.submits().back().video_from_request_id.c_str());
  g_print(
      "xai input origin: %s's result traced as its URL, a data: URI, a file_id and a "
      "%zu-byte remuxed tail; a foreign clip to none; an edit of %s to it\n",
      first.c_str(), tail.size(), extended_id.c_str());
}
GST_END_TEST;

static Suite *emulator_xai_suite() {
  Suite *s = suite_create("emulator-xai");
  TCase *profile = tcase_create("profile");
  tcase_set_timeout(profile, 120);
  suite_add_tcase(s, profile);
  tcase_add_test(profile, test_refusals);
  tcase_add_test(profile, test_video_job);
  tcase_add_test(profile, test_images_and_input_images);
  tcase_add_test(profile, test_foreign_paths);
  tcase_add_loop_test(profile, test_endings, static_cast<int>(Ending::Moderated),
                      static_cast<int>(Ending::Failed) + 1);
  TCase *operations = tcase_create("operations");
  tcase_set_timeout(operations, 120);
  suite_add_tcase(s, operations);
  tcase_add_test(operations, test_input_origin);
  return s;
}

GST_CHECK_MAIN(emulator_xai);
