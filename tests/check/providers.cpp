// SPDX-License-Identifier: LGPL-2.1-or-later
// Every provider end to end against its emulator profile, and
// grokimagineimagesrc: real HTTP, real media, real decoders.
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>
#include <cmath>

#include "assert-string.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;
using test::StreamStats;

static const char *kPrompt = "A fox crossing a snowy field";

static emu::Options profile(emu::Provider provider) {
  emu::Options options = test::quick_options();
  options.provider = provider;
  return options;
}

// The element pointed at `emulator` as provider `name` (xAI's base URL
// carries its /v1, as https://api.x.ai/v1 does).
static GstElement *make_element(const char *factory, const char *name,
                                const emu::Emulator &emulator) {
  return test::make_element(factory, emulator, name, kPrompt);
}

struct Decoded {
  RunResult run;
  StreamStats video, audio;
};

static Decoded decode_with(GstElement *source) {
  Decoded decoded;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  test::attach_counting_sinks(pipeline, source, &decoded.video, &decoded.audio);
  decoded.run = test::run_pipeline(pipeline, 90);
  gst_object_unref(pipeline);
  return decoded;
}

static void assert_clip(const Decoded &d, emu::FrameSize size, int seconds) {
  fail_unless(d.run.eos, "no EOS: %s", d.run.error_text().c_str());
  fail_unless_equals_int(d.video.width, size.width);
  fail_unless_equals_int(d.video.height, size.height);
  fail_unless(d.video.buffers >= seconds * 24 - 1 && d.video.buffers <= seconds * 24,
              "%d video frames", d.video.buffers);
  fail_unless(d.audio.audio_samples > 0, "no audio");
}

GST_START_TEST(test_xai_text_to_video_with_progress) {
  // Long enough for a few polls at xAI's 1 request/s: the emulator answers
  // every other poll with an empty 202, as xAI may.
  emu::Options options = profile(emu::Provider::Xai);
  options.generation_ms = 3500;
  emu::Emulator emulator(options);
  GstElement *source = make_element("grokimaginevideosrc", "xai", emulator);
  g_object_set(source, "duration", 2, "resolution", "720p", "aspect-ratio", "1:1", nullptr);
  Decoded d = decode_with(source);
  assert_clip(d, emu::frame_size("720p", "1:1"), 2);
  auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 1);
  assert_str_eq(submits[0].path, "/v1/videos/generations");
  assert_str_eq(submits[0].model, "grok-imagine-video");
  fail_unless_equals_int(emulator.counters().cdn_requests_with_key, 0);
  assert_str_eq(d.run.job_statuses.back(), "done");
  // xAI's progress reaches the bus between 0 and 100.
  bool partial = false;
  for (int progress : d.run.job_progress) partial |= progress > 0 && progress < 100;
  fail_unless(partial, "no intermediate progress was posted");
}
GST_END_TEST;

GST_START_TEST(test_xai_1080p_needs_v15) {
  emu::Emulator emulator(profile(emu::Provider::Xai));
  GstElement *refused = make_element("grokimaginesrc", "xai", emulator);
  g_object_set(refused, "resolution", "1080p", nullptr);
  RunResult run = test::run_failing(refused);
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_SETTINGS);
  fail_unless(test::contains(run.error_text(), "grok-imagine-video allows 480p, 720p"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);

  GstElement *source = make_element("grokimaginevideosrc", "xai", emulator);
  g_object_set(source, "duration", 1, "resolution", "1080p", "model", "grok-imagine-video-1.5",
               nullptr);
  assert_clip(decode_with(source), emu::frame_size("1080p", "16:9"), 1);
}
GST_END_TEST;

GST_START_TEST(test_xai_moderation_is_an_error) {
  emu::Options options = profile(emu::Provider::Xai);
  options.moderate = true;
  emu::Emulator emulator(options);
  RunResult run = test::run_failing(make_element("grokimaginesrc", "xai", emulator));
  const std::string id = emulator.submits().at(0).request_id;
  assert_str_eq(run.error_detail("reason"), "moderated");
  fail_unless(test::contains(run.error_text(), "moderation"), "%s", run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), id);
  fail_unless_equals_int(emulator.counters().downloads, 0);
}
GST_END_TEST;

