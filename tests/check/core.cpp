// SPDX-License-Identifier: LGPL-2.1-or-later
// Unit tests of the core, without a pipeline: validation, request building
// and response parsing for Segmind.
#include <gst/check/gstcheck.h>

#include "assert-string.h"

#include <glib/gstdio.h>

#include "core/generation.h"
#include "core/json.h"
#include "core/mp4.h"
#include "core/pacing.h"
#include "core/retry.h"
#include "core/providers/provider.h"
#include "core/widening.h"

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
  auto url = resolve_image("https://cdn.example.com/cat.jpg", "image");
  fail_unless(url.ok() && url->url == "https://cdn.example.com/cat.jpg" && url->data.empty());

  // A real PNG signature is enough for content sniffing.
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0", 29);
  g_autofree gchar *path =
      g_build_filename(g_get_tmp_dir(), "grokimagine-core-XXXXXX.png", nullptr);
  int fd = g_mkstemp(path);
  fail_unless(write(fd, png.data(), png.size()) == ssize_t(png.size()));
  close(fd);
  auto local = resolve_image(path, "image");
  fail_unless(local.ok(), "%s", local.ok() ? "" : local.error().message.c_str());
  assert_str_eq(local->mime_type, "image/png");
  fail_unless(local->data == png);
  g_autofree gchar *uri = g_filename_to_uri(path, nullptr, nullptr);
  auto from_uri = resolve_image(uri, "image");
  fail_unless(from_uri.ok() && from_uri->data == png);

  auto data = resolve_image(local->data_uri(), "image");
  fail_unless(data.ok() && data->data == png && data->mime_type == "image/png");
  g_unlink(path);

  auto missing = resolve_image("/nonexistent/cat.png", "image");
  fail_if(missing.ok());
  Error error = missing.error();
  fail_unless(error.kind == ErrorKind::InvalidSettings);
  fail_unless(contains(error.message, "'image'"), "%s", error.message.c_str());
  fail_unless(contains(error.message, "/nonexistent/cat.png"), "%s", error.message.c_str());

  auto not_image = resolve_image("data:text/plain;base64,aGVsbG8=", "image");
  fail_if(not_image.ok());
  error = not_image.error();
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
  auto body = json::parse_object(http.body);
  fail_unless(body.ok(), "%s", body.ok() ? "" : body.error().message.c_str());
  assert_str_eq(json::string_at(body->get(), "prompt"), request.prompt);
  fail_unless(json::number_at(body->get(), "duration") == 8.0);
  assert_str_eq(json::string_at(body->get(), "resolution"), "720p");
  assert_str_eq(json::string_at(body->get(), "aspect_ratio"), "9:16");
  assert_str_eq(json::string_at(body->get(), "image"), image.base64());
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

static const Provider &provider(const char *name) {
  return *find_provider(name);
}

GST_START_TEST(test_same_value_valid_for_one_provider_only) {
  Request request = valid_request();
  request.duration = 3;
  request.model = "grok-imagine-video";
  fail_if(provider("xai").validate(request).has_value());
  request.model = "grok-imagine-1.0-video";
  auto error = provider("reapi").validate(request);
  fail_unless(error.has_value());
  assert_str_eq(error->message, "Property 'duration' is 3: reapi allows 6 to 30.");
}
GST_END_TEST;

GST_START_TEST(test_xai_resolution_depends_on_model) {
  Request request = valid_request();
  request.resolution = "1080p";
  auto error = provider("xai").validate(request);
  fail_unless(error.has_value());
  fail_unless(contains(error->message, "480p, 720p"), "%s", error->message.c_str());
  request.model = "grok-imagine-video-1.5";
  fail_if(provider("xai").validate(request).has_value());
}
GST_END_TEST;

GST_START_TEST(test_reference_image_rules) {
  Request request = valid_request();
  request.reference_images.assign(8, "https://cdn.example.com/r.png");
  for (const char *name : {"xai", "aimlapi"}) {
    request.model = provider(name).default_model(MediaKind::Video);
    auto error = provider(name).validate(request);
    fail_unless(error.has_value(), "%s took 8 references", name);
    fail_unless(contains(error->message, "'reference-images'"), "%s", error->message.c_str());
  }
  request.reference_images.resize(2);
  request.image = "https://cdn.example.com/first.png";
  request.model = "grok-imagine-video";
  auto both = provider("xai").validate(request);
  fail_unless(both.has_value() && contains(both->message, "both set"));
  request.image.clear();
  request.model = "grok-imagine-video";
  auto segmind_refs = segmind().validate(request);
  fail_unless(segmind_refs && contains(segmind_refs->message, "segmind takes no reference"));
  // The providers that do are named from the provider table.
  fail_unless(contains(segmind_refs->message, "or provider=xai, aimlapi or reapi."), "%s",
              segmind_refs->message.c_str());
}
GST_END_TEST;

