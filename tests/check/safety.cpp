// SPDX-License-Identifier: LGPL-2.1-or-later
// What a user would pay for if it went wrong: URIs that steer the key or the
// disk, values that are not what the user gets, a resume lost to the order
// of properties, a submit repeated after a seek or lost to a stop, paths and
// pads found wrong only after paying, images judged by their names, changes
// while running, and logs that show each step without the key.
#include <gst/check/gstcheck.h>

#include <cmath>

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "assert-string.h"
#include "core/log.h"
#include "core/providers/provider.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;

static const char *kPrompt = "A lighthouse in a storm";

static GstElement *make_source(const emu::Emulator &emulator,
                               const char *factory = "grokimaginesrc") {
  GstElement *source = gst_element_factory_make(factory, nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", "segmind");
  g_object_set(source, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               nullptr);
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(source), "duration"))
    g_object_set(source, "duration", 1, nullptr);
  return source;
}

// Waits (bounded) until the emulator has received `count` submits.
static void wait_for_submits(const emu::Emulator &emulator, int count) {
  test::wait_until([&] { return emulator.counters().submits_total >= count; },
                   std::chrono::seconds(20), "the submit");
}

// Pops messages until `type` (or fails after `timeout_s`).
static test::OwnedMessage pop(GstElement *pipeline, GstMessageType type, int timeout_s = 20) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(bus, GstClockTime(timeout_s) * GST_SECOND, type);
  fail_unless(message != nullptr, "no %s message", gst_message_type_get_name(type));
  return test::OwnedMessage(message);
}

static std::string message_text(GstMessage *message) {
  g_autoptr(GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING)
    gst_message_parse_warning(message, &error, &debug);
  else
    gst_message_parse_error(message, &error, &debug);
  return error->message;
}

// ---- 1. URIs describe a job, never where the key goes or what is written ----

GST_START_TEST(test_uri_refuses_what_steers_key_disk_or_limits) {
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  g_object_set(source, "location", "/tmp/app-chose-this.mp4", nullptr);
  struct {
    const char *uri;
    const char *names;
  } cases[] = {
      {"grokimagine://video?prompt=x&api-url=http%3A%2F%2F127.0.0.1%3A47123", "'api-url'"},
      {"grokimagine://video?prompt=x&allow-insecure-http=true", "'allow-insecure-http'"},
      {"grokimagine://video?prompt=x&location=%2Fsome%2Ffile", "'location'"},
      {"grokimagine://video?prompt=x&max-size=0", "'max-size'"},
      {"grokimagine://video?prompt=x&timeout=604800", "'timeout'"},
      {"grokimagine://video?prompt=x&retries=20", "'retries'"},
      {"grokimagine://video?prompt=x&poll-interval=100", "'poll-interval'"},
      {"grokimagine://video?prompt=x&image=%2Fetc%2Fpasswd", "'image'"},
      {"grokimagine://video?prompt=x&image=file%3A%2F%2F%2Fetc%2Fpasswd", "'image'"},
      {"grokimagine://video?prompt=x&reference-images=%3Chttps%3A%2F%2Fa%2F1.png%2C%2Fhome%2Fme%2F"
       "2.png%3E",
       "'reference-images'"},
  };
  for (const auto &c : cases) {
    g_autoptr(GError) error = nullptr;
    fail_if(gst_uri_handler_set_uri(GST_URI_HANDLER(source), c.uri, &error), "%s", c.uri);
    fail_unless(g_error_matches(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI), "%s", c.uri);
    fail_unless(test::contains(error->message, c.names), "%s", error->message);
    // Nothing changed: the refused URI left the application's settings.
    g_autofree gchar *location = nullptr;
    g_autofree gchar *prompt = nullptr;
    g_object_get(source, "location", &location, "prompt", &prompt, nullptr);
    assert_equals_string(location, "/tmp/app-chose-this.mp4");
    fail_unless(prompt == nullptr, "prompt set by a refused URI: %s", prompt);
  }
  // What a URI may say: the job, remote images included.
  g_autoptr(GError) error = nullptr;
  fail_unless(gst_uri_handler_set_uri(GST_URI_HANDLER(source),
                                      "grokimagine://video?prompt=x&provider=xai&duration=8&"
                                      "resolution=720p&aspect-ratio=1:1&model=grok-imagine-video&"
                                      "image=https%3A%2F%2Fexample.com%2Fa.png",
                                      &error),
              "%s", error ? error->message : "");
  // A URI leaves what it cannot say as the application set it, and get_uri
  // never carries it.
  g_autofree gchar *location = nullptr;
  g_object_get(source, "location", &location, nullptr);
  assert_equals_string(location, "/tmp/app-chose-this.mp4");
  g_object_set(source, "api-url", "http://127.0.0.1:1", "max-size", G_GUINT64_CONSTANT(5), nullptr);
  g_autofree gchar *uri = gst_uri_handler_get_uri(GST_URI_HANDLER(source));
  for (const char *never : {"location", "api-url", "max-size"})
    fail_if(test::contains(uri, never), "%s in %s", never, uri);
  gst_object_unref(source);
}
GST_END_TEST;

