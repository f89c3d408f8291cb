// Unit tests of the core, without a pipeline: validation, request building
// and response parsing for Segmind.
#include <gst/check/gstcheck.h>

#include "assert-string.h"

#include <glib/gstdio.h>

#include "core/generation.h"
#include "core/json.h"
#include "core/providers/provider.h"

using namespace grokimagine;

static const Provider &segmind() {
  return *find_provider("segmind");
}

static Request valid_request() {
  Request request;
  request.model = "grok-imagine-video";
  request.prompt = "A dog running on a sunlit beach";
  return request;
}

static HttpResponse response(unsigned status, const std::string &body) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  return r;
}

static bool contains(const std::string &text, const char *part) {
  return text.find(part) != std::string::npos;
}

GST_START_TEST(test_valid_request_passes) {
  fail_if(segmind().validate(valid_request()).has_value());
  Request image_only = valid_request();
  image_only.prompt.clear();
  image_only.image = "https://example.com/cat.png";
  fail_if(segmind().validate(image_only).has_value(), "image-to-video needs no prompt");
}
GST_END_TEST;

GST_START_TEST(test_missing_prompt_refused) {
  Request request = valid_request();
  request.prompt.clear();
  auto error = segmind().validate(request);
  fail_unless(error.has_value());
  fail_unless(error->kind == ErrorKind::InvalidSettings);
  fail_unless(contains(error->message, "'prompt'"), "%s", error->message.c_str());
}
GST_END_TEST;

GST_START_TEST(test_duration_range_named) {
  for (int duration : {0, 16}) {
    Request request = valid_request();
    request.duration = duration;
    auto error = segmind().validate(request);
    fail_unless(error.has_value(), "duration %d accepted", duration);
    fail_unless(contains(error->message, "'duration'"), "%s", error->message.c_str());
    fail_unless(contains(error->message, "1 to 15"), "%s", error->message.c_str());
  }
  for (int duration : {1, 15}) {
    Request request = valid_request();
    request.duration = duration;
    fail_if(segmind().validate(request).has_value(), "duration %d refused", duration);
  }
}
GST_END_TEST;

GST_START_TEST(test_resolution_and_aspect_named) {
  Request request = valid_request();
  request.resolution = "4k";
  auto error = segmind().validate(request);
  fail_unless(error.has_value());
  fail_unless(contains(error->message, "'resolution' is '4k'"), "%s", error->message.c_str());
  fail_unless(contains(error->message, "480p, 720p, 1080p"), "%s", error->message.c_str());

  request = valid_request();
  request.aspect_ratio = "21:9";
  error = segmind().validate(request);
  fail_unless(error.has_value());
  fail_unless(contains(error->message, "'aspect-ratio'"), "%s", error->message.c_str());
  fail_unless(contains(error->message, "9:16"), "%s", error->message.c_str());
}
GST_END_TEST;

GST_START_TEST(test_image_inputs) {
  Error error;
  auto url = resolve_image("https://cdn.example.com/cat.jpg", "image", &error);
  fail_unless(url && url->url == "https://cdn.example.com/cat.jpg" && url->data.empty());

  // A real PNG signature is enough for content sniffing.
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0", 29);
  g_autofree gchar *path =
      g_build_filename(g_get_tmp_dir(), "grokimagine-core-XXXXXX.png", nullptr);
  int fd = g_mkstemp(path);
  fail_unless(write(fd, png.data(), png.size()) == ssize_t(png.size()));
  close(fd);
  auto local = resolve_image(path, "image", &error);
  fail_unless(local.has_value(), "%s", error.message.c_str());
  assert_str_eq(local->mime_type, "image/png");
  fail_unless(local->data == png);
  g_autofree gchar *uri = g_filename_to_uri(path, nullptr, nullptr);
  auto from_uri = resolve_image(uri, "image", &error);
  fail_unless(from_uri && from_uri->data == png);

  auto data = resolve_image(local->data_uri(), "image", &error);
  fail_unless(data && data->data == png && data->mime_type == "image/png");
  g_unlink(path);

  auto missing = resolve_image("/nonexistent/cat.png", "image", &error);
  fail_if(missing.has_value());
  fail_unless(error.kind == ErrorKind::InvalidSettings);
  fail_unless(contains(error.message, "'image'"), "%s", error.message.c_str());
  fail_unless(contains(error.message, "/nonexistent/cat.png"), "%s", error.message.c_str());

  auto not_image = resolve_image("data:text/plain;base64,aGVsbG8=", "image", &error);
  fail_if(not_image.has_value());
  fail_unless(contains(error.message, "image"), "%s", error.message.c_str());
}
GST_END_TEST;

GST_START_TEST(test_submit_request_built) {
  Request request = valid_request();
  request.duration = 8;
  request.resolution = "720p";
  request.aspect_ratio = "9:16";
  ImageInput image{{}, "image/png", std::string("\x89PNG", 4)};
  HttpRequest http =
      segmind().submit_request(request, Inputs{image, {}}, {"http://127.0.0.1:9", "k3y"});
  assert_str_eq(http.method, "POST");
  assert_str_eq(http.url, "http://127.0.0.1:9/v2/grok-imagine-video");
  bool has_key = false;
  for (const auto &[name, value] : http.headers) has_key |= name == "x-api-key" && value == "k3y";
  fail_unless(has_key);
  json::NodePtr body = json::parse_object(http.body);
  fail_unless(body != nullptr);
  assert_str_eq(json::string_at(body.get(), "prompt"), request.prompt);
  fail_unless(json::number_at(body.get(), "duration") == 8.0);
  assert_str_eq(json::string_at(body.get(), "resolution"), "720p");
  assert_str_eq(json::string_at(body.get(), "aspect_ratio"), "9:16");
  assert_str_eq(json::string_at(body.get(), "image"), image.base64());
}
GST_END_TEST;

