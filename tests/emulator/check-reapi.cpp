// SPDX-License-Identifier: LGPL-2.1-or-later
// The emulator's reAPI profile: refusals with reAPI's numeric codes, a task
// polled to its clip, status errors and a submit fault, image_urls fetched
// from loopback, 404 for the other providers' paths, and a task that fails.
#include <gst/check/gstcheck.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emulator-checks.h"

using namespace emulator_checks;

// The emulator of the profile tests.
static emu::Options reapi_options() {
  return timed(emu::Provider::Reapi, 100, 500);
}

static const std::string kModel = R"("model": "grok-imagine-1.0-video", )";
static const std::string kGood =
    "{" + kModel + R"("prompt": "a reapi dog", "size": "1:1", "duration": 6, "quality": "480p"})";

static bool reapi_pending(const std::string &status) {
  return status == "processing";
}

GST_START_TEST(test_refusals) {
  emu::Emulator emulator(reapi_options());
  Http http;
  const std::string endpoint = emulator.api_url() + "/api/v1/videos/generations";

  Response response = http.post_bearer(endpoint, kGood, nullptr);
  fail_unless(response.status == 401 && Json(response.body).integer("$.error.code") == 10001 &&
                  starts_with(Json(response.body).str("$.error.request_id"), "req_"),
              "no key: %u %s", response.status, response.body.c_str());

  std::string eight_urls;
  for (int i = 0; i < 8; ++i) eight_urls += std::string(i ? ", " : "") + "\"https://e.com/r.png\"";
  const BadRequest bad[] = {
      {"{not json", 400, "20003", "body"},
      {R"({"prompt": "x"})", 400, "20003", "model"},
      {R"({"model": "grok-imagine-1.0-video"})", 400, "20002",
       "prompt is required when image_urls is empty"},
      {"{" + kModel + R"("prompt": "   "})", 400, "20002", "prompt is required"},
      {"{" + kModel + R"("prompt": ")" + std::string(4001, 'a') + R"("})", 400, "20007",
       "prompt exceeds 4000 characters (got 4001)"},
      {"{" + kModel + R"("prompt": "x", "duration": 5})", 400, "20003",
       "duration must be 6-30 seconds, got 5"},
      {"{" + kModel + R"("prompt": "x", "duration": 31})", 400, "20003", "duration"},
      {"{" + kModel + R"("prompt": "x", "duration": "6"})", 400, "20003", "duration"},
      {"{" + kModel + R"("prompt": "x", "size": "4:3"})", 400, "20003",
       "invalid size \"4:3\" (allowed: 16:9 / 9:16 / 1:1 / 3:2 / 2:3)"},
      {"{" + kModel + R"("prompt": "x", "quality": "1080p"})", 400, "20003",
       "invalid quality \"1080p\" (allowed: 480p / 720p)"},
      {"{" + kModel + R"("prompt": "x", "image_urls": [)" + eight_urls + "]}", 400, "20003",
       "image_urls accepts at most 7 entries, got 8"},
      {"{" + kModel + R"("prompt": "x", "image_urls": [")" + kTenByteDataUri + R"("]})", 400,
       "20003", "image_urls entries must be public http(s) URLs"},
      {"{" + kModel + R"("prompt": "x", "image_urls": "https://e.com/r.png"})", 400, "20003",
       "image_urls"},
  };
  check_refusals(
      bad, [&](const std::string &body) { return http.post_bearer(endpoint, body); },
      [](const BadRequest &refused, const Response &response, const Json &json) {
        const std::string message = json.str("$.error.message");
        return response.status == refused.status &&
               std::to_string(json.integer("$.error.code")) == refused.code &&
               starts_with(message, "grok-imagine: ") && contains(message, refused.mentions) &&
               starts_with(json.str("$.error.request_id"), "req_");
      });
  g_print("reapi 400: %s\n", http.post_bearer(endpoint, bad[9].body).body.c_str());
  fail_unless(emulator.counters().submits_accepted == 0, "%d refused submits accepted",
              emulator.counters().submits_accepted);
}
GST_END_TEST;