// ---- 2. Out-of-range values stop the pipeline before anything is sent ----

GST_START_TEST(test_out_of_range_values_are_refused_not_replaced) {
  emu::Emulator emulator(test::quick_options());
  struct {
    const char *property;
    const char *value;
    const char *says;
  } cases[] = {
      {"duration", "99", "Property 'duration' is 99: segmind allows 1 to 15."},
      {"duration", "-3", "Property 'duration' is -3"},
      {"timeout", "0", "Property 'timeout' is 0"},
      {"request-timeout", "7200", "Property 'request-timeout' is 7200"},
      {"retries", "99", "Property 'retries' is 99"},
      {"retry-backoff", "1", "Property 'retry-backoff' is 1"},
      {"poll-interval", "1",
       "Property 'poll-interval' is 1: it takes 0 (the provider's schedule) "
       "or 100 to 600000 ms."},
      {"api-url", "http://127.0.0.1:99999", "not a valid URL"},
      {"api-url", "https://api.example.com/v1?x=1", "takes no user name, query or fragment"},
      {"connections", "99", "Property 'connections' is 99: it takes 1 to 16."},
      {"connections", "0", "Property 'connections' is 0: it takes 1 to 16."},
  };
  for (const auto &c : cases) {
    GstElement *source = make_source(emulator);
    // As gst-launch sets it: no GLib warning, no silent default.
    gst_util_set_object_arg(G_OBJECT(source), c.property, c.value);
    RunResult run = test::run_failing(source);
    fail_unless(run.error_domain() == GST_RESOURCE_ERROR);
    fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_SETTINGS);
    fail_unless(test::contains(run.error_text(), c.says), "%s=%s: %s", c.property, c.value,
                run.error_text().c_str());
    fail_unless(run.error_detail("reason") == "invalid-settings");
  }
  GstElement *images = make_source(emulator, "grokimagineimagesrc");
  gst_util_set_object_arg(G_OBJECT(images), "n", "99");
  RunResult run = test::run_failing(images);
  fail_unless(test::contains(run.error_text(), "Property 'n' is 99: segmind allows 1 to 4."), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);

  // What gst-inspect shows is the range the element takes, not the type's.
  struct {
    const char *element, *property;
    double minimum, maximum;
  } ranges[] = {
      {"grokimaginesrc", "duration", 1, 30},    {"grokimaginesrc", "poll-interval", 0, 600000},
      {"grokimaginesrc", "timeout", 1, 604800}, {"grokimaginesrc", "request-timeout", 1, 3600},
      {"grokimaginesrc", "retries", 0, 20},     {"grokimaginesrc", "retry-backoff", 10, 60000},
      {"grokimaginesrc", "connections", 1, 16}, {"grokimaginesrc", "budget", 0, INFINITY},
      {"grokimagineimagesrc", "n", 1, 10},      {"grokimaginechannel", "lookahead", 0, 16},
      {"grokimaginechannel", "width", 0, 8192}, {"grokimaginechannel", "height", 0, 8192},
  };
  for (const auto &r : ranges) {
    GstElementFactory *factory = gst_element_factory_find(r.element);
    GObjectClass *klass =
        G_OBJECT_CLASS(g_type_class_ref(gst_element_factory_get_element_type(factory)));
    GParamSpec *pspec = g_object_class_find_property(klass, r.property);
    double minimum = 0, maximum = 0;
    if (G_IS_PARAM_SPEC_INT(pspec)) {
      minimum = G_PARAM_SPEC_INT(pspec)->minimum;
      maximum = G_PARAM_SPEC_INT(pspec)->maximum;
    } else if (G_IS_PARAM_SPEC_UINT(pspec)) {
      minimum = G_PARAM_SPEC_UINT(pspec)->minimum;
      maximum = G_PARAM_SPEC_UINT(pspec)->maximum;
    } else if (G_IS_PARAM_SPEC_DOUBLE(pspec)) {
      minimum = G_PARAM_SPEC_DOUBLE(pspec)->minimum;
      maximum = G_PARAM_SPEC_DOUBLE(pspec)->maximum;
    }
    fail_unless(minimum == r.minimum && maximum == r.maximum, "%s %s: %g to %g, not %g to %g",
                r.element, r.property, minimum, maximum, r.minimum, r.maximum);
    g_type_class_unref(klass);
    gst_object_unref(factory);
  }
}
GST_END_TEST;