GST_START_TEST(test_xai_expired_and_failed) {
  emu::Options options = profile(emu::Provider::Xai);
  options.expire_jobs = true;
  emu::Emulator expiring(options);
  RunResult expired = test::run_failing(make_element("grokimaginesrc", "xai", expiring));
  assert_str_eq(expired.error_detail("reason"), "expired");
  fail_unless_equals_int(expired.error_code(), GST_RESOURCE_ERROR_NOT_FOUND);
  assert_str_eq(expired.error_detail("request-id"), expiring.submits().at(0).request_id);

  options = profile(emu::Provider::Xai);
  options.fail_detail = "the prompt was rejected";
  emu::Emulator failing(options);
  RunResult failed = test::run_failing(make_element("grokimaginesrc", "xai", failing));
  assert_str_eq(failed.error_detail("reason"), "job-failed");
  fail_unless(test::contains(failed.error_text(), options.fail_detail), "%s",
              failed.error_text().c_str());
}
GST_END_TEST;

GST_START_TEST(test_xai_image_to_video_and_references) {
  emu::Emulator emulator(profile(emu::Provider::Xai));
  const std::string png = test::make_png(40, 30);
  const std::string bytes = test::read_file(png);
  GstElement *source = make_element("grokimaginevideosrc", "xai", emulator);
  g_object_set(source, "duration", 1, "image", png.c_str(), nullptr);
  assert_clip(decode_with(source), emu::frame_size("480p", "16:9"), 1);
  fail_unless_equals_int(emulator.submits().at(0).image_bytes, gint64(bytes.size()));

  // gst-launch syntax for the list, mixing a URL and a local file.
  test::FileServer server("/ref.png", "image/png", bytes);
  const std::string description = "grokimaginesrc name=g reference-images=\"<" + server.url() +
                                  "/ref.png," + png + ">\" ! fakesink";
  GstElement *pipeline = gst_parse_launch(description.c_str(), nullptr);
  fail_unless(pipeline != nullptr);
  GstElement *g = gst_bin_get_by_name(GST_BIN(pipeline), "g");
  gst_util_set_object_arg(G_OBJECT(g), "provider", "xai");
  g_object_set(g, "api-url", (emulator.api_url() + "/v1").c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               "duration", 1, nullptr);
  gst_object_unref(g);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  auto references = emulator.submits().at(1).reference_image_bytes;
  fail_unless_equals_int(references.size(), 2);
  fail_unless_equals_int(references[0], gint64(bytes.size()));
  fail_unless_equals_int(references[1], gint64(bytes.size()));
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_aimlapi_text_and_references) {
  emu::Emulator emulator(profile(emu::Provider::Aimlapi));
  GstElement *source = make_element("grokimaginevideosrc", "aimlapi", emulator);
  g_object_set(source, "duration", 2, "aspect-ratio", "9:16", nullptr);
  assert_clip(decode_with(source), emu::frame_size("480p", "9:16"), 2);
  assert_str_eq(emulator.submits().at(0).model, "x-ai/grok-imagine-video");

  const std::string png = test::make_png(16, 16);
  test::FileServer server("/r.png", "image/png", test::read_file(png));
  GstElement *referenced = make_element("grokimaginevideosrc", "aimlapi", emulator);
  GValue list = G_VALUE_INIT;
  g_value_init(&list, GST_TYPE_ARRAY);
  for (int i = 0; i < 3; i++) {
    GValue item = G_VALUE_INIT;
    g_value_init(&item, G_TYPE_STRING);
    g_value_set_string(&item, (server.url() + "/r.png").c_str());
    gst_value_array_append_and_take_value(&list, &item);
  }
  g_object_set_property(G_OBJECT(referenced), "reference-images", &list);
  g_value_unset(&list);
  g_object_set(referenced, "duration", 1, nullptr);
  assert_clip(decode_with(referenced), emu::frame_size("480p", "16:9"), 1);
  fail_unless_equals_int(emulator.submits().at(1).reference_image_bytes.size(), 3);
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_aimlapi_failed_job) {
  emu::Options options = profile(emu::Provider::Aimlapi);
  options.fail_detail = "upstream generation error";
  emu::Emulator emulator(options);
  RunResult run = test::run_failing(make_element("grokimaginesrc", "aimlapi", emulator));
  assert_str_eq(run.error_detail("reason"), "job-failed");
  fail_unless(test::contains(run.error_text(), options.fail_detail), "%s",
              run.error_text().c_str());
  assert_str_eq(run.error_detail("request-id"), emulator.submits().at(0).request_id);
}
GST_END_TEST;