GST_START_TEST(test_reapi_needs_public_urls) {
  Request request = valid_request();
  request.model = "grok-imagine-1.0-video";
  request.image = "/home/me/cat.png";
  auto error = provider("reapi").validate(request);
  fail_unless(error.has_value());
  fail_unless(contains(error->message, "public http(s) URL"), "%s", error->message.c_str());
  request.image = "https://cdn.example.com/cat.png";
  fail_if(provider("reapi").validate(request).has_value());
  request.prompt = std::string(4001, 'a');
  auto long_prompt = provider("reapi").check_prompt(request.prompt);
  fail_unless(long_prompt && contains(long_prompt->message, "at most 4000"));
}
GST_END_TEST;

// A provider that documents no limit is sent at most 4,096 bytes of prompt:
// a prompt that long is more likely a file read by mistake.
GST_START_TEST(test_prompt_length_limits) {
  // reapi counts characters: 4000 of "é" are 8000 bytes, and taken.
  std::string accents;
  for (int i = 0; i < 4000; i++) accents += "\xc3\xa9";
  fail_if(provider("reapi").check_prompt(accents).has_value());
  for (const char *name : {"xai", "segmind", "aimlapi"}) {
    fail_if(provider(name).check_prompt(std::string(4096, 'a')).has_value(), "%s", name);
    auto refused = provider(name).check_prompt(std::string(4097, 'a'), "Prompt 3");
    fail_unless(refused.has_value(), "%s", name);
    const std::string expected =
        std::string("Prompt 3 has 4097 bytes: at most 4096 are sent to ") + name + ".";
    assert_equals_string(refused->message.c_str(), expected.c_str());
  }
}
GST_END_TEST;