// ---- 3. An explicit request-id wins whatever the order of properties ----

GST_START_TEST(test_request_id_set_first_still_resumes) {
  emu::Emulator emulator(test::quick_options());
  GstElement *first = make_source(emulator);
  GstElement *pipeline = test::pipeline_with_sink(first);
  RunResult run = test::run_pipeline(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  g_autofree gchar *id = nullptr;
  g_object_get(first, "request-id", &id, nullptr);
  gst_object_unref(pipeline);
  fail_unless(id != nullptr);

  // "grokimaginesrc request-id=ID prompt=..." as gst-launch sets them.
  g_autofree gchar *line = g_strdup_printf(
      "grokimaginesrc name=src provider=segmind api-url=%s api-key=%s request-id=%s "
      "prompt=\"%s\" duration=1 poll-interval=100 ! fakesink sync=false",
      emulator.api_url().c_str(), emulator.options().api_key.c_str(), id, kPrompt);
  GstElement *again = gst_parse_launch(line, nullptr);
  run = test::run_pipeline(again);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  gst_object_unref(again);
  fail_unless_equals_int(emulator.counters().submits_total, 1);

  // An id the element learned itself is forgotten by a new description.
  GstElement *source = make_source(emulator);
  pipeline = test::pipeline_with_sink(source);
  run = test::run_pipeline(pipeline);
  fail_unless(run.eos);
  g_object_set(source, "prompt", "Another prompt", nullptr);
  g_autofree gchar *forgotten = nullptr;
  g_object_get(source, "request-id", &forgotten, nullptr);
  fail_unless(forgotten == nullptr, "kept %s", forgotten);
  gst_object_unref(pipeline);
}
GST_END_TEST;

// ---- 4. A flushing seek while the submit is out does not pay twice ----

GST_START_TEST(test_flushing_seek_during_submit_pays_once) {
  emu::Emulator emulator(test::quick_options());
  emu::Fault slow{emu::Phase::Submit, 0, {}, 1500, -1, 1};
  emulator.add_fault(slow);
  GstElement *source = make_source(emulator);
  GstElement *pipeline = test::pipeline_with_sink(source);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  wait_for_submits(emulator, 1);
  // A flushing seek unlocks create() while the POST is out.
  fail_unless(gst_element_seek_simple(source, GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH, 0));
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless_equals_int(emulator.counters().downloads, 1);
}
GST_END_TEST;

// ---- 5. Ending the stream during the submit keeps (and says) the job's id ----

GST_START_TEST(test_eos_during_submit_reports_the_id) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 0, {}, 1500, -1, 1});
  GstElement *source = make_source(emulator);
  GstElement *pipeline = test::pipeline_with_sink(source);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  wait_for_submits(emulator, 1);
  // What gst-launch-1.0 -e does on Ctrl-C.
  gst_element_send_event(pipeline, gst_event_new_eos());
  std::string warning;
  RunResult run = test::run_pipeline(pipeline, 30, [&warning](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING) warning = message_text(message);
  });
  fail_unless(run.eos, "%s", run.error_text().c_str());
  g_autofree gchar *id = nullptr;
  g_object_get(source, "request-id", &id, nullptr);
  gst_object_unref(pipeline);
  const auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 1);
  assert_equals_string(id, submits[0].request_id.c_str());
  fail_unless(test::contains(warning, std::string("resume it with request-id=") + id), "%s",
              warning.c_str());
  fail_unless_equals_int(emulator.counters().status_polls, 0);
}
GST_END_TEST;