GST_START_TEST(test_reapi_end_to_end) {
  emu::Emulator emulator(profile(emu::Provider::Reapi));
  GstElement *source = make_element("grokimaginevideosrc", "reapi", emulator);
  g_object_set(source, "duration", 6, "resolution", "720p", "aspect-ratio", "3:2", nullptr);
  assert_clip(decode_with(source), emu::frame_size("720p", "3:2"), 6);
  auto submits = emulator.submits();
  assert_str_eq(submits.at(0).path, "/api/v1/videos/generations");
  fail_unless(test::contains(submits[0].body, "\"quality\":\"720p\""), "%s",
              submits[0].body.c_str());
  fail_unless(test::contains(submits[0].body, "\"size\":\"3:2\""), "%s", submits[0].body.c_str());
}
GST_END_TEST;

GST_START_TEST(test_reapi_refusals) {
  emu::Emulator emulator(profile(emu::Provider::Reapi));
  GstElement *short_clip = make_element("grokimaginesrc", "reapi", emulator);
  g_object_set(short_clip, "duration", 3, nullptr);
  RunResult too_short = test::run_failing(short_clip);
  fail_unless(test::contains(too_short.error_text(), "reapi allows 6 to 30"), "%s",
              too_short.error_text().c_str());

  const std::string png = test::make_png(8, 8);
  GstElement *local = make_element("grokimaginesrc", "reapi", emulator);
  g_object_set(local, "duration", 6, "image", png.c_str(), nullptr);
  RunResult local_image = test::run_failing(local);
  fail_unless(test::contains(local_image.error_text(), "public http(s) URL"), "%s",
              local_image.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
  g_unlink(png.c_str());

  // What reAPI itself refuses comes back with its code.
  const std::string envelope =
      "{\"error\":{\"code\":20007,\"message\":\"grok-imagine: prompt exceeds 4000 "
      "characters (got 4100)\",\"request_id\":\"req_x\"}}";
  emulator.add_fault({emu::Phase::Submit, 400, envelope});
  GstElement *refused = make_element("grokimaginesrc", "reapi", emulator);
  g_object_set(refused, "duration", 6, nullptr);
  RunResult server_refused = test::run_failing(refused);
  assert_str_eq(server_refused.error_detail("reason"), "bad-request");
  fail_unless(test::contains(server_refused.error_text(), "code 20007"), "%s",
              server_refused.error_text().c_str());
}
GST_END_TEST;

GST_START_TEST(test_auto_provider_uses_the_key_in_the_environment) {
  emu::Emulator emulator(profile(emu::Provider::Xai));
  for (const char *variable : {"XAI_API_KEY", "SEGMIND_API_KEY", "AIMLAPI_KEY", "REAPI_KEY"})
    g_unsetenv(variable);
  GstElement *none = make_element("grokimaginesrc", "auto", emulator);
  RunResult unset = test::run_failing(none);
  fail_unless(
      test::contains(unset.error_text(), "XAI_API_KEY, SEGMIND_API_KEY, AIMLAPI_KEY, REAPI_KEY"),
      "%s", unset.error_text().c_str());

  g_setenv("XAI_API_KEY", emulator.options().api_key.c_str(), TRUE);
  GstElement *source = gst_element_factory_make("grokimaginevideosrc", nullptr);
  g_object_set(source, "api-url", (emulator.api_url() + "/v1").c_str(), "prompt", kPrompt,
               "poll-interval", 100u, "duration", 1, nullptr);
  assert_clip(decode_with(source), emu::frame_size("480p", "16:9"), 1);
  fail_unless_equals_int(emulator.counters().submits_accepted, 1);
  g_unsetenv("XAI_API_KEY");
}
GST_END_TEST;

GST_START_TEST(test_segmind_preview_is_synchronous) {
  emu::Emulator emulator(test::quick_options());
  const std::string png = test::make_png(48, 27);
  const std::string bytes = test::read_file(png);
  GstElement *source = make_element("grokimaginevideosrc", "segmind", emulator);
  g_object_set(source, "model", "grok-imagine-video-1.5-preview", "image", png.c_str(), "duration",
               2, "resolution", "720p", nullptr);
  assert_clip(decode_with(source), emu::frame_size("720p", "16:9"), 2);
  auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 1);
  assert_str_eq(submits[0].path, "/v1/grok-imagine-video-1.5-preview");
  fail_unless_equals_int(submits[0].image_bytes, gint64(bytes.size()));
  fail_unless_equals_int(emulator.counters().status_polls, 0);
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_segmind_preview_refusals) {
  emu::Emulator emulator(test::quick_options());
  GstElement *no_image = make_element("grokimaginesrc", "segmind", emulator);
  g_object_set(no_image, "model", "grok-imagine-video-1.5-preview", nullptr);
  RunResult missing = test::run_failing(no_image);
  fail_unless(test::contains(missing.error_text(), "'image' is empty"), "%s",
              missing.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);

  // An error answer to the synchronous call is the provider's, and the
  // call is not repeated.
  emulator.add_fault({emu::Phase::Submit, 406, R"({"error":"Not enough credits"})", 0, -1, -1});
  GstElement *broke = make_element("grokimaginesrc", "segmind", emulator);
  g_object_set(broke, "model", "grok-imagine-video-1.5-preview", "image",
               "https://example.com/cat.png", nullptr);
  RunResult credits = test::run_failing(broke);
  assert_str_eq(credits.error_detail("reason"), "insufficient-credits");
  fail_unless(test::contains(credits.error_text(), "Not enough credits"), "%s",
              credits.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// grokimagineimagesrc: n images -> n encoded buffers with the right caps,
// each decoding to the size the request gives.
struct Images {
  RunResult run;
  std::vector<std::string> caps;
  std::vector<std::string> bytes;
};

static void record_image(GstElement *, GstBuffer *buffer, GstPad *pad, Images *out) {
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  out->caps.push_back(gst_structure_get_name(gst_caps_get_structure(caps, 0)));
  std::string bytes(gst_buffer_get_size(buffer), '\0');
  gst_buffer_extract(buffer, 0, bytes.data(), bytes.size());
  out->bytes.push_back(std::move(bytes));
}

static Images collect_images(GstElement *source) {
  Images images;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  g_object_set(sink, "signal-handoffs", TRUE, nullptr);
  g_signal_connect(sink, "handoff", G_CALLBACK(record_image), &images);
  images.run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  return images;
}

GST_START_TEST(test_segmind_images) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_element("grokimagineimagesrc", "segmind", emulator);
  // An image model's price is per image made.
  test::TempDir dir;
  const std::string prices = dir.path("prices.txt");
  fail_unless(
      g_file_set_contents(prices.c_str(), "segmind grok-imagine-image * 0.03\n", -1, nullptr));
  g_object_set(source, "n", 2, "resolution", "1k", "aspect-ratio", "16:9", "prices", prices.c_str(),
               nullptr);
  gst_object_ref(source);
  Images images = collect_images(source);
  double spent = -1;
  g_object_get(source, "spent-usd", &spent, nullptr);
  gst_object_unref(source);
  fail_unless(std::fabs(spent - 0.06) < 1e-9, "spent-usd %f for 2 images at $0.03", spent);
  fail_unless(images.run.eos, "%s", images.run.error_text().c_str());
  fail_unless_equals_int(images.caps.size(), 2);
  const emu::FrameSize size = emu::image_size("1k", "16:9");
  for (size_t i = 0; i < images.caps.size(); i++) {
    assert_str_eq(images.caps[i], "image/png");
    auto [width, height] = test::decoded_image_size(images.bytes[i]);
    fail_unless_equals_int(width, size.width);
    fail_unless_equals_int(height, size.height);
  }
  fail_if(images.bytes[0] == images.bytes[1], "the two images are the same");
  auto submits = emulator.submits();
  assert_str_eq(submits.at(0).path, "/v2/grok-imagine-image");

  GstElement *webp = make_element("grokimagineimagesrc", "segmind", emulator);
  g_object_set(webp, "output-format", "webp", "mode", "quality", nullptr);
  Images webps = collect_images(webp);
  fail_unless(webps.run.eos, "%s", webps.run.error_text().c_str());
  fail_unless_equals_int(webps.caps.size(), 1);
  assert_str_eq(webps.caps[0], "image/webp");
  fail_unless(webps.bytes[0].compare(0, 4, "RIFF") == 0 &&
              webps.bytes[0].compare(8, 4, "WEBP") == 0);
  fail_unless(test::contains(emulator.submits().at(1).body, "\"mode\":\"quality\""));
}
GST_END_TEST;

GST_START_TEST(test_xai_images_to_files) {
  emu::Emulator emulator(profile(emu::Provider::Xai));
  test::TempDir dir;
  const std::string pattern = dir.path("img-%d.jpeg");
  GstElement *pipeline = gst_parse_launch(
      ("grokimagineimagesrc name=g n=3 ! multifilesink location=" + pattern).c_str(), nullptr);
  GstElement *g = gst_bin_get_by_name(GST_BIN(pipeline), "g");
  gst_util_set_object_arg(G_OBJECT(g), "provider", "xai");
  g_object_set(g, "api-url", (emulator.api_url() + "/v1").c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, nullptr);
  gst_object_unref(g);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  for (int i = 0; i < 3; i++) {
    const std::string data =
        test::read_file(dir.path(("img-" + std::to_string(i) + ".jpeg").c_str()));
    fail_unless(data.size() > 1000 && data.compare(0, 2, "\xff\xd8") == 0, "image %d", i);
    auto [width, height] = test::decoded_image_size(data);
    fail_unless_equals_int(width, emu::image_size("1k", "1:1").width);
    fail_unless_equals_int(height, emu::image_size("1k", "1:1").height);
  }
  fail_unless(test::read_file(dir.path("img-3.jpeg")).empty(), "a fourth image");
  assert_str_eq(emulator.submits().at(0).path, "/v1/images/generations");
}
GST_END_TEST;

// The pipeline the element's documentation promises.
GST_START_TEST(test_image_into_imagefreeze) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_parse_launch(
      "grokimagineimagesrc name=g provider=segmind ! pngdec ! imagefreeze num-buffers=5 ! "
      "videoconvert ! fakesink name=sink signal-handoffs=true",
      nullptr);
  GstElement *g = gst_bin_get_by_name(GST_BIN(pipeline), "g");
  g_object_set(g, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               nullptr);
  gst_object_unref(g);
  int frames = 0;
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_signal_connect(sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, int *n) { (*n)++; }),
                   &frames);
  gst_object_unref(sink);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(frames, 5);
}
GST_END_TEST;

