// SPDX-License-Identifier: LGPL-2.1-or-later
// The emulator's AI/ML API profile: refusals in its envelope, a job polled by
// generation_id to its clip, status errors, reference images and an
// image_url, 404 for the other providers' paths, and a job that fails.
#include <gst/check/gstcheck.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emulator-checks.h"

using namespace emulator_checks;

// The emulator of the profile tests.
static emu::Options aimlapi_options() {
  return timed(emu::Provider::Aimlapi, 100, 500);
}

static const std::string kModel = R"("model": "x-ai/grok-imagine-video", )";
static const std::string kGood = "{" + kModel +
                                 R"("prompt": "an aiml fox", "duration": 1, "resolution": "480p",)"
                                 R"( "aspect_ratio": "9:16"})";

static bool aimlapi_pending(const std::string &status) {
  return status != "completed" && status != "error";
}

GST_START_TEST(test_refusals) {
  emu::Emulator emulator(aimlapi_options());
  Http http;
  const std::string endpoint = emulator.api_url() + "/v2/video/generations";

  Response response = http.post_bearer(endpoint, kGood, nullptr);
  fail_unless(response.status == 401 &&
                  Json(response.body).str("$.error.code") == "invalid_api_key" &&
                  !Json(response.body).str("$.error.message").empty(),
              "no key: %u %s", response.status, response.body.c_str());
  fail_unless(http.post_bearer(endpoint, kGood, "wrong-key").status == 401, "a wrong key accepted");

  std::string eight_refs;
  for (int i = 0; i < 8; ++i) eight_refs += std::string(i ? ", " : "") + "\"https://e.com/r.png\"";
  const BadRequest bad[] = {
      {"{not json", 400, "invalid_request", "body"},
      {R"({"prompt": "x"})", 400, "invalid_request", "model"},
      {R"({"model": "x-ai/grok-imagine-video-2", "prompt": "x"})", 400, "invalid_request", "model"},
      {"{" + kModel + R"("duration": 2})", 400, "invalid_request", "prompt"},
      {"{" + kModel + R"("prompt": "x", "duration": 16})", 400, "invalid_request", "duration"},
      {"{" + kModel + R"("prompt": "x", "duration": "10"})", 400, "invalid_request", "duration"},
      {"{" + kModel + R"("prompt": "x", "resolution": "1080p"})", 400, "invalid_request",
       "resolution"},
      {"{" + kModel + R"("prompt": "x", "aspect_ratio": "21:9"})", 400, "invalid_request",
       "aspect_ratio"},
      {"{" + kModel + R"("image_url": "ftp://e.com/a.png"})", 400, "invalid_request", "image_url"},
      {"{" + kModel + R"("image_url": 5})", 400, "invalid_request", "image_url"},
      {"{" + kModel + R"("prompt": "x", "reference_images": []})", 400, "invalid_request",
       "reference_images"},
      {"{" + kModel + R"("prompt": "x", "reference_images": [)" + eight_refs + "]}", 400,
       "invalid_request", "reference_images"},
      {"{" + kModel + R"("prompt": "x", "reference_images": ["x"]})", 400, "invalid_request",
       "reference_images[0]"},
      {"{" + kModel +
           R"("prompt": "x", "image_url": "https://e.com/a.png", "reference_images": ["https://e.com/r.png"]})",
       400, "invalid_request", "image_url"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_bearer(endpoint, body); },
      [](const BadRequest &refused, const Response &response, const Json &json) {
        return response.status == refused.status && json.str("$.error.code") == refused.code &&
               contains(json.str("$.error.message"), refused.mentions);
      });
  g_print("aimlapi 400: %s\n", http.post_bearer(endpoint, bad[13].body).body.c_str());
  fail_unless(emulator.counters().submits_accepted == 0, "%d refused submits accepted",
              emulator.counters().submits_accepted);
}
GST_END_TEST;

GST_START_TEST(test_video_job) {
  emu::Emulator emulator(aimlapi_options());
  Http http;
  const std::string endpoint = emulator.api_url() + "/v2/video/generations";

  Response response = http.post_bearer(endpoint, kGood);
  const std::string id = Json(response.body).str("$.id");
  fail_unless(
      response.status == 200 && !id.empty() && Json(response.body).str("$.status") == "queued",
      "submit: %u %s", response.status, response.body.c_str());
  const emu::SubmitRecord record = emulator.submits().back();
  fail_unless(record.path == "/v2/video/generations" && record.model == "x-ai/grok-imagine-video" &&
                  record.request_id == id,
              "recorded %s %s %s", record.path.c_str(), record.model.c_str(),
              record.request_id.c_str());
  const std::string status_url = endpoint + "?generation_id=" + id;
  const BearerPoll poll = poll_bearer(http, status_url, aimlapi_pending);
  const Json completed(poll.final.body);
  const std::string video_url = completed.str("$.video.url");
  g_print("aimlapi job: %s, then %s\n", joined(poll.statuses).c_str(), poll.final.body.c_str());
  // The submit said queued; the polls go on from there (the first may come
  // after the 100 ms in the queue: a sanitizer build on a busy machine).
  std::vector<std::string> statuses = {"queued"};
  for (const std::string &status : poll.statuses)
    if (status != statuses.back()) statuses.push_back(status);
  fail_unless(statuses == std::vector<std::string>({"queued", "generating", "completed"}),
              "statuses %s", joined(statuses).c_str());
  fail_unless(
      completed.str("$.id") == id && video_url == emulator.cdn_url() + "/videos/" + id + ".mp4",
      "completed: %s", poll.final.body.c_str());
  const Response clip = http.request("GET", video_url);
  fail_unless(clip.status == 200 && clip.body == read_file(emulator.clip_path(id)),
              "clip: %u, %zu bytes", clip.status, clip.body.size());
  check_clip(emulator.clip_path(id), 480, 848, 1);

  response = http.get_bearer(endpoint);
  fail_unless(response.status == 400 &&
                  contains(Json(response.body).str("$.error.message"), "generation_id"),
              "a poll without generation_id: %u %s", response.status, response.body.c_str());
  response = http.get_bearer(endpoint + "?generation_id=nope");
  fail_unless(response.status == 404 && Json(response.body).str("$.error.code") == "not_found",
              "an unknown generation_id: %u %s", response.status, response.body.c_str());
  fail_unless(http.get_bearer(status_url, nullptr).status == 401, "a poll without a key answered");
  emulator.add_fault({emu::Phase::Status, 502, "", 0, -1, 1});
  response = http.get_bearer(status_url);
  fail_unless(response.status == 502 && Json(response.body).str("$.error.message") == "Bad Gateway",
              "502 fault: %u %s", response.status, response.body.c_str());

  // References by loopback URL, an image_url as data: URI.
  const gint64 clip_size = static_cast<gint64>(clip.body.size());
  response =
      http.post_bearer(endpoint, "{" + kModel + R"("prompt": "refs", "reference_images": [")" +
                                     video_url + R"(", ")" + video_url + R"("]})");
  fail_unless(response.status == 200 && emulator.submits().back().reference_image_bytes ==
                                            std::vector<std::int64_t>({clip_size, clip_size}),
              "reference_images: %u %s, %zu references", response.status, response.body.c_str(),
              emulator.submits().back().reference_image_bytes.size());
  response =
      http.post_bearer(endpoint, "{" + kModel + R"("image_url": ")" + kTenByteDataUri + R"("})");
  fail_unless(response.status == 200 && emulator.submits().back().image_bytes == 10,
              "image_url as data: URI: %u %s, image_bytes=%" G_GINT64_FORMAT, response.status,
              response.body.c_str(), static_cast<gint64>(emulator.submits().back().image_bytes));
}
GST_END_TEST;