GST_START_TEST(test_stop_during_submit_is_prompt_and_warns) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 0, {}, 4000, -1, 1});
  GstElement *source = make_source(emulator);
  GstElement *pipeline = test::pipeline_with_sink(source);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  wait_for_submits(emulator, 1);
  const gint64 before = g_get_monotonic_time();
  fail_unless(gst_element_set_state(pipeline, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  const gint64 took_ms = (g_get_monotonic_time() - before) / 1000;
  // Far below the 4 s the provider takes to answer: the stop did not wait.
  fail_unless(took_ms < 3000, "READY took %" G_GINT64_FORMAT " ms", took_ms);
  test::OwnedMessage warning = pop(pipeline, GST_MESSAGE_WARNING);
  fail_unless(test::contains(message_text(warning.message), "may have accepted (and billed)"), "%s",
              message_text(warning.message).c_str());
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}
GST_END_TEST;

// ---- 6. location and TMPDIR are checked before paying ----

GST_START_TEST(test_location_checked_before_paying) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string existing_dir = dir.path("clips");
  fail_unless(g_mkdir(existing_dir.c_str(), 0700) == 0);
  struct {
    std::string location;
    const char *says;
  } cases[] = {
      {dir.path("missing") + "/clip.mp4", "is not a directory"},
      {existing_dir, "it names a directory"},
      {existing_dir + "/", "it names a directory"},
      // Nobody, not even root, creates files in /proc.
      {"/proc/clip.mp4", "cannot create a file in '/proc'"},
  };
  for (const auto &c : cases) {
    GstElement *source = make_source(emulator);
    g_object_set(source, "location", c.location.c_str(), nullptr);
    RunResult run = test::run_failing(source);
    fail_unless(test::contains(run.error_text(), "Property 'location' is '" + c.location + "'"),
                "%s", run.error_text().c_str());
    fail_unless(test::contains(run.error_text(), c.says), "%s", run.error_text().c_str());
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// A device or a FIFO at `location` (location=/dev/null, to throw the file
// away) is refused before paying: the clip would be renamed over it (as
// root, over the system's /dev/null). A regular file, or a link to one, is
// replaced. The device here is made for the test, never the real one.
GST_START_TEST(test_location_that_is_not_a_file_is_refused) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string fifo = dir.path("fifo");
  fail_unless(mkfifo(fifo.c_str(), 0600) == 0);
  const std::string device = dir.path("null");
  // A character device like /dev/null (1:3); root can make one.
  const bool have_device = mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  std::vector<std::pair<std::string, const char *>> cases = {{fifo, "it is a FIFO"}};
  if (have_device) cases.push_back({device, "it is a device"});
  for (const auto &[location, says] : cases) {
    GstElement *source = make_source(emulator);
    g_object_set(source, "location", location.c_str(), nullptr);
    RunResult run = test::run_failing(source);
    fail_unless(
        test::contains(run.error_text(), "Property 'location' is '" + location + "': " + says),
        "%s", run.error_text().c_str());
    struct stat info;
    fail_unless(lstat(location.c_str(), &info) == 0 && !S_ISREG(info.st_mode));
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
  // A link to a regular file is fine: the clip replaces the link.
  const std::string target = dir.path("old.mp4");
  fail_unless(g_file_set_contents(target.c_str(), "old", -1, nullptr));
  const std::string link = dir.path("link.mp4");
  fail_unless(symlink(target.c_str(), link.c_str()) == 0);
  GstElement *source = make_source(emulator);
  g_object_set(source, "location", link.c_str(), nullptr);
  GstElement *pipeline = test::pipeline_with_sink(source);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  struct stat info;
  fail_unless(lstat(link.c_str(), &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 1000);
}
GST_END_TEST;

// Every file the plugin reads is checked to be a regular file first: a
// FIFO as the price file would block the start for ever.
GST_START_TEST(test_prices_fifo_is_refused_at_once) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string fifo = dir.path("prices");
  fail_unless(mkfifo(fifo.c_str(), 0600) == 0);
  GstElement *source = make_source(emulator);
  g_object_set(source, "prices", fifo.c_str(), nullptr);
  RunResult run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(),
                             "Property 'prices': cannot read '" + fifo + "': not a regular file"),
              "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

GST_START_TEST(test_unusable_tmpdir_checked_before_paying) {
  emu::Emulator emulator(test::quick_options());
  // g_get_tmp_dir() is read once per process: a child process of its own.
  auto [status, printed] = test::finish_child(test::spawn_child_pipeline(
      "grokimaginesrc provider=segmind api-url=" + emulator.api_url() +
          " prompt=x duration=1 ! fakesink",
      {{"TMPDIR", "/nope"}, {"SEGMIND_API_KEY", emulator.options().api_key}}));
  fail_unless(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s", printed.c_str());
  fail_unless(test::contains(printed, "temporary file in /nope ($TMPDIR)"), "%s", printed.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// ---- 7. An unlinked source pays nothing ----

GST_START_TEST(test_unlinked_source_submits_nothing) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(pipeline), make_source(emulator));
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.error_domain() == GST_CORE_ERROR);
  fail_unless_equals_int(run.error_code(), GST_CORE_ERROR_PAD);
  fail_unless(test::contains(run.error_text(), "not linked: nothing was submitted"), "%s",
              run.error_text().c_str());
  // What an empty shell variable makes of "prompt=$P ! filesink ...".
  g_autofree gchar *line = g_strdup_printf(
      "grokimaginesrc provider=segmind api-url=%s api-key=%s poll-interval=100 prompt= ! "
      "fakesink",
      emulator.api_url().c_str(), emulator.options().api_key.c_str());
  g_autoptr(GError) error = nullptr;
  GstElement *parsed = gst_parse_launch(line, &error);
  if (parsed) {
    run = test::run_pipeline(parsed);
    gst_object_unref(parsed);
    fail_if(run.eos);
  }
  // The decoding source's pads appear later: nobody waits for them.
  g_autofree gchar *decoding = g_strdup_printf(
      "grokimaginevideosrc provider=segmind api-url=%s api-key=%s poll-interval=100 prompt=x",
      emulator.api_url().c_str(), emulator.options().api_key.c_str());
  GstElement *alone = gst_pipeline_new(nullptr);
  gst_bin_add(GST_BIN(alone), gst_parse_launch(decoding, nullptr));
  run = test::run_pipeline(alone);
  gst_object_unref(alone);
  fail_unless_equals_int(run.error_code(), GST_CORE_ERROR_PAD);
  fail_unless(test::contains(run.error_text(), "pads are not linked: nothing was submitted"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
  // ... while one that gst-launch links when they come plays.
  g_autofree gchar *linked = g_strdup_printf("%s duration=1 ! fakesink", decoding);
  GstElement *played = gst_parse_launch(linked, nullptr);
  run = test::run_pipeline(played);
  gst_object_unref(played);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// ---- 8. Images are judged by their content ----

GST_START_TEST(test_image_type_is_sniffed_not_guessed_from_the_name) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string text_as_png = dir.path("x.png");
  fail_unless(g_file_set_contents(text_as_png.c_str(), "just some text\n", -1, nullptr));
  GstElement *source = make_source(emulator);
  g_object_set(source, "image", text_as_png.c_str(), nullptr);
  RunResult run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(), "Property 'image': cannot read '" + text_as_png +
                                                   "': its content is not an image"),
              "%s", run.error_text().c_str());

  source = make_source(emulator);
  g_object_set(source, "image", "file://otherhost/etc/hosts", nullptr);
  run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(), "names a file on host 'otherhost'"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);

  // A real PNG under a misleading name is an image.
  const std::string png = test::make_png(64, 48);
  const std::string png_as_txt = dir.path("picture.txt");
  fail_unless(g_rename(png.c_str(), png_as_txt.c_str()) == 0);
  source = make_source(emulator);
  g_object_set(source, "image", png_as_txt.c_str(), nullptr);
  GstElement *pipeline = test::pipeline_with_sink(source);
  run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  const auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 1);
  fail_unless(submits[0].image_bytes > 0);
}
GST_END_TEST;