GST_START_TEST(test_image_validation_per_provider) {
  emu::Emulator emulator(test::quick_options());
  GstElement *too_many = make_element("grokimagineimagesrc", "segmind", emulator);
  g_object_set(too_many, "n", 5, nullptr);
  RunResult run = test::run_failing(too_many);
  fail_unless(test::contains(run.error_text(), "'n' is 5: segmind allows 1 to 4"), "%s",
              run.error_text().c_str());
  GstElement *no_images = make_element("grokimagineimagesrc", "reapi", emulator);
  RunResult reapi = test::run_failing(no_images);
  fail_unless(test::contains(reapi.error_text(), "reapi does not make images"), "%s",
              reapi.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// ---- Failover between providers (issue 21) ----

// `emulator` as a fallback provider: its key and API URL in the environment,
// as a user sets them (GROKIMAGINE_<PROVIDER>_API_URL, never a URI).
class FallbackEnvironment {
 public:
  FallbackEnvironment(const char *key_variable, const char *url_variable,
                      const emu::Emulator &emulator)
      : key_(key_variable), url_(url_variable) {
    g_setenv(key_, emulator.options().api_key.c_str(), TRUE);
    g_setenv(url_, emulator.api_url().c_str(), TRUE);
  }
  ~FallbackEnvironment() {
    g_unsetenv(key_);
    g_unsetenv(url_);
  }
  FallbackEnvironment(const FallbackEnvironment &) = delete;
  FallbackEnvironment &operator=(const FallbackEnvironment &) = delete;

 private:
  const char *key_, *url_;
};

struct Failover {
  std::string from, to, reason, request_id;
};

// Decodes `source` and collects its grokimagine-failover messages.
static Decoded decode_with_failovers(GstElement *source, std::vector<Failover> *failovers,
                                     std::vector<std::string> *warnings = nullptr) {
  Decoded decoded;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), source);
  test::attach_counting_sinks(pipeline, source, &decoded.video, &decoded.audio);
  decoded.run = test::run_pipeline(pipeline, 90, [&](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING && warnings) {
      g_autoptr(GError) error = nullptr;
      gst_message_parse_warning(message, &error, nullptr);
      warnings->push_back(error->message);
    }
    const GstStructure *s = gst_message_get_structure(message);
    if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT ||
        !gst_structure_has_name(s, "grokimagine-failover"))
      return;
    failovers->push_back({gst_structure_get_string(s, "from"), gst_structure_get_string(s, "to"),
                          gst_structure_get_string(s, "reason"),
                          gst_structure_get_string(s, "request-id")});
  });
  gst_object_unref(pipeline);
  return decoded;
}