GST_START_TEST(test_task) {
  emu::Emulator emulator(reapi_options());
  Http http;
  const std::string endpoint = emulator.api_url() + "/api/v1/videos/generations";

  Response response = http.post_bearer(endpoint, kGood);
  const Json accepted(response.body);
  const std::string id = accepted.str("$.id");
  fail_unless(response.status == 200 && starts_with(id, "task_") && id.size() == 5 + 32 &&
                  accepted.str("$.model") == "grok-imagine-1.0-video" &&
                  accepted.str("$.status") == "processing" &&
                  accepted.integer("$.created_at") > 1700000000,
              "submit: %u %s", response.status, response.body.c_str());
  const emu::SubmitRecord record = emulator.submits().back();
  fail_unless(record.path == "/api/v1/videos/generations" &&
                  record.model == "grok-imagine-1.0-video" && record.request_id == id,
              "recorded %s %s %s", record.path.c_str(), record.model.c_str(),
              record.request_id.c_str());
  const std::string status_url = emulator.api_url() + "/api/v1/tasks/" + id;
  bool pending_nulls = true;  // output and error null while processing
  const BearerPoll poll = poll_bearer(http, status_url, reapi_pending, [&](const Json &json) {
    pending_nulls = pending_nulls && json.is_null("$.output") && json.is_null("$.error");
  });
  const Json completed(poll.final.body);
  const std::string video_url = completed.str("$.output.video_urls[0]");
  g_print("reapi task: %s, then %s\n", joined(poll.statuses).c_str(), poll.final.body.c_str());
  fail_unless(
      poll.statuses == std::vector<std::string>({"processing", "completed"}) && pending_nulls,
      "statuses %s, %s", joined(poll.statuses).c_str(),
      pending_nulls ? "output and error null while processing"
                    : "output or error not null while processing");
  fail_unless(completed.str("$.id") == id && completed.is_null("$.error") &&
                  completed.integer("$.created_at") == accepted.integer("$.created_at") &&
                  completed.length("$.output.video_urls") == 1,
              "completed: %s", poll.final.body.c_str());
  fail_unless(video_url == emulator.cdn_url() + "/videos/" + id + ".mp4", "video_urls[0] %s",
              video_url.c_str());
  const Response clip = http.request("GET", video_url);
  fail_unless(clip.status == 200 && clip.body == read_file(emulator.clip_path(id)),
              "clip: %u, %zu bytes", clip.status, clip.body.size());
  check_clip(emulator.clip_path(id), 480, 480, 6);

  response = http.get_bearer(emulator.api_url() + "/api/v1/tasks/task_nope");
  fail_unless(response.status == 404 && Json(response.body).integer("$.error.code") == 10004,
              "an unknown task: %u %s", response.status, response.body.c_str());
  fail_unless(http.get_bearer(status_url, nullptr).status == 401, "a poll without a key answered");
  emulator.add_fault({emu::Phase::Submit, 503, "", 0, -1, 1});
  response = http.post_bearer(endpoint, kGood);
  fail_unless(response.status == 503 && Json(response.body).integer("$.error.code") == 10503,
              "503 fault: %u %s", response.status, response.body.c_str());

  // image_urls: loopback http URLs stand in for public ones and are fetched;
  // the prompt is optional with them; quality in any case.
  const gint64 clip_size = static_cast<gint64>(clip.body.size());
  response = http.post_bearer(
      endpoint, "{" + kModel + R"("quality": "720P", "image_urls": [")" + video_url + R"("]})");
  fail_unless(
      response.status == 200 && emulator.submits().back().image_bytes == -1 &&
          emulator.submits().back().reference_image_bytes == std::vector<std::int64_t>({clip_size}),
      "image_urls: %u %s, image_bytes=%" G_GINT64_FORMAT ", %zu references", response.status,
      response.body.c_str(), static_cast<gint64>(emulator.submits().back().image_bytes),
      emulator.submits().back().reference_image_bytes.size());
  response = http.post_bearer(
      endpoint, "{" + kModel + R"("image_urls": [")" + emulator.cdn_url() + R"(/nothing.png"]})");
  fail_unless(response.status == 400 && Json(response.body).integer("$.error.code") == 20003 &&
                  contains(Json(response.body).str("$.error.message"), "image_urls[0]"),
              "a missing image URL: %u %s", response.status, response.body.c_str());
}
GST_END_TEST;

GST_START_TEST(test_foreign_paths) {
  emu::Emulator emulator(reapi_options());
  Http http;
  check_foreign_paths(http, emulator,
                      [](const Json &json) { return json.integer("$.error.code") == 10004; });
}
GST_END_TEST;

GST_START_TEST(test_failed_task) {
  emu::Options failing_options = timed(emu::Provider::Reapi, 10, 100);
  failing_options.fail_detail = "upstream rejected the prompt";
  emu::Emulator failing(failing_options);
  Http http;
  const Response submitted =
      http.post_bearer(failing.api_url() + "/api/v1/videos/generations", kGood);
  const std::string failing_url =
      failing.api_url() + "/api/v1/tasks/" + Json(submitted.body).str("$.id");
  const BearerPoll poll = poll_bearer(http, failing_url, reapi_pending);
  const Json ended(poll.final.body);
  fail_unless(ended.str("$.status") == "failed" && ended.is_null("$.output") &&
                  ended.str("$.error.code") == "generation_failed" &&
                  ended.str("$.error.message") == failing_options.fail_detail,
              "ended %u %s", poll.final.status, poll.final.body.c_str());
}
GST_END_TEST;

static Suite *emulator_reapi_suite() {
  Suite *s = suite_create("emulator-reapi");
  TCase *profile = tcase_create("profile");
  tcase_set_timeout(profile, 120);
  suite_add_tcase(s, profile);
  tcase_add_test(profile, test_refusals);
  tcase_add_test(profile, test_task);
  tcase_add_test(profile, test_foreign_paths);
  tcase_add_test(profile, test_failed_task);
  return s;
}

GST_CHECK_MAIN(emulator_reapi);