// ---- 9. Job properties do not change under a running job ----

GST_START_TEST(test_properties_refused_while_playing) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_source(emulator);
  GstElement *pipeline = test::pipeline_with_sink(source);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  wait_for_submits(emulator, 1);
  g_object_set(source, "prompt", "Something else", nullptr);
  test::OwnedMessage warning = pop(pipeline, GST_MESSAGE_WARNING);
  fail_unless(test::contains(message_text(warning.message), "Property 'prompt' cannot change"),
              "%s", message_text(warning.message).c_str());
  g_autofree gchar *prompt = nullptr;
  g_object_get(source, "prompt", &prompt, nullptr);
  assert_equals_string(prompt, kPrompt);
  RunResult run = test::run_pipeline(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());

  // In READY the change is taken, and it is a new job, not the old one.
  g_object_set(source, "prompt", "Something else", nullptr);
  run = test::run_pipeline(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  gst_object_unref(pipeline);
  const auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 2);
  fail_unless(test::contains(submits[1].body, "Something else"), "%s", submits[1].body.c_str());
}
GST_END_TEST;

// ---- Smaller ones ----

GST_START_TEST(test_ids_are_escaped_and_checked) {
  const grokimagine::Provider *segmind = grokimagine::find_provider("segmind");
  const grokimagine::Provider *xai = grokimagine::find_provider("xai");
  const grokimagine::Endpoint endpoint{"https://api.example", "key"};
  for (const grokimagine::Provider *provider : {segmind, xai}) {
    const std::string url = provider->status_request("../../x?y=1", endpoint).url;
    fail_if(test::contains(url, "../"), "%s", url.c_str());
    fail_if(test::contains(url, "?y="), "%s", url.c_str());
  }
  grokimagine::HttpResponse answer;
  answer.status = 200;
  answer.body = "{\"request_id\": \"abc\\ndef\"}";
  auto parsed = xai->parse_submit(answer);
  fail_unless(std::holds_alternative<grokimagine::Error>(parsed));
  fail_unless(test::contains(std::get<grokimagine::Error>(parsed).message, "control characters"));

  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_source(emulator);
  g_object_set(source, "request-id", "abc\x01", nullptr);
  RunResult run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(), "Property 'request-id': it contains control"), "%s",
              run.error_text().c_str());
  // Escaping keeps "." and "..", which a URL resolves to another path.
  for (const char *id : {".", ".."}) {
    source = make_source(emulator);
    g_object_set(source, "request-id", id, nullptr);
    run = test::run_failing(source);
    fail_unless(
        test::contains(run.error_text(), "Property 'request-id': it is a relative path segment"),
        "%s", run.error_text().c_str());
  }
  fail_unless_equals_int(emulator.counters().status_polls, 0);
}
GST_END_TEST;