// `factory` on `primary` as provider `name`, turning to `fallbacks` (e.g.
// "<segmind>"), with a cool-down of `cooldown_s`.
static GstElement *with_fallbacks(const char *factory, const char *name,
                                  const emu::Emulator &primary, const char *fallbacks,
                                  guint cooldown_s) {
  GstElement *source = make_element(factory, name, primary);
  gst_util_set_object_arg(G_OBJECT(source), "fallback-providers", fallbacks);
  g_object_set(source, "failover-cooldown", cooldown_s, nullptr);
  if (g_str_equal(factory, "grokimaginevideosrc")) g_object_set(source, "duration", 1, nullptr);
  return source;
}

// Segmind out of credit: its next submit is refused with HTTP 406.
static void refuse_next_submit_for_credit(emu::Emulator &segmind) {
  emu::Fault no_credit{emu::Phase::Submit};
  no_credit.status = 406;
  segmind.add_fault(no_credit);
}

// grokimaginevideosrc on `primary` (as `name`) with `fallback` as its one
// fallback provider (as `fallback_name`, reached through `key_variable`
// and `url_variable`): the clip comes from the fallback, with one submit
// on each, and one failover said with its reason (containing `reason`)
// and the failed job's id ("" when the submit was refused: no job existed).
static void expect_one_failover(const emu::Emulator &primary, const char *name,
                                const emu::Emulator &fallback, const char *fallback_name,
                                const char *key_variable, const char *url_variable,
                                const char *reason) {
  FallbackEnvironment environment(key_variable, url_variable, fallback);
  std::vector<Failover> failovers;
  const std::string fallbacks = std::string("<") + fallback_name + ">";
  Decoded d = decode_with_failovers(
      with_fallbacks("grokimaginevideosrc", name, primary, fallbacks.c_str(), 0), &failovers);
  assert_clip(d, emu::frame_size("480p", "16:9"), 1);
  fail_unless_equals_int(primary.counters().submits_total, 1);
  fail_unless_equals_int(primary.counters().downloads, 0);
  fail_unless_equals_int(fallback.counters().submits_total, 1);
  fail_unless_equals_int(failovers.size(), 1);
  assert_str_eq(failovers[0].from, name);
  assert_str_eq(failovers[0].to, fallback_name);
  assert_str_eq(failovers[0].request_id, primary.submits().at(0).request_id);
  fail_unless(test::contains(failovers[0].reason, reason), "%s", failovers[0].reason.c_str());
  assert_str_eq(d.run.job_request_ids.back(), fallback.submits().at(0).request_id);
}