GST_START_TEST(test_submit_response_parsed) {
  auto id = segmind().parse_submit(response(
      200, R"({"request_id":"abc-123","status":"QUEUED","status_url":"x","response_url":"y"})"));
  assert_str_eq(std::get<Submitted>(id).request_id, "abc-123");
  fail_if(std::get<Submitted>(id).finished.has_value());

  auto denied = segmind().parse_submit(response(401, R"({"error":"Invalid API key"})"));
  const Error &e401 = std::get<Error>(denied);
  fail_unless(e401.kind == ErrorKind::NotAuthorized);
  fail_unless(contains(e401.message, "SEGMIND_API_KEY"), "%s", e401.message.c_str());
  fail_unless(contains(e401.message, "Invalid API key"), "%s", e401.message.c_str());

  auto broke = segmind().parse_submit(response(406, R"({"error":"Not enough credits"})"));
  fail_unless(std::get<Error>(broke).kind == ErrorKind::InsufficientCredits);

  auto garbage = segmind().parse_submit(response(200, "<html>oops</html>"));
  fail_unless(std::get<Error>(garbage).kind == ErrorKind::Protocol);
}
GST_END_TEST;

GST_START_TEST(test_status_parsed) {
  using State = JobStatus::State;
  struct {
    unsigned status;
    const char *body;
    State state;
  } cases[] = {
      {200, R"({"status":"QUEUED"})", State::Pending},
      {200, R"({"status":"PROCESSING"})", State::Running},
      {200, R"({"status":"COMPLETED"})", State::Completed},
      {422, R"({"status":"FAILED","error":"Content blocked by safety filter"})", State::Failed},
  };
  for (const auto &c : cases) {
    auto parsed = segmind().parse_status(response(c.status, c.body));
    fail_unless(std::holds_alternative<JobStatus>(parsed), "%s", c.body);
    fail_unless(std::get<JobStatus>(parsed).state == c.state, "%s", c.body);
  }
  auto failed = std::get<JobStatus>(segmind().parse_status(
      response(422, R"({"status":"FAILED","error":"Content blocked by safety filter"})")));
  assert_str_eq(failed.detail, "Content blocked by safety filter");

  auto gone = segmind().parse_status(response(404, R"({"error":"Request not found"})"));
  fail_unless(std::get<Error>(gone).kind == ErrorKind::NotFound);
  auto unknown = segmind().parse_status(response(200, R"({"status":"DANCING"})"));
  fail_unless(std::get<Error>(unknown).kind == ErrorKind::Protocol);
  auto wrong_type = segmind().parse_status(response(200, R"({"status":42})"));
  fail_unless(std::holds_alternative<Error>(wrong_type));
  std::string deep(100000, '[');
  auto nested = segmind().parse_status(response(200, "{\"a\":" + deep));
  fail_unless(std::get<Error>(nested).kind == ErrorKind::Protocol);
}
GST_END_TEST;

GST_START_TEST(test_result_output_forms) {
  for (const char *body : {R"({"status":"COMPLETED","output":"https://cdn/v.mp4"})",
                           R"({"status":"COMPLETED","output":["https://cdn/v.mp4"]})",
                           R"({"status":"COMPLETED","output":{"url":"https://cdn/v.mp4"}})"}) {
    auto parsed = segmind().parse_result(response(200, body));
    fail_unless(std::holds_alternative<JobStatus>(parsed), "%s", body);
    assert_str_eq(std::get<JobStatus>(parsed).outputs.at(0).url, "https://cdn/v.mp4");
  }
}
GST_END_TEST;

GST_START_TEST(test_error_envelopes) {
  assert_str_eq(json::error_message(R"({"error":{"message":"m1","code":"x"}})"), "m1");
  assert_str_eq(json::error_message(R"({"code":"x","error":"m2"})"), "m2");
  assert_str_eq(json::error_message(R"({"detail":"m3"})"), "m3");
  assert_str_eq(json::error_message("Bad Gateway"), "Bad Gateway");
}
GST_END_TEST;

GST_START_TEST(test_missing_key_names_variable) {
  g_unsetenv("SEGMIND_API_KEY");
  JobSettings settings;
  settings.provider = "segmind";
  settings.request = valid_request();
  Generation source;
  auto error = source.prepare(settings);
  fail_unless(error.has_value());
  fail_unless(error->kind == ErrorKind::NotAuthorized);
  fail_unless(contains(error->message, "SEGMIND_API_KEY"), "%s", error->message.c_str());

  g_setenv("SEGMIND_API_KEY", "from-env", TRUE);
  fail_if(source.prepare(settings).has_value());
  g_unsetenv("SEGMIND_API_KEY");
}
GST_END_TEST;

static Suite *core_suite() {
  Suite *s = suite_create("core");
  TCase *tc = tcase_create("segmind");
  suite_add_tcase(s, tc);
  tcase_add_test(tc, test_valid_request_passes);
  tcase_add_test(tc, test_missing_prompt_refused);
  tcase_add_test(tc, test_duration_range_named);
  tcase_add_test(tc, test_resolution_and_aspect_named);
  tcase_add_test(tc, test_image_inputs);
  tcase_add_test(tc, test_submit_request_built);
  tcase_add_test(tc, test_submit_response_parsed);
  tcase_add_test(tc, test_status_parsed);
  tcase_add_test(tc, test_result_output_forms);
  tcase_add_test(tc, test_error_envelopes);
  tcase_add_test(tc, test_missing_key_names_variable);
  return s;
}

GST_CHECK_MAIN(core);