GST_START_TEST(test_foreign_paths) {
  emu::Emulator emulator(aimlapi_options());
  Http http;
  check_foreign_paths(http, emulator, [](const Json &json) {
    return json.str("$.error.code") == "not_found" && !json.str("$.error.message").empty();
  });
}
GST_END_TEST;

GST_START_TEST(test_failed_job) {
  emu::Options failing_options = timed(emu::Provider::Aimlapi, 10, 100);
  failing_options.fail_detail = "upstream generation error";
  emu::Emulator failing(failing_options);
  Http http;
  const Response submitted = http.post_bearer(failing.api_url() + "/v2/video/generations", kGood);
  const std::string failing_url =
      failing.api_url() + "/v2/video/generations?generation_id=" + Json(submitted.body).str("$.id");
  const BearerPoll poll = poll_bearer(http, failing_url, aimlapi_pending);
  const Json ended(poll.final.body);
  fail_unless(ended.str("$.status") == "error" &&
                  ended.str("$.error.message") == failing_options.fail_detail,
              "ended %u %s", poll.final.status, poll.final.body.c_str());
}
GST_END_TEST;

static Suite *emulator_aimlapi_suite() {
  Suite *s = suite_create("emulator-aimlapi");
  TCase *profile = tcase_create("profile");
  tcase_set_timeout(profile, 120);
  suite_add_tcase(s, profile);
  tcase_add_test(profile, test_refusals);
  tcase_add_test(profile, test_video_job);
  tcase_add_test(profile, test_foreign_paths);
  tcase_add_test(profile, test_failed_job);
  return s;
}

GST_CHECK_MAIN(emulator_aimlapi);