// A moderated job on xai, then a submit refused for credit on segmind: each
// time the next provider makes the clip, with one submit on each and the
// failover said with its reason and the failed job's id.
GST_START_TEST(test_failover_to_the_next_provider) {
  emu::Options moderating = profile(emu::Provider::Xai);
  moderating.moderate = true;
  emu::Emulator xai(moderating);
  emu::Emulator segmind(profile(emu::Provider::Segmind));
  expect_one_failover(xai, "xai", segmind, "segmind", "SEGMIND_API_KEY",
                      "GROKIMAGINE_SEGMIND_API_URL", "moderation");
  fail_if(xai.submits().at(0).request_id.empty());

  // Refused before any job existed (Segmind's 406: out of credit).
  emu::Emulator broke(profile(emu::Provider::Segmind));
  refuse_next_submit_for_credit(broke);
  emu::Emulator aimlapi(profile(emu::Provider::Aimlapi));
  expect_one_failover(broke, "segmind", aimlapi, "aimlapi", "AIMLAPI_KEY",
                      "GROKIMAGINE_AIMLAPI_API_URL", "credit");
  fail_unless_equals_int(broke.counters().submits_accepted, 0);
}
GST_END_TEST;

// grokimagineimagesrc fails over as the video sources do: Segmind out of
// credit, the image comes from xAI, one submit on each.
GST_START_TEST(test_image_source_fails_over) {
  emu::Emulator broke(profile(emu::Provider::Segmind));
  refuse_next_submit_for_credit(broke);
  emu::Emulator xai(profile(emu::Provider::Xai));
  g_setenv("XAI_API_KEY", xai.options().api_key.c_str(), TRUE);
  g_setenv("GROKIMAGINE_XAI_API_URL", (xai.api_url() + "/v1").c_str(), TRUE);
  GstElement *source = with_fallbacks("grokimagineimagesrc", "segmind", broke, "<xai>", 0);
  GstElement *pipeline = test::pipeline_with_sink(source);
  std::vector<Failover> failovers;
  int images = 0;
  g_autoptr(GstPad) src = gst_element_get_static_pad(source, "src");
  gst_pad_add_probe(
      src, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *, gpointer count) {
        ++*static_cast<int *>(count);
        return GST_PAD_PROBE_OK;
      },
      &images, nullptr);
  RunResult run = test::run_pipeline(pipeline, 60, [&](GstMessage *message) {
    const GstStructure *s = gst_message_get_structure(message);
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
        gst_structure_has_name(s, "grokimagine-failover"))
      failovers.push_back({gst_structure_get_string(s, "from"), gst_structure_get_string(s, "to"),
                           gst_structure_get_string(s, "reason"),
                           gst_structure_get_string(s, "request-id")});
  });
  gst_object_unref(pipeline);
  g_unsetenv("XAI_API_KEY");
  g_unsetenv("GROKIMAGINE_XAI_API_URL");
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(images, 1);
  fail_unless_equals_int(broke.counters().submits_total, 1);
  fail_unless_equals_int(broke.counters().submits_accepted, 0);
  fail_unless_equals_int(xai.counters().submits_total, 1);
  fail_unless_equals_int(failovers.size(), 1);
  assert_str_eq(failovers[0].from, "segmind");
  assert_str_eq(failovers[0].to, "xai");
  fail_unless(test::contains(failovers[0].reason, "credit"), "%s", failovers[0].reason.c_str());
}
GST_END_TEST;