GST_START_TEST(test_reapi_error_codes_surface) {
  auto refused = provider("reapi").parse_submit(response(
      400,
      R"({"error":{"code":20003,"message":"grok-imagine: duration must be 6-30 seconds, got 3","request_id":"req_1"}})"));
  const Error &error = std::get<Error>(refused);
  fail_unless(error.kind == ErrorKind::BadRequest);
  fail_unless(contains(error.message, "code 20003"), "%s", error.message.c_str());
  fail_unless(contains(error.message, "duration must be 6-30"), "%s", error.message.c_str());

  auto done = std::get<JobStatus>(provider("reapi").parse_status(response(
      200,
      R"({"id":"task_1","status":"completed","output":{"video_urls":["https://cdn/0.mp4"]},"error":null})")));
  fail_unless(done.state == JobStatus::State::Completed);
  assert_str_eq(done.outputs.at(0).url, "https://cdn/0.mp4");
}
GST_END_TEST;

GST_START_TEST(test_xai_status_forms) {
  using State = JobStatus::State;
  const Provider &xai = provider("xai");
  auto empty = std::get<JobStatus>(xai.parse_status(response(202, "")));
  fail_unless(empty.state == State::Pending);
  auto progressing =
      std::get<JobStatus>(xai.parse_status(response(202, R"({"status":"pending","progress":40})")));
  fail_unless(progressing.state == State::Running && progressing.progress == 40);
  auto done = std::get<JobStatus>(xai.parse_status(response(
      200,
      R"({"status":"done","video":{"url":"https://cdn/v.mp4","duration":6,"respect_moderation":true}})")));
  fail_unless(done.state == State::Completed);
  assert_str_eq(done.outputs.at(0).url, "https://cdn/v.mp4");
  auto blocked = std::get<JobStatus>(xai.parse_status(
      response(200, R"({"status":"done","video":{"url":"","respect_moderation":false}})")));
  fail_unless(blocked.state == State::Moderated);
  auto failed = std::get<JobStatus>(xai.parse_status(
      response(200, R"({"status":"failed","error":{"code":"x","message":"no GPUs"}})")));
  fail_unless(failed.state == State::Failed);
  assert_str_eq(failed.detail, "no GPUs");
  auto expired = std::get<JobStatus>(xai.parse_status(response(200, R"({"status":"expired"})")));
  fail_unless(expired.state == State::Expired);
  auto unknown = xai.parse_status(response(404, R"({"code":"not_found","error":"no such id"})"));
  fail_unless(std::get<Error>(unknown).kind == ErrorKind::NotFound);
}
GST_END_TEST;

GST_START_TEST(test_xai_requests_built) {
  Request request = valid_request();
  Inputs inputs;
  inputs.references.push_back(ImageInput{"https://cdn/r1.png", {}, {}});
  inputs.references.push_back(ImageInput{{}, "image/png", std::string("\x89PNG", 4)});
  HttpRequest http = provider("xai").submit_request(request, inputs, {"http://h/v1", "k"});
  assert_str_eq(http.url, "http://h/v1/videos/generations");
  auto body = json::parse_object(http.body);
  JsonNode *references = json::node_at(body->get(), "reference_images");
  fail_unless(references && JSON_NODE_HOLDS_ARRAY(references));
  JsonArray *items = json_node_get_array(references);
  fail_unless_equals_int(json_array_get_length(items), 2);
  assert_str_eq(json::string_at(json_array_get_element(items, 0), "url"), "https://cdn/r1.png");
  assert_str_eq(json::string_at(json_array_get_element(items, 1), "url"),
                inputs.references[1].data_uri());
  bool bearer = false;
  for (const auto &[name, value] : http.headers)
    bearer |= name == "Authorization" && value == "Bearer k";
  fail_unless(bearer);
}
GST_END_TEST;

// An ISO box: size, type, payload.
static std::string box(const char *type, const std::string &payload) {
  const std::uint32_t size = std::uint32_t(payload.size() + 8);
  std::string out{char(size >> 24), char(size >> 16), char(size >> 8), char(size)};
  return out + std::string(type, 4) + payload;
}

static std::string be32(std::uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

GST_START_TEST(test_mp4_duration_from_mvhd) {
  g_autofree gchar *dir = g_dir_make_tmp("grokimagine-mp4-XXXXXX", nullptr);
  auto write = [&](const char *name, const std::string &bytes) {
    g_autofree gchar *path = g_build_filename(dir, name, nullptr);
    fail_unless(g_file_set_contents(path, bytes.data(), gssize(bytes.size()), nullptr));
    return std::string(path);
  };
  const std::string ftyp = box("ftyp", "isom" + be32(0) + "isom");
  // Version 0: creation, modification, timescale 1000, duration 2500.
  const std::string mvhd0 = box("mvhd", std::string(4, '\0') + be32(0) + be32(0) + be32(1000) +
                                            be32(2500) + std::string(80, '\0'));
  // The reason of a refusal, or "".
  auto why = [](const grokimagine::Result<double> &seconds) {
    return seconds.ok() ? std::string() : seconds.error().message;
  };
  auto seconds = mp4_duration(write("v0.mp4", ftyp + box("moov", mvhd0)));
  fail_unless(seconds.ok() && *seconds == 2.5, "%s", why(seconds).c_str());
  // moov after a large mdat given with a 64-bit size, version 1 mvhd.
  const std::string mvhd1 =
      box("mvhd", std::string(1, '\1') + std::string(3, '\0') + std::string(16, '\0') + be32(600) +
                      be32(0) + be32(5220) + std::string(80, '\0'));
  std::string mdat = be32(1) + "mdat" + be32(0) + be32(16 + 100000) + std::string(100000, 'x');
  seconds = mp4_duration(write("v1.mp4", ftyp + mdat + box("moov", mvhd1)));
  fail_unless(seconds.ok() && *seconds > 8.69 && *seconds < 8.71, "%s", why(seconds).c_str());
  // Not an MP4, cut short, a box claiming more than the file: refused.
  seconds = mp4_duration(write("text.mp4", "hello, this is not a video at all"));
  fail_unless(contains(why(seconds), "no moov box"), "%s", why(seconds).c_str());
  fail_if(mp4_duration(write("cut.mp4", ftyp + box("moov", mvhd0).substr(0, 30))).ok());
  seconds = mp4_duration(write("empty-moov.mp4", ftyp + box("moov", "")));
  fail_unless(contains(why(seconds), "no mvhd"), "%s", why(seconds).c_str());
  fail_if(mp4_duration("/nonexistent.mp4").ok());
  g_autoptr(GFile) tree = g_file_new_for_path(dir);
  for (const char *name : {"v0.mp4", "v1.mp4", "text.mp4", "cut.mp4", "empty-moov.mp4"}) {
    g_autofree gchar *path = g_build_filename(dir, name, nullptr);
    g_unlink(path);
  }
  g_rmdir(dir);
}
GST_END_TEST;

GST_START_TEST(test_keyframe_entries) {
  auto keyframe = parse_keyframe("4.5:https://host/a.png");
  fail_unless(keyframe.ok() && keyframe->time_s == 4.5);
  assert_str_eq(keyframe->image, "https://host/a.png");
  fail_if(parse_keyframe("first.png").ok());
  auto not_a_time = parse_keyframe("x:first.png");
  fail_unless(!not_a_time.ok() && contains(not_a_time.error().message, "not a time in seconds"));
  fail_if(parse_keyframe("-1:first.png").ok());
  Request request = valid_request();
  request.duration = 6;
  request.keyframes = {"0:https://h/a.png", "7:https://h/b.png"};
  auto error = provider("xai").validate(request);
  fail_unless(error && contains(error->message, "past the end of a 6 s clip"));
}
GST_END_TEST;

GST_START_TEST(test_xai_extend_and_edit_built) {
  Request request = valid_request();
  request.operation = Operation::Extend;
  request.duration = 4;
  request.video = "request:abc";
  fail_if(provider("xai").validate(request).has_value());
  Inputs inputs;
  inputs.video.request_id = "abc";
  HttpRequest http = provider("xai").submit_request(request, inputs, {"http://h/v1", "k"});
  assert_str_eq(http.url, "http://h/v1/videos/extensions");
  auto body = json::parse_object(http.body);
  fail_unless_equals_int(int(*json::number_at(body->get(), "duration")), 4);
  assert_str_eq(json::string_at(body->get(), "video.url"), "request:abc");
  fail_if(json::node_at(body->get(), "aspect_ratio"));

  // An uploaded input: the fingerprint names it by content, the sent
  // request by its file id.
  request.operation = Operation::Edit;
  inputs.video = VideoInput{};
  inputs.video.upload = UploadInput{"/x.mp4", "0123abcd", {}};
  HttpRequest before = provider("xai").submit_request(request, inputs, {"http://h/v1", "k"});
  assert_str_eq(before.url, "http://h/v1/videos/edits");
  body = json::parse_object(before.body);
  assert_str_eq(json::string_at(body->get(), "video.file_id"), "sha256:0123abcd");
  fail_if(json::node_at(body->get(), "duration"));
  inputs.video.upload->file_id = "file-1";
  HttpRequest sent = provider("xai").submit_request(request, inputs, {"http://h/v1", "k"});
  body = json::parse_object(sent.body);
  assert_str_eq(json::string_at(body->get(), "video.file_id"), "file-1");

  // Other providers: refused, naming the property.
  Request elsewhere = request;
  elsewhere.model = "grok-imagine-1.0-video";
  elsewhere.duration = 6;
  auto refused = provider("reapi").validate(elsewhere);
  fail_unless(refused && contains(refused->message, "Property 'operation' is 'edit': reapi"));
}
GST_END_TEST;

GST_START_TEST(test_xai_files_api_requests) {
  HttpRequest upload = provider("xai").upload_request("BYTES", "video/mp4", {"http://h/v1", "k"});
  assert_str_eq(upload.url, "http://h/v1/files");
  fail_unless(g_str_has_prefix(upload.content_type.c_str(), "multipart/form-data; boundary="));
  fail_unless(contains(upload.body, "name=\"file\"") && contains(upload.body, "BYTES") &&
              contains(upload.body, "Content-Type: video/mp4"));
  fail_unless(upload.body.find("expires_after") < upload.body.find("name=\"file\""));
  auto id = provider("xai").parse_upload(response(200, R"({"id":"file-9","bytes":5})"));
  assert_str_eq(std::get<std::string>(id), "file-9");
  fail_unless(std::holds_alternative<Error>(provider("xai").parse_upload(response(200, "{}"))));
  HttpRequest removal = provider("xai").delete_file_request("file-9", {"http://h/v1", "k"});
  assert_str_eq(removal.method, "DELETE");
  assert_str_eq(removal.url, "http://h/v1/files/file-9");
}
GST_END_TEST;

GST_START_TEST(test_xai_images_are_synchronous) {
  HttpResponse answer = response(
      200,
      R"({"data":[{"url":"https://cdn/i0.jpeg","mime_type":"image/jpeg"},{"b64_json":"aGVsbG8=","mime_type":"image/jpeg"}]})");
  answer.headers.emplace_back("x-request-id", "req-9");
  auto submitted = std::get<Submitted>(provider("xai").parse_submit(answer));
  assert_str_eq(submitted.request_id, "req-9");
  fail_unless(submitted.finished.has_value());
  fail_unless(submitted.finished->state == JobStatus::State::Completed);
  fail_unless_equals_int(submitted.finished->outputs.size(), 2);
  assert_str_eq(submitted.finished->outputs[0].url, "https://cdn/i0.jpeg");
  assert_str_eq(submitted.finished->outputs[1].data, "hello");
}
GST_END_TEST;

GST_START_TEST(test_aimlapi_polls_by_generation_id) {
  const Provider &aimlapi = provider("aimlapi");
  HttpRequest poll = aimlapi.status_request("60ac7c34-3224", {"http://h", "k"});
  assert_str_eq(poll.url, "http://h/v2/video/generations?generation_id=60ac7c34-3224");
  auto done = std::get<JobStatus>(aimlapi.parse_status(
      response(200, R"({"id":"x","status":"completed","video":{"url":"https://cdn/a.mp4"}})")));
  assert_str_eq(done.outputs.at(0).url, "https://cdn/a.mp4");
  auto bare = std::get<JobStatus>(aimlapi.parse_status(
      response(200, R"({"id":"x","status":"completed","url":"https://cdn/b.mp4"})")));
  assert_str_eq(bare.outputs.at(0).url, "https://cdn/b.mp4");
  auto failed = std::get<JobStatus>(aimlapi.parse_status(
      response(200, R"({"id":"x","status":"error","error":{"message":"blocked"}})")));
  fail_unless(failed.state == JobStatus::State::Failed);
  assert_str_eq(failed.detail, "blocked");
}
GST_END_TEST;

GST_START_TEST(test_auto_provider_from_environment) {
  const char *variables[] = {"XAI_API_KEY", "SEGMIND_API_KEY", "AIMLAPI_KEY", "REAPI_KEY"};
  for (const char *variable : variables) g_unsetenv(variable);
  auto none = provider_from_environment();
  fail_unless(std::holds_alternative<Error>(none));
  for (const char *variable : variables)
    fail_unless(contains(std::get<Error>(none).message, variable), "%s",
                std::get<Error>(none).message.c_str());
  g_setenv("REAPI_KEY", "r", TRUE);
  assert_str_eq(std::get<const Provider *>(provider_from_environment())->name(), "reapi");
  g_setenv("XAI_API_KEY", "x", TRUE);
  auto several = provider_from_environment();
  fail_unless(std::holds_alternative<Error>(several));
  fail_unless(contains(std::get<Error>(several).message, "XAI_API_KEY, REAPI_KEY"), "%s",
              std::get<Error>(several).message.c_str());
  for (const char *variable : variables) g_unsetenv(variable);
}
GST_END_TEST;

using std::chrono::milliseconds;
using std::chrono::seconds;

static JobStatus running(int progress) {
  JobStatus status;
  status.state = JobStatus::State::Running;
  status.progress = progress;
  return status;
}

GST_START_TEST(test_poll_schedule_follows_xai_progress) {
  const Provider &xai = *find_provider("xai");
  const auto start = PollSchedule::Clock::now();
  PollSchedule schedule(xai, milliseconds(0), start);
  // No progress yet: the first polls come a second apart.
  fail_unless_equals_int(schedule.next_delay(start).count(), 1000);
  // 10 % in 12 s after the first reading at 1 %: 108 s remain, far from done,
  // so the next poll waits the longest step (15 s), not one second.
  schedule.observe(running(1), start + seconds(2));
  schedule.observe(running(11), start + seconds(14));
  fail_unless_equals_int(schedule.next_delay(start + seconds(14)).count(), 15000);
  // Near the end it tightens: at 95 % with ~6.7 s left, half of that.
  schedule.observe(running(95), start + milliseconds(114800));
  const auto near_end = schedule.next_delay(start + milliseconds(114800)).count();
  fail_unless(near_end >= 3000 && near_end <= 3500, "%d ms near the end", int(near_end));
  // Past the estimate: every second until done.
  fail_unless_equals_int(schedule.next_delay(start + seconds(130)).count(), 1000);
}
GST_END_TEST;

GST_START_TEST(test_poll_schedule_defaults_and_overrides) {
  const auto start = PollSchedule::Clock::now();
  // Providers without progress: 1 s, growing with the wait, at most 5 s.
  PollSchedule segmind_schedule(segmind(), milliseconds(0), start);
  segmind_schedule.observe(running(-1), start);
  fail_unless_equals_int(segmind_schedule.next_delay(start).count(), 1000);
  fail_unless_equals_int(segmind_schedule.next_delay(start + seconds(20)).count(), 3000);
  fail_unless_equals_int(segmind_schedule.next_delay(start + seconds(600)).count(), 5000);
  // reAPI's advice: 5 s for five minutes, then toward a minute.
  PollSchedule reapi_schedule(*find_provider("reapi"), milliseconds(0), start);
  fail_unless_equals_int(reapi_schedule.next_delay(start + seconds(10)).count(), 5000);
  fail_unless_equals_int(reapi_schedule.next_delay(start + seconds(299)).count(), 5000);
  fail_unless_equals_int(reapi_schedule.next_delay(start + seconds(400)).count(), 25000);
  fail_unless_equals_int(reapi_schedule.next_delay(start + seconds(3600)).count(), 60000);
  // A poll-interval set by the user wins over any schedule.
  PollSchedule fixed(*find_provider("xai"), milliseconds(250), start);
  fixed.observe(running(50), start + seconds(5));
  fail_unless_equals_int(fixed.next_delay(start + seconds(6)).count(), 250);
}
GST_END_TEST;

GST_START_TEST(test_request_pacer_spaces_one_key) {
  const Provider &xai = *find_provider("xai");
  auto &pacer = RequestPacer::instance();
  const std::string key_a = RequestPacer::bucket(xai, Endpoint{"http://127.0.0.1:1", "key-a"});
  const std::string key_b = RequestPacer::bucket(xai, Endpoint{"http://127.0.0.1:1", "key-b"});
  fail_if(key_a == key_b);
  fail_if(contains(key_a, "key-a"), "the bucket name holds the key: %s", key_a.c_str());
  // Three jobs of one key at 1 request/s get slots about a second apart;
  // another key is not held up by them.
  fail_unless(pacer.reserve(key_a, 1.0).count() <= 10);
  const auto second = pacer.reserve(key_a, 1.0).count();
  const auto third = pacer.reserve(key_a, 1.0).count();
  fail_unless(second >= 1000 && second <= 1100, "second slot after %d ms", int(second));
  fail_unless(third >= 2000 && third <= 2200, "third slot after %d ms", int(third));
  fail_unless(pacer.reserve(key_b, 1.0).count() <= 10);
  // A 429 for key b holds every job of key b off until its Retry-After.
  pacer.hold_off(key_b, RequestPacer::Clock::now() + seconds(30));
  const auto held = pacer.reserve(key_b, 0).count();
  fail_unless(held >= 29000 && held <= 30000, "held off for %d ms", int(held));
}
GST_END_TEST;

// ---- The download's width (issue 23) ----

// Feeds a Widening the bytes of a link: `per_connection` bytes/s each (0:
// no such cap) behind a shared `link` (0: none), and returns the width it
// settles at.
static unsigned settle(unsigned connections, double per_connection, double link) {
  using namespace std::chrono_literals;
  using grokimagine::Widening;
  Widening widening(connections);
  auto rate = [&](unsigned width) {
    const double capped = per_connection > 0 ? per_connection * width : 1e12;
    return link > 0 ? std::min(capped, link) : capped;
  };
  auto now = Widening::Clock::time_point{};
  double received = 0;
  auto run = [&](std::chrono::milliseconds span, unsigned width) {
    now += span;
    received += rate(width) * std::chrono::duration<double>(span).count();
  };
  widening.first_bytes(now, 0, 40ms);
  run(300ms, 1);  // the head, alone
  fail_unless_equals_int(widening.width(), 1);
  if (!widening.head_done(now, std::uint64_t(received))) return widening.width();
  // A connection's worth of a round trip: 40 ms at one connection's rate.
  fail_unless_equals_uint64(widening.round_trip_bytes(), std::uint64_t(rate(1) * 0.04));
  for (int steps = 0; steps < 20; steps++) {
    const unsigned before = widening.width() - widening.probes();
    fail_unless(widening.probes() >= 1 && widening.probes() <= 3 * before, "%u probes beside %u",
                widening.probes(), before);
    const unsigned tried = widening.width();
    run(40ms, before);  // the probes' round trip
    widening.probes_answered(now, std::uint64_t(received), 40ms);
    fail_unless(widening.early_window() >= Widening::kMinEarlyWindow &&
                widening.early_window() < widening.window());
    run(widening.early_window(), widening.width());
    auto verdict = widening.judge(now, std::uint64_t(received), false);
    if (verdict == Widening::Verdict::Undecided) {
      run(widening.window() - widening.early_window(), widening.width());
      verdict = widening.judge(now, std::uint64_t(received), true);
      fail_if(verdict == Widening::Verdict::Undecided);
    }
    // Some: more than before, fewer than tried.
    fail_unless((verdict == Widening::Verdict::Some) ==
                    (widening.width() > before && widening.width() < tried),
                "verdict %d: %u of %u kept", int(verdict), widening.width(), tried);
    if (verdict != Widening::Verdict::Widen) {
      fail_unless(widening.settled());
      return widening.width();
    }
  }
  fail("never settled");
  return 0;
}

GST_START_TEST(test_widening_follows_the_link) {
  // A cap per connection: each one more pays, up to the most allowed.
  fail_unless_equals_int(settle(4, 2.5e6, 0), 4);
  fail_unless_equals_int(settle(8, 2.5e6, 0), 8);
  // One shared link: a second connection brings nothing and is let go.
  fail_unless_equals_int(settle(4, 0, 2.5e6), 1);
  // Capped per connection behind a link two connections fill: two.
  fail_unless_equals_int(settle(4, 2.5e6, 5e6), 2);
  // A link over three fill: the step from one to four brings 3.2x, enough.
  fail_unless_equals_int(settle(4, 2.5e6, 8e6), 4);
  // The steps stop at the most allowed.
  fail_unless_equals_int(settle(3, 2.5e6, 0), 3);
  // Past the first step: four pay, sixteen bring what eight would.
  fail_unless_equals_int(settle(16, 2.5e6, 20e6), 8);
  // A link three fill: four bring 3x (enough to keep), eight nothing more.
  fail_unless_equals_int(settle(8, 2.5e6, 7.5e6), 4);
  // connections=1 never tries another.
  fail_unless_equals_int(settle(1, 2.5e6, 0), 1);
}
GST_END_TEST;

// The probes are asked for a round trip before the head's end (at the rate
// measured so far, after the first burst), so that their first bytes come
// as its last ones do: not earlier (the head keeps the whole link), not a
// round trip later.
GST_START_TEST(test_widening_opens_probes_as_the_head_ends) {
  using namespace std::chrono_literals;
  using grokimagine::Widening;
  const auto start = Widening::Clock::time_point{};
  Widening widening(4);
  // No round trip measured yet: nothing to anticipate.
  fail_if(widening.head_ending(start + 200ms, 1000000, 1));
  widening.first_bytes(start, 0, 100ms);
  // A burst first (400 kB in 10 ms), then 10 MB/s over 100 ms round trips:
  // a round trip brings 1 MB.
  fail_if(widening.head_ending(start + 5ms, 300000, 10), "within the burst");
  fail_if(widening.head_ending(start + 10ms, 400000, 1900000), "the rate counts from here");
  fail_if(widening.head_ending(start + 30ms, 600000, 10), "a 20 ms rate is no measure");
  fail_if(widening.head_ending(start + 60ms, 900000, 1100000), "1.1 MB left: too early");
  fail_unless_equals_int(widening.width(), 1);
  fail_unless(widening.head_ending(start + 80ms, 1100000, 900000), "0.9 MB left: now");
  fail_unless_equals_int(widening.width(), 4);
  fail_unless_equals_int(widening.probes(), 3);
  // Once the head is here nothing more opens for it.
  fail_if(widening.head_done(start + 170ms, 2000000));
  fail_unless_equals_int(widening.width(), 4);
  // connections=1: never.
  Widening one(1);
  one.first_bytes(start, 0, 100ms);
  fail_if(one.head_ending(start + 10ms, 100000, 1));
  fail_if(one.head_ending(start + 100ms, 1000000, 1));
  fail_unless_equals_int(one.width(), 1);
}
GST_END_TEST;

// The moov of a clip with an audio track first and the video second, each
// with one chunk: where the video's first sample ends.
GST_START_TEST(test_mp4_first_frame_end) {
  auto full = [](const char *type, const std::string &payload) {
    return box(type, std::string(4, '\0') + payload);  // version and flags
  };
  auto track = [&](const char *handler, std::uint32_t chunk, const std::string &sizes,
                   const char *offsets) {
    const std::string table =
        box("stbl", full("stsz", sizes) + full(offsets, be32(1) + (std::string(offsets) == "co64"
                                                                       ? be32(0) + be32(chunk)
                                                                       : be32(chunk))));
    return box("trak", box("mdia", full("hdlr", be32(0) + handler + std::string(12, '\0')) +
                                       box("minf", table)));
  };
  // stsz: one size for all (0: a table), then the count.
  const std::string audio = track("soun", 1000, be32(0) + be32(2) + be32(300) + be32(310), "stco");
  const std::string video = track("vide", 1300, be32(0) + be32(2) + be32(5000) + be32(90), "stco");
  const std::string moov = box("moov", box("mvhd", std::string(100, '\0')) + audio + video);
  const auto end = grokimagine::mp4::first_frame_end(moov);
  fail_unless(end.has_value());
  fail_unless_equals_uint64(*end, 1300 + 5000);
  // One size for every sample; 64-bit chunk offsets.
  const std::string fixed = box("moov", track("vide", 7000, be32(4096) + be32(3), "co64"));
  fail_unless_equals_uint64(grokimagine::mp4::first_frame_end(fixed).value_or(0), 7000 + 4096);
  // The first frames a decoder needs, as far as the first chunk holds them:
  // three of the two that are there; with an stsc of 4 per chunk, three.
  fail_unless_equals_uint64(*grokimagine::mp4::first_frame_end(moov, 3), 1300 + 5000);
  auto chunked = [&](std::uint32_t per_chunk) {
    const std::string stsc = full("stsc", be32(1) + be32(1) + be32(per_chunk) + be32(1));
    const std::string table = box("stbl", full("stsz", be32(0) + be32(5) + be32(100) + be32(20) +
                                                           be32(30) + be32(40) + be32(50)) +
                                              stsc + full("stco", be32(1) + be32(2000)));
    return box("moov",
               box("trak", box("mdia", full("hdlr", be32(0) + "vide" + std::string(12, '\0')) +
                                           box("minf", table))));
  };
  fail_unless_equals_uint64(*grokimagine::mp4::first_frame_end(chunked(4), 3), 2000 + 150);
  fail_unless_equals_uint64(*grokimagine::mp4::first_frame_end(chunked(2), 3), 2000 + 120);
  fail_unless_equals_uint64(*grokimagine::mp4::first_frame_end(chunked(4), 8), 2000 + 190);
  // No video track, a cut table, not a moov: nothing.
  fail_if(grokimagine::mp4::first_frame_end(box("moov", audio)).has_value());
  fail_if(grokimagine::mp4::first_frame_end(moov.substr(0, moov.size() - 4)).has_value());
  fail_if(grokimagine::mp4::first_frame_end(box("free", video)).has_value());
  // The layout: the moov before the mdat, or the mdat first (the tail).
  const std::string faststart = box("ftyp", "isom") + moov + box("mdat", std::string(64, 'x'));
  auto layout = grokimagine::mp4::find_layout(faststart, faststart.size(), 4096);
  fail_unless(layout.decided && layout.moov_begin && !layout.tail);
  fail_unless_equals_uint64(*layout.moov_begin, 12);
  fail_unless_equals_uint64(*layout.moov_end, 12 + moov.size());
  const std::string at_end = box("ftyp", "isom") + box("mdat", std::string(64, 'x')) + moov;
  layout = grokimagine::mp4::find_layout(at_end.substr(0, 40), at_end.size(), 4096);
  fail_unless(layout.decided && !layout.moov_begin && layout.tail.value_or(0) == 12 + 72);
  fail_unless(!grokimagine::mp4::find_layout(at_end.substr(0, 10), at_end.size(), 4096).decided);
  // A 64-bit box size near 2^64 (found by fuzz-mp4: the walk wrapped
  // around and read far outside the head): no box, nothing read outside.
  const std::string hostile = be32(1) + "free" + std::string(8, '\xff') + std::string(64, 'x');
  layout = grokimagine::mp4::find_layout(hostile, hostile.size(), 4096);
  fail_unless(layout.decided && !layout.tail && !layout.moov_begin);
  fail_if(
      grokimagine::mp4::find_box(grokimagine::mp4::read_from(hostile), 0, hostile.size(), "moov"));
  const std::string tail = at_end.substr(84);
  const auto found =
      grokimagine::mp4::find_box(grokimagine::mp4::read_from(tail, 84), 84, at_end.size(), "moov");
  fail_unless(found && found->begin == 84 && found->payload == 92 && found->end == at_end.size());
}
GST_END_TEST;

// One rule for every request (job polls, clips, images): which answers
// are asked again, and what a media URL's error status means.
GST_START_TEST(test_transient_statuses_and_media_errors) {
  using grokimagine::ErrorKind;
  for (unsigned status : {0u, 429u, 500u, 502u, 503u, 504u})
    fail_unless(grokimagine::http_status_is_transient(status), "%u", status);
  for (unsigned status : {200u, 400u, 401u, 404u, 422u, 501u, 505u, 511u})
    fail_if(grokimagine::http_status_is_transient(status), "%u", status);
  fail_unless(grokimagine::media_status_kind(404) == ErrorKind::NotFound);
  fail_unless(grokimagine::media_status_kind(410) == ErrorKind::NotFound);
  fail_unless(grokimagine::media_status_kind(403) == ErrorKind::NotAuthorized);
  fail_unless(grokimagine::media_status_kind(401) == ErrorKind::NotAuthorized);
  fail_unless(grokimagine::media_status_kind(503) == ErrorKind::Network);
  fail_unless(grokimagine::media_status_kind(418) == ErrorKind::Protocol);
  fail_unless(grokimagine::media_status_kind(505) == ErrorKind::Protocol);
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
  TCase *providers = tcase_create("providers");
  suite_add_tcase(s, providers);
  tcase_add_test(providers, test_same_value_valid_for_one_provider_only);
  tcase_add_test(providers, test_xai_resolution_depends_on_model);
  tcase_add_test(providers, test_reference_image_rules);
  tcase_add_test(providers, test_reapi_needs_public_urls);
  tcase_add_test(providers, test_prompt_length_limits);
  tcase_add_test(providers, test_reapi_error_codes_surface);
  tcase_add_test(providers, test_xai_status_forms);
  tcase_add_test(providers, test_xai_requests_built);
  tcase_add_test(providers, test_xai_images_are_synchronous);
  tcase_add_test(providers, test_mp4_duration_from_mvhd);
  tcase_add_test(providers, test_keyframe_entries);
  tcase_add_test(providers, test_xai_extend_and_edit_built);
  tcase_add_test(providers, test_xai_files_api_requests);
  tcase_add_test(providers, test_aimlapi_polls_by_generation_id);
  tcase_add_test(providers, test_auto_provider_from_environment);
  TCase *pacing = tcase_create("pacing");
  suite_add_tcase(s, pacing);
  tcase_add_test(pacing, test_poll_schedule_follows_xai_progress);
  tcase_add_test(pacing, test_poll_schedule_defaults_and_overrides);
  tcase_add_test(pacing, test_request_pacer_spaces_one_key);
  tcase_add_test(pacing, test_transient_statuses_and_media_errors);
  TCase *download = tcase_create("download");
  suite_add_tcase(s, download);
  tcase_add_test(download, test_widening_follows_the_link);
  tcase_add_test(download, test_widening_opens_probes_as_the_head_ends);
  tcase_add_test(download, test_mp4_first_frame_end);
  return s;
}

GST_CHECK_MAIN(core);