GST_START_TEST(test_xai_status_that_is_not_a_word_is_an_error) {
  const grokimagine::Provider *xai = grokimagine::find_provider("xai");
  for (const char *body : {"{\"status\": 7}", "{\"status\": null}", "{\"status\": {}}"}) {
    grokimagine::HttpResponse answer;
    answer.status = 200;
    answer.body = body;
    auto parsed = xai->parse_status(answer);
    fail_unless(std::holds_alternative<grokimagine::Error>(parsed), "%s was taken", body);
    fail_unless(std::get<grokimagine::Error>(parsed).kind == grokimagine::ErrorKind::Protocol);
  }
}
GST_END_TEST;

GST_START_TEST(test_oversized_submit_answer_says_a_job_may_exist) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 200, std::string(2 << 20, ' '), 0, -1, 1});
  RunResult run = test::run_failing(make_source(emulator));
  fail_unless(test::contains(run.error_text(), "may have accepted (and billed) the job"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// ---- Logs ----

struct Captured {
  std::mutex mutex;
  std::string lines;
};

static void capture_log(GstDebugCategory *category, GstDebugLevel level, const gchar *,
                        const gchar *, gint, GObject *, GstDebugMessage *message, gpointer data) {
  if (!g_str_has_prefix(gst_debug_category_get_name(category), "grokimagine")) return;
  auto *captured = static_cast<Captured *>(data);
  const gchar *id = gst_debug_message_get_id(message);
  std::lock_guard<std::mutex> lock(captured->mutex);
  g_autofree gchar *level_name = g_strstrip(g_strdup(gst_debug_level_get_name(level)));
  captured->lines += std::string(gst_debug_category_get_name(category)) + " " + level_name + " <" +
                     (id ? id : "") + "> " + gst_debug_message_get(message) + "\n";
}

GST_START_TEST(test_debug_log_shows_each_step_and_never_the_key) {
  emu::Options options = test::quick_options();
  options.api_key = "sk-secret-key-never-logged";
  emu::Emulator emulator(options);
  Captured captured;
  gst_debug_set_active(TRUE);
  gst_debug_set_threshold_from_string("grokimagine*:6", FALSE);
  gst_debug_remove_log_function(gst_debug_log_default);
  gst_debug_add_log_function(capture_log, &captured, nullptr);
  GstElement *source = make_source(emulator);
  gst_object_set_name(GST_OBJECT(source), "named-source");
  GstElement *pipeline = test::pipeline_with_sink(source);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  gst_debug_remove_log_function(capture_log);
  gst_debug_add_log_function(gst_debug_log_default, nullptr, nullptr);
  gst_debug_set_threshold_from_string("grokimagine*:0", FALSE);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  const std::string id = emulator.submits().at(0).request_id;
  std::lock_guard<std::mutex> lock(captured.mutex);
  const std::string &log = captured.lines;
  for (const std::string &expected :
       {std::string("grokimagine INFO <named-source> prepared a job for segmind"),
        std::string("submitting a video job to segmind"),
        std::string("job submitted: request id ") + id, std::string("next status request in"),
        std::string("job ") + id + ": status COMPLETED"})
    fail_unless(test::contains(log, expected), "no '%s' in:\n%s", expected.c_str(), log.c_str());
  fail_if(test::contains(log, options.api_key), "the key is in the log");
}
GST_END_TEST;

// ---- What gst-launch prints: one error, in order, with what to do ----

static bool any_contains(const std::vector<std::string> &texts, const char *part) {
  for (const auto &text : texts)
    if (test::contains(text, part)) return true;
  return false;
}

// A settings error is the element's one ERROR: GstBaseSrc's "failed to post
// a proper error message" does not follow it.
GST_START_TEST(test_settings_error_is_the_only_error) {
  emu::Emulator emulator(test::quick_options());
  for (const char *factory : {"grokimaginesrc", "grokimagineimagesrc"}) {
    GstElement *pipeline = gst_pipeline_new(nullptr);
    GstElement *source = make_source(emulator, factory);
    gst_util_set_object_arg(G_OBJECT(source), "resolution", "4k");
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
    fail_unless(gst_element_link(source, sink));
    fail_unless(gst_element_set_state(pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
    g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
    std::vector<std::string> errors;
    while (GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
      errors.push_back(message_text(message));
      gst_message_unref(message);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
    fail_unless_equals_int(errors.size(), 1);
    fail_unless(test::contains(errors[0], "Property 'resolution' is '4k'"), "%s: %s", factory,
                errors[0].c_str());
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// "Submitting" only once the journal and the budget let the job go; a
// job the journal follows says "resumed", not "submitted".
GST_START_TEST(test_progress_says_submitting_only_when_it_is) {
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  options.generation_ms = 3000;  // time to stop after the submit
  emu::Emulator emulator(options);
  test::TempDir journal;
  auto make = [&] {
    GstElement *source = make_source(emulator);
    gst_util_set_object_arg(G_OBJECT(source), "provider", "xai");
    g_object_set(source, "api-url", (emulator.api_url() + "/v1").c_str(), "journal",
                 journal.path("journal").c_str(), nullptr);
    return source;
  };
  // xAI's built-in price: $0.05 a second, more than a $0.01 budget.
  GstElement *refused = make();
  g_object_set(refused, "budget", 0.01, nullptr);
  RunResult run = test::run_failing(refused);
  fail_unless(test::contains(run.error_text(), "Property 'budget'"), "%s",
              run.error_text().c_str());
  fail_unless(any_contains(run.progress_texts, "Starting a job on xai"));
  fail_if(any_contains(run.progress_texts, "Submitting"), "'Submitting' before a refusal");
  fail_unless_equals_int(emulator.counters().submits_total, 0);

  // Stopped once submitted; the rerun follows that job.
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *source = make();
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  gst_bin_add_many(GST_BIN(pipeline), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  // Once the answer is in the journal (the id on the bus), not before: a
  // stop while the submit is out leaves an entry no rerun may follow.
  for (bool submitted = false; !submitted;) {
    test::OwnedMessage message = pop(pipeline, GST_MESSAGE_ELEMENT);
    const GstStructure *s = gst_message_get_structure(message.message);
    submitted = gst_structure_has_name(s, "grokimagine-job") &&
                g_strcmp0(gst_structure_get_string(s, "status"), "SUBMITTED") == 0;
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  GstElement *rerun = gst_pipeline_new(nullptr);
  source = make();
  sink = gst_element_factory_make("fakesink", nullptr);
  gst_bin_add_many(GST_BIN(rerun), source, sink, nullptr);
  fail_unless(gst_element_link(source, sink));
  run = test::run_pipeline(rerun);
  gst_object_unref(rerun);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless(any_contains(run.progress_texts, " resumed, generating"));
  fail_if(any_contains(run.progress_texts, "Submitting"));
  fail_if(any_contains(run.progress_texts, " submitted"));
}
GST_END_TEST;

// A mistyped api-url (nothing listening) ends after two attempts, not the
// whole backoff, and says what to check; xAI's 404 without /v1 says so.
GST_START_TEST(test_wrong_api_url_says_what_to_check) {
  emu::Emulator emulator(test::quick_options());
  GstElement *source = make_source(emulator);
  // A port that was just free: nothing listens there.
  GSocket *socket =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
  fail_unless(g_socket_bind(socket, any, TRUE, nullptr));
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket, nullptr);
  const guint port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_object_unref(socket);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  // Ten retries allowed: two attempts made.
  g_object_set(source, "api-url", url.c_str(), "retries", 10u, "retry-backoff", 1000u, nullptr);
  RunResult run = test::run_failing(source);
  assert_str_eq(run.error_detail("reason"), "network");
  fail_unless(test::contains(run.error_text(), "nothing answered at " + url +
                                                   " (2 attempts): check api-url, or "
                                                   "GROKIMAGINE_SEGMIND_API_URL"),
              "%s", run.error_text().c_str());

  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  emu::Emulator xai(options);
  GstElement *no_v1 = make_source(xai);
  gst_util_set_object_arg(G_OBJECT(no_v1), "provider", "xai");
  run = test::run_failing(no_v1);
  fail_unless(test::contains(run.error_text(), "xAI's routes are under /v1"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(xai.counters().submits_accepted, 0);
}
GST_END_TEST;

static Suite *safety_suite() {
  Suite *suite = suite_create("safety");
  TCase *tc = tcase_create("safety");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_uri_refuses_what_steers_key_disk_or_limits);
  tcase_add_test(tc, test_out_of_range_values_are_refused_not_replaced);
  tcase_add_test(tc, test_request_id_set_first_still_resumes);
  tcase_add_test(tc, test_flushing_seek_during_submit_pays_once);
  tcase_add_test(tc, test_eos_during_submit_reports_the_id);
  tcase_add_test(tc, test_stop_during_submit_is_prompt_and_warns);
  tcase_add_test(tc, test_location_checked_before_paying);
  tcase_add_test(tc, test_location_that_is_not_a_file_is_refused);
  tcase_add_test(tc, test_prices_fifo_is_refused_at_once);
  tcase_add_test(tc, test_unusable_tmpdir_checked_before_paying);
  tcase_add_test(tc, test_unlinked_source_submits_nothing);
  tcase_add_test(tc, test_image_type_is_sniffed_not_guessed_from_the_name);
  tcase_add_test(tc, test_properties_refused_while_playing);
  tcase_add_test(tc, test_ids_are_escaped_and_checked);
  tcase_add_test(tc, test_xai_status_that_is_not_a_word_is_an_error);
  tcase_add_test(tc, test_oversized_submit_answer_says_a_job_may_exist);
  tcase_add_test(tc, test_debug_log_shows_each_step_and_never_the_key);
  tcase_add_test(tc, test_settings_error_is_the_only_error);
  tcase_add_test(tc, test_progress_says_submitting_only_when_it_is);
  tcase_add_test(tc, test_wrong_api_url_says_what_to_check);
  suite_add_tcase(suite, tc);
  return suite;
}

GROKIMAGINE_CHECK_MAIN(safety)