// on-moderation=fail: a moderated job is the error (reason moderated, its
// request id), fallback providers or not.
GST_START_TEST(test_on_moderation_fail_keeps_the_error) {
  emu::Options moderating = profile(emu::Provider::Xai);
  moderating.moderate = true;
  emu::Emulator xai(moderating);
  emu::Emulator segmind(profile(emu::Provider::Segmind));
  FallbackEnvironment fallback("SEGMIND_API_KEY", "GROKIMAGINE_SEGMIND_API_URL", segmind);
  GstElement *source = with_fallbacks("grokimaginesrc", "xai", xai, "<segmind>", 0);
  gst_util_set_object_arg(G_OBJECT(source), "on-moderation", "fail");
  RunResult run = test::run_failing(source);
  assert_str_eq(run.error_detail("reason"), "moderated");
  assert_str_eq(run.error_detail("request-id"), xai.submits().at(0).request_id);
  fail_unless_equals_int(segmind.counters().submits_total, 0);
}
GST_END_TEST;

// A submit whose fate is unknown (a 500 after it arrived: the provider may
// have made, and billed, the job) is never followed by another provider's:
// the error says so, and the fallback saw nothing.
GST_START_TEST(test_no_failover_after_an_ambiguous_submit) {
  emu::Emulator segmind(profile(emu::Provider::Segmind));
  emu::Fault server_error{emu::Phase::Submit};
  server_error.status = 500;
  segmind.add_fault(server_error);
  emu::Emulator aimlapi(profile(emu::Provider::Aimlapi));
  FallbackEnvironment fallback("AIMLAPI_KEY", "GROKIMAGINE_AIMLAPI_API_URL", aimlapi);
  RunResult run =
      test::run_failing(with_fallbacks("grokimaginesrc", "segmind", segmind, "<aimlapi>", 0));
  fail_unless(test::contains(run.error_text(), "may have accepted"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(segmind.counters().submits_total, 1);
  fail_unless_equals_int(aimlapi.counters().submits_total, 0);
}
GST_END_TEST;

// A provider that failed a job is skipped for the next jobs of the process
// until its cool-down ends: the second element starts on the fallback, and
// says why.
GST_START_TEST(test_failover_cooldown_skips_a_failed_provider) {
  emu::Emulator segmind(profile(emu::Provider::Segmind));
  refuse_next_submit_for_credit(segmind);
  emu::Emulator aimlapi(profile(emu::Provider::Aimlapi));
  FallbackEnvironment fallback("AIMLAPI_KEY", "GROKIMAGINE_AIMLAPI_API_URL", aimlapi);
  std::vector<Failover> failovers;
  for (int i = 0; i < 2; i++)
    assert_clip(decode_with_failovers(
                    with_fallbacks("grokimaginevideosrc", "segmind", segmind, "<aimlapi>", 600),
                    &failovers),
                emu::frame_size("480p", "16:9"), 1);
  fail_unless_equals_int(segmind.counters().submits_total, 1);
  fail_unless_equals_int(aimlapi.counters().submits_total, 2);
  fail_unless_equals_int(failovers.size(), 2);
  fail_unless(test::contains(failovers[1].reason, "cooling down"), "%s",
              failovers[1].reason.c_str());
}
GST_END_TEST;

// Refused at start: a name that is no provider. Left out with a warning: a
// fallback without its key.
GST_START_TEST(test_fallback_providers_checked_at_start) {
  emu::Emulator segmind(profile(emu::Provider::Segmind));
  RunResult refused =
      test::run_failing(with_fallbacks("grokimaginesrc", "segmind", segmind, "<nonesuch>", 0));
  fail_unless(test::contains(refused.error_text(),
                             "Property 'fallback-providers' names "
                             "'nonesuch', which is not a provider"),
              "%s", refused.error_text().c_str());
  fail_unless_equals_int(segmind.counters().submits_total, 0);

  g_unsetenv("REAPI_KEY");
  std::vector<Failover> failovers;
  std::vector<std::string> warnings;
  assert_clip(decode_with_failovers(
                  with_fallbacks("grokimaginevideosrc", "segmind", segmind, "<reapi>", 60),
                  &failovers, &warnings),
              emu::frame_size("480p", "16:9"), 1);
  fail_unless_equals_int(warnings.size(), 1);
  fail_unless(test::contains(warnings[0], "Fallback provider reapi: No API key for reapi"), "%s",
              warnings[0].c_str());
  fail_unless(failovers.empty());
}
GST_END_TEST;

// A 4 s job that reapi (6 to 30 s) cannot make: left out, said at start,
// unless fallback-adapt lets it make the nearest it can (6 s).
GST_START_TEST(test_fallback_adapt_clamps_the_duration) {
  emu::Emulator reapi(profile(emu::Provider::Reapi));
  FallbackEnvironment environment("REAPI_KEY", "GROKIMAGINE_REAPI_API_URL", reapi);
  for (const bool adapt : {false, true}) {
    emu::Emulator broke(profile(emu::Provider::Segmind));
    refuse_next_submit_for_credit(broke);
    GstElement *source = with_fallbacks("grokimaginevideosrc", "segmind", broke, "<reapi>", 0);
    g_object_set(source, "duration", 4, "fallback-adapt", adapt, nullptr);
    std::vector<Failover> failovers;
    std::vector<std::string> warnings;
    Decoded d = decode_with_failovers(source, &failovers, &warnings);
    if (!adapt) {
      fail_if(d.run.eos);
      fail_unless(test::contains(d.run.error_text(), "credit"), "%s", d.run.error_text().c_str());
      fail_unless_equals_int(warnings.size(), 1);
      fail_unless(test::contains(warnings[0], "Fallback provider reapi"), "%s",
                  warnings[0].c_str());
      fail_unless(test::contains(warnings[0], "duration"), "%s", warnings[0].c_str());
      fail_unless_equals_int(reapi.counters().submits_total, 0);
      continue;
    }
    assert_clip(d, emu::frame_size("480p", "16:9"), 6);
    fail_unless(warnings.empty());
    fail_unless_equals_int(failovers.size(), 1);
    fail_unless_equals_int(reapi.counters().submits_total, 1);
    fail_unless(test::contains(reapi.submits().at(0).body, "\"duration\":6"), "%s",
                reapi.submits().at(0).body.c_str());
  }
}
GST_END_TEST;

static Suite *providers_suite() {
  Suite *s = suite_create("providers");
  TCase *video = tcase_create("video");
  tcase_set_timeout(video, 120);
  suite_add_tcase(s, video);
  tcase_add_test(video, test_xai_text_to_video_with_progress);
  tcase_add_test(video, test_xai_1080p_needs_v15);
  tcase_add_test(video, test_xai_moderation_is_an_error);
  tcase_add_test(video, test_xai_expired_and_failed);
  tcase_add_test(video, test_xai_image_to_video_and_references);
  tcase_add_test(video, test_aimlapi_text_and_references);
  tcase_add_test(video, test_aimlapi_failed_job);
  tcase_add_test(video, test_reapi_end_to_end);
  tcase_add_test(video, test_reapi_refusals);
  tcase_add_test(video, test_auto_provider_uses_the_key_in_the_environment);
  tcase_add_test(video, test_segmind_preview_is_synchronous);
  tcase_add_test(video, test_segmind_preview_refusals);
  TCase *failover = tcase_create("failover");
  tcase_set_timeout(failover, 120);
  suite_add_tcase(s, failover);
  tcase_add_test(failover, test_failover_to_the_next_provider);
  tcase_add_test(failover, test_image_source_fails_over);
  tcase_add_test(failover, test_no_failover_after_an_ambiguous_submit);
  tcase_add_test(failover, test_on_moderation_fail_keeps_the_error);
  tcase_add_test(failover, test_failover_cooldown_skips_a_failed_provider);
  tcase_add_test(failover, test_fallback_providers_checked_at_start);
  tcase_add_test(failover, test_fallback_adapt_clamps_the_duration);
  TCase *images = tcase_create("images");
  tcase_set_timeout(images, 120);
  suite_add_tcase(s, images);
  tcase_add_test(images, test_segmind_images);
  tcase_add_test(images, test_xai_images_to_files);
  tcase_add_test(images, test_image_into_imagefreeze);
  tcase_add_test(images, test_image_validation_per_provider);
  return s;
}

GST_CHECK_MAIN(providers);
