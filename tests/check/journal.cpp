// SPDX-License-Identifier: LGPL-2.1-or-later
// Never paying twice: the job journal across a killed pipeline, two
// processes at once, reuse=never, an ambiguous submit, torn writes; what a
// job costs on the bus, spent-usd and the budget; grokimagine-jobs.
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <utime.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "assert-string.h"
#include "core/journal.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using test::RunResult;

static const char *kPrompt = "A paper boat on a rainy street";

static GstElement *make_source(const emu::Emulator &emulator, const std::string &journal,
                               const char *provider = "segmind") {
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", provider);
  // xAI's base URL ends in /v1.
  const std::string api_url = emulator.api_url() + (g_str_equal(provider, "xai") ? "/v1" : "");
  g_object_set(source, "api-url", api_url.c_str(), "api-key", emulator.options().api_key.c_str(),
               "prompt", kPrompt, "poll-interval", 100u, "duration", 1, "journal", journal.c_str(),
               nullptr);
  return source;
}

static RunResult run_with_sink(GstElement *source) {
  GstElement *pipeline = test::pipeline_with_sink(source);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  return run;
}

// The pipeline a user would run twice (gst-launch syntax), in a child
// process with `journal` as GROKIMAGINE_JOURNAL and the key in the
// environment.
static test::Child spawn_job(const emu::Emulator &emulator, const std::string &journal,
                             const std::string &out) {
  return test::spawn_child_pipeline(
      "grokimaginesrc provider=segmind api-url=" + emulator.api_url() + " prompt=\"" + kPrompt +
          "\" duration=1 poll-interval=100 ! filesink location=" + out,
      {{"GROKIMAGINE_JOURNAL", journal}, {"SEGMIND_API_KEY", emulator.options().api_key}});
}

GST_START_TEST(test_rerun_after_kill_pays_once) {
  emu::Options options = test::quick_options();
  options.generation_ms = 3000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  const std::string out = dir.path("clip.mp4");
  test::Child first = spawn_job(emulator, journal, out);
  test::wait_until([&] { return emulator.counters().status_polls >= 1; }, std::chrono::seconds(30),
                   "a poll");
  kill(first.pid, SIGKILL);
  auto [killed_status, killed_printed] = test::finish_child(first);
  fail_unless(WIFSIGNALED(killed_status));

  // The same command again: it follows the job, nothing is paid again.
  auto [status, printed] = test::finish_child(spawn_job(emulator, journal, out));
  fail_unless(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", printed.c_str());
  fail_unless(test::contains(printed, "RESUMED"), "%s", printed.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless(test::read_file(out) == test::read_file(emulator.clip_path(id)));
  auto entries = grokimagine::Journal(journal).list().value();
  fail_unless_equals_int(entries.size(), 1);
  fail_unless(entries[0].state == grokimagine::JournalEntry::State::Delivered);
  assert_equals_string(entries[0].request_id.c_str(), id.c_str());
}
GST_END_TEST;

GST_START_TEST(test_two_processes_submit_once) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 0, {}, 1000, -1, 1});
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  test::Child a = spawn_job(emulator, journal, dir.path("a.mp4"));
  test::Child b = spawn_job(emulator, journal, dir.path("b.mp4"));
  auto [status_a, printed_a] = test::finish_child(a);
  auto [status_b, printed_b] = test::finish_child(b);
  fail_unless(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0, "%s", printed_a.c_str());
  fail_unless(WIFEXITED(status_b) && WEXITSTATUS(status_b) == 0, "%s", printed_b.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless(test::read_file(dir.path("a.mp4")) == test::read_file(dir.path("b.mp4")));
  // One of them followed the other's job and said so.
  fail_unless(test::contains(printed_a + printed_b, "RESUMED"));
}
GST_END_TEST;

GST_START_TEST(test_reuse_never_and_delivered_jobs_pay_again) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  fail_unless(run_with_sink(make_source(emulator, journal)).eos);
  // Delivered: the default (unfinished) takes a new one.
  fail_unless(run_with_sink(make_source(emulator, journal)).eos);
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  // reuse=never: a new take whatever the journal holds.
  GstElement *never = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(never), "reuse", "never");
  fail_unless(run_with_sink(never).eos);
  fail_unless_equals_int(emulator.counters().submits_total, 3);
  // One current entry for the description; the jobs it replaced are kept
  // in the history, each with its own id.
  const auto entries = grokimagine::Journal(journal).list().value();
  fail_unless_equals_int(std::count_if(entries.begin(), entries.end(),
                                       [](const auto &entry) { return !entry.archived; }),
                         1);
  fail_unless_equals_int(entries.size(), 3);
  // Jobs of one second have the same time: compared as sets.
  std::set<std::string> listed, submitted;
  for (int i = 0; i < 3; i++) {
    listed.insert(entries[std::size_t(i)].request_id);
    submitted.insert(emulator.submits().at(std::size_t(i)).request_id);
  }
  fail_unless(listed == submitted);
}
GST_END_TEST;

GST_START_TEST(test_reuse_always_replays_without_network) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  GstElement *first = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(first), "reuse", "always");
  g_object_set(first, "location", dir.path("first.mp4").c_str(), nullptr);
  fail_unless(run_with_sink(first).eos);
  const emu::Counters before = emulator.counters();

  GstElement *again = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(again), "reuse", "always");
  g_object_set(again, "location", dir.path("again.mp4").c_str(), nullptr);
  RunResult run = run_with_sink(again);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  const emu::Counters after = emulator.counters();
  // No request at all: not to the API, not to the CDN.
  fail_unless_equals_int(after.submits_total, before.submits_total);
  fail_unless_equals_int(after.status_polls, before.status_polls);
  fail_unless_equals_int(after.result_fetches, before.result_fetches);
  fail_unless_equals_int(after.downloads, before.downloads);
  fail_unless(std::find(run.job_statuses.begin(), run.job_statuses.end(), "CACHED") !=
              run.job_statuses.end());
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless(test::read_file(dir.path("again.mp4")) == test::read_file(emulator.clip_path(id)));

  // A cache too small for the clip keeps nothing: the next run pays.
  GstElement *tiny = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(tiny), "reuse", "always");
  g_object_set(tiny, "prompt", "Kept nowhere", "cache-size", G_GUINT64_CONSTANT(1000), nullptr);
  fail_unless(run_with_sink(tiny).eos);
  tiny = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(tiny), "reuse", "always");
  g_object_set(tiny, "prompt", "Kept nowhere", "cache-size", G_GUINT64_CONSTANT(1000), nullptr);
  fail_unless(run_with_sink(tiny).eos);
  fail_unless_equals_int(emulator.counters().submits_total, 3);
}
GST_END_TEST;

GST_START_TEST(test_ambiguous_submit_is_not_repeated) {
  emu::Emulator emulator(test::quick_options());
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 500, {}, 0, -1, 1});
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  RunResult first = test::run_failing(make_source(emulator, journal));
  fail_unless(test::contains(first.error_text(), "may have accepted (and billed)"), "%s",
              first.error_text().c_str());
  // The same description again: refused, with what to do, and nothing sent.
  RunResult again = test::run_failing(make_source(emulator, journal));
  fail_unless(test::contains(again.error_text(), "no answer was recorded"), "%s",
              again.error_text().c_str());
  fail_unless(test::contains(again.error_text(), "reuse=never"), "%s", again.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  GstElement *anyway = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(anyway), "reuse", "never");
  fail_unless(run_with_sink(anyway).eos);
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  // A refusal the provider cannot have acted on leaves nothing to refuse.
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 400, {}, 0, -1, 1});
  GstElement *other = make_source(emulator, journal);
  g_object_set(other, "prompt", "Refused at once", nullptr);
  test::run_failing(other);
  other = make_source(emulator, journal);
  g_object_set(other, "prompt", "Refused at once", nullptr);
  fail_unless(run_with_sink(other).eos);
}
GST_END_TEST;

// Segmind's preview answers the submit with the clip: no request id to
// follow, but the submit is paid all the same. An unanswered one is refused
// on the next run like any other; a delivered one replays from the cache.
GST_START_TEST(test_synchronous_preview_is_journaled) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  const std::string png = test::make_png(48, 27);
  auto preview = [&](const char *reuse) {
    GstElement *source = make_source(emulator, journal);
    g_object_set(source, "model", "grok-imagine-video-1.5-preview", "image", png.c_str(),
                 "duration", 2, nullptr);
    gst_util_set_object_arg(G_OBJECT(source), "reuse", reuse);
    return source;
  };
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 500, {}, 0, -1, 1});
  RunResult first = test::run_failing(preview("unfinished"));
  fail_unless(test::contains(first.error_text(), "may have accepted (and billed)"), "%s",
              first.error_text().c_str());
  RunResult again = test::run_failing(preview("unfinished"));
  fail_unless(test::contains(again.error_text(), "no answer was recorded"), "%s",
              again.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  // Submitted anyway; then delivered into the cache (reuse=always keeps
  // it), and replayed from there without the network.
  fail_unless(run_with_sink(preview("never")).eos);
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  fail_unless(run_with_sink(preview("always")).eos);
  fail_unless_equals_int(emulator.counters().submits_total, 3);
  RunResult replayed = run_with_sink(preview("always"));
  fail_unless(replayed.eos);
  fail_unless(std::count(replayed.job_statuses.begin(), replayed.job_statuses.end(), "CACHED") ==
              1);
  fail_unless_equals_int(emulator.counters().submits_total, 3);
  auto entries = grokimagine::Journal(journal).list().value();
  fail_unless_equals_int(entries.size(), 1);
  fail_unless(entries[0].state == grokimagine::JournalEntry::State::Delivered);
  g_unlink(png.c_str());
}
GST_END_TEST;

GST_START_TEST(test_journal_writes_are_atomic) {
  test::TempDir dir;
  const std::string journal_dir = dir.path("journal");
  grokimagine::Journal journal(journal_dir);
  grokimagine::JournalEntry entry;
  entry.fingerprint = grokimagine::sha256_hex("torn");
  // There is always a previous state: a child killed before its first write
  // (valgrind makes that likely) leaves this one.
  entry.prompt = "z";
  journal.write(entry);
  for (int round = 0; round < 20; round++) {
    pid_t child = fork();
    if (child == 0) {
      // Rewrites the entry as fast as it can, with prompts of varying length.
      for (int i = 0;; i++) {
        entry.prompt = std::string(size_t(1 + (i * 7919) % 50000), char('a' + i % 26));
        journal.write(entry);
      }
    }
    g_usleep(gulong(g_random_int_range(5000, 60000)));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    // The previous state or the new one, never a torn file.
    auto read = journal.read(entry.fingerprint).value();
    fail_unless(read.has_value(), "round %d: the entry does not parse", round);
    fail_unless(read->prompt.find_first_not_of(read->prompt[0]) == std::string::npos);
  }
  struct stat info;
  fail_unless(stat(journal_dir.c_str(), &info) == 0);
  fail_unless_equals_int(info.st_mode & 0777, 0700);
  const std::string path = journal_dir + "/" + entry.fingerprint + ".json";
  fail_unless(stat(path.c_str(), &info) == 0);
  fail_unless_equals_int(info.st_mode & 0777, 0600);
}
GST_END_TEST;

GST_START_TEST(test_budget_refuses_before_submitting) {
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  emu::Emulator emulator(options);
  GstElement *source = make_source(emulator, "", "xai");
  // grok-imagine-video at 480p: $0.05 a second, so 6 s is $0.30.
  g_object_set(source, "duration", 6, "budget", 0.25, nullptr);
  RunResult run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(),
                             "Property 'budget' is $0.25: this element has spent "
                             "$0.00 and this job would cost $0.30"),
              "%s", run.error_text().c_str());
  fail_unless(run.error_detail("reason") == "invalid-settings");

  emu::Emulator segmind(test::quick_options());
  source = make_source(segmind, "");
  g_object_set(source, "budget", 5.0, nullptr);
  run = test::run_failing(source);
  fail_unless(test::contains(run.error_text(), "no price is known for segmind"), "%s",
              run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total + segmind.counters().submits_total, 0);
}
GST_END_TEST;

// A budget GLib would refuse (NaN, an infinity) is not "no limit": the
// property takes it and the start refuses it, before anything is paid.
GST_START_TEST(test_non_finite_budget_refused_before_submitting) {
  emu::Emulator emulator(test::quick_options());
  for (const char *budget : {"nan", "-inf", "inf"}) {
    GstElement *source = make_source(emulator, "");
    gst_util_set_object_arg(G_OBJECT(source), "budget", budget);
    RunResult run = test::run_failing(source);
    fail_unless(test::contains(run.error_text(), std::string("Property 'budget' is ") + budget +
                                                     ": it takes US dollars"),
                "%s: %s", budget, run.error_text().c_str());
    fail_unless(run.error_detail("reason") == "invalid-settings");
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// The last cost-usd / cost-source seen on grokimagine-job messages.
static std::pair<double, std::string> observed_cost(GstElement *source, double *spent) {
  GstElement *pipeline = test::pipeline_with_sink(source);
  double cost = -1;
  std::string cost_source;
  RunResult run = test::run_pipeline(pipeline, 60, [&](GstMessage *message) {
    const GstStructure *s = gst_message_get_structure(message);
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
        gst_structure_has_name(s, "grokimagine-job") &&
        gst_structure_get_double(s, "cost-usd", &cost))
      cost_source = gst_structure_get_string(s, "cost-source");
  });
  fail_unless(run.eos, "%s", run.error_text().c_str());
  g_object_get(source, "spent-usd", spent, nullptr);
  gst_object_unref(pipeline);
  return {cost, cost_source};
}

GST_START_TEST(test_cost_on_the_bus_and_spent) {
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  emu::Emulator xai(options);
  double spent = 0;
  // The emulator reports 5e8 ticks per second: $0.05 for the 1 s clip.
  auto [cost, source] = observed_cost(make_source(xai, "", "xai"), &spent);
  fail_unless(G_APPROX_VALUE(cost, 0.05, 1e-9), "%f", cost);
  assert_equals_string(source.c_str(), "provider");
  fail_unless(G_APPROX_VALUE(spent, 0.05, 1e-9), "%f", spent);

  // No price from Segmind: a price file makes it an estimate.
  emu::Emulator segmind(test::quick_options());
  test::TempDir dir;
  const std::string prices = dir.path("prices.txt");
  fail_unless(g_file_set_contents(
      prices.c_str(),
      "# provider model resolution usd-per-second\nsegmind grok-imagine-video * 0.07\n", -1,
      nullptr));
  GstElement *element = make_source(segmind, "");
  g_object_set(element, "prices", prices.c_str(), nullptr);
  auto [estimate, estimate_source] = observed_cost(element, &spent);
  fail_unless(G_APPROX_VALUE(estimate, 0.07, 1e-9), "%f", estimate);
  assert_equals_string(estimate_source.c_str(), "estimate");

  // The synchronous preview is paid by the submit whose answer is the
  // clip: it is spent too (it was not, so a budget never ran out).
  const std::string png = test::make_png(48, 27);
  fail_unless(g_file_set_contents(prices.c_str(), "segmind grok-imagine-video-1.5-preview * 0.10\n",
                                  -1, nullptr));
  element = make_source(segmind, "");
  g_object_set(element, "prices", prices.c_str(), "model", "grok-imagine-video-1.5-preview",
               "image", png.c_str(), "duration", 2, nullptr);
  spent = 0;
  auto [preview_cost, preview_source] = observed_cost(element, &spent);
  fail_unless(G_APPROX_VALUE(preview_cost, 0.20, 1e-9), "%f", preview_cost);
  fail_unless(G_APPROX_VALUE(spent, 0.20, 1e-9), "spent-usd %f after a $0.20 preview", spent);
  g_unlink(png.c_str());

  fail_unless(
      g_file_set_contents(prices.c_str(), "segmind grok-imagine-video 480p lots\n", -1, nullptr));
  element = make_source(segmind, "");
  g_object_set(element, "prices", prices.c_str(), nullptr);
  RunResult run = test::run_failing(element);
  fail_unless(test::contains(run.error_text(), "line 1 is not 'provider model resolution"), "%s",
              run.error_text().c_str());
}
GST_END_TEST;

// Runs grokimagine-jobs on `journal`.
static std::string run_jobs_tool(const std::string &journal, std::vector<std::string> args,
                                 bool *ok) {
  args.insert(args.begin(), {"--journal", journal});
  return test::run_jobs_tool(std::move(args), ok);
}

// Every job of a description stays listable and resumable by its id, and
// an estimated cost is stored with its source.
GST_START_TEST(test_jobs_tool_keeps_every_job_and_its_estimate) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  const std::string prices = dir.path("prices.txt");
  fail_unless(
      g_file_set_contents(prices.c_str(), "segmind grok-imagine-video * 0.07\n", -1, nullptr));
  for (int i = 0; i < 2; i++) {
    GstElement *source = make_source(emulator, journal);
    gst_util_set_object_arg(G_OBJECT(source), "reuse", "never");
    g_object_set(source, "prices", prices.c_str(), nullptr);
    fail_unless(run_with_sink(source).eos);
  }
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  const std::string first = emulator.submits().at(0).request_id;
  const std::string second = emulator.submits().at(1).request_id;
  bool ok = false;
  const std::string listing = run_jobs_tool(journal, {}, &ok);
  fail_unless(ok, "%s", listing.c_str());
  // The clips last 1 s: $0.07 each, marked as an estimate.
  for (const std::string &expected : {first, second, std::string("$0.07 (est.)")})
    fail_unless(test::contains(listing, expected), "no %s in:\n%s", expected.c_str(),
                listing.c_str());
  const std::string line =
      run_jobs_tool(journal, {"--api-url", emulator.api_url(), "resume", first}, &ok);
  fail_unless(ok, "%s", line.c_str());
  fail_unless(test::contains(line, "request-id='" + first + "'"), "%s", line.c_str());
  // The cache holds the newest clip of the description: never offered for the older job.
  fail_if(test::contains(line, "filesrc"), "%s", line.c_str());
}
GST_END_TEST;

GST_START_TEST(test_jobs_tool_lists_and_resumes_without_the_key) {
  emu::Options options = test::quick_options();
  options.api_key = "sk-journal-never-holds-this";
  emu::Emulator emulator(options);
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  GstElement *source = make_source(emulator, journal);
  gst_util_set_object_arg(G_OBJECT(source), "reuse", "always");
  fail_unless(run_with_sink(source).eos);
  const std::string id = emulator.submits().at(0).request_id;

  // What the tool prints; a failure fails the test unless `ok` is asked.
  auto run_tool = [&](std::vector<std::string> args, bool *ok = nullptr) {
    bool succeeded = false;
    const std::string printed = run_jobs_tool(journal, std::move(args), &succeeded);
    if (ok)
      *ok = succeeded;
    else
      fail_unless(succeeded, "%s", printed.c_str());
    return printed;
  };
  const std::string listing = run_tool({});
  for (const std::string &expected : {id, std::string("delivered"), std::string("segmind"),
                                      std::string("grok-imagine-video"), std::string(kPrompt)})
    fail_unless(test::contains(listing, expected), "no %s in:\n%s", expected.c_str(),
                listing.c_str());

  // While the provider keeps the job: its line resumes it, and running that
  // line pays nothing. The line names the provider's own API unless told
  // another (the emulator's, here).
  std::string line = run_tool({"resume", id});
  fail_unless(g_str_has_prefix(line.c_str(),
                               "gst-launch-1.0 grokimaginesrc provider=segmind "
                               "request-id="),
              "%s", line.c_str());
  fail_unless(test::contains(line, "pass --api-url to resume it there"), "%s", line.c_str());
  line = run_tool({"--api-url", emulator.api_url(), "resume", id});
  fail_unless(g_str_has_prefix(line.c_str(), "gst-launch-1.0 grokimaginesrc provider=segmind"),
              "%s", line.c_str());
  fail_unless(test::contains(line, "request-id='" + id + "'"), "%s", line.c_str());
  const std::string clip = dir.path("clip.mp4");
  // As the shell hands it to gst-launch-1.0.
  g_auto(GStrv) argv = nullptr;
  fail_unless(g_shell_parse_argv(line.c_str(), nullptr, &argv, nullptr));
  const std::string location = "location=" + clip;
  for (gchar **arg = argv; *arg; arg++)
    if (g_str_equal(*arg, "location=clip.mp4")) {
      g_free(*arg);
      *arg = g_strdup(location.c_str());
    }
  g_setenv("SEGMIND_API_KEY", options.api_key.c_str(), TRUE);
  GstElement *resumed = gst_parse_launchv(const_cast<const gchar **>(argv + 1), nullptr);
  RunResult run = test::run_pipeline(resumed);
  gst_object_unref(resumed);
  g_unsetenv("SEGMIND_API_KEY");
  fail_unless(run.eos, "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless(g_str_has_prefix(test::read_file(clip).substr(4, 4).c_str(), "ftyp"));

  // Once the provider has let it go: the cached copy, then nothing.
  grokimagine::Journal entries(journal);
  grokimagine::JournalEntry entry = entries.list().value().at(0);
  entry.created = 1;  // long past Segmind's hour
  fail_if(entries.write(entry).has_value());
  line = run_tool({"resume", id});
  const std::string cached = entries.cache_path(entry.fingerprint);
  fail_unless(test::contains(line, "gst-launch-1.0 filesrc location='" + cached + "'"), "%s",
              line.c_str());
  fail_unless(g_file_test(cached.c_str(), G_FILE_TEST_IS_REGULAR));
  g_unlink(cached.c_str());
  bool ok = true;
  line = run_tool({"resume", id}, &ok);
  fail_if(ok);
  fail_unless(test::contains(line,
                             "cannot be had again without paying for a new one: the "
                             "provider no longer keeps it"),
              "%s", line.c_str());

  // Nothing in the journal holds the key.
  g_autoptr(GDir) files = g_dir_open(journal.c_str(), 0, nullptr);
  while (const gchar *name = g_dir_read_name(files)) {
    g_autofree gchar *path = g_build_filename(journal.c_str(), name, nullptr);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
      fail_if(test::contains(test::read_file(path), options.api_key), "the key is in %s", name);
  }
}
GST_END_TEST;

// A hostile API answers a request id that would steer the printed line: it
// is refused when it arrives, naming its problem, and a journal holding one
// anyway (written by something else) gives no line. What the tool lists is
// shown, never obeyed: terminal escapes in a prompt or a model are escaped,
// and text outside ASCII comes out as UTF-8.
GST_START_TEST(test_jobs_tool_prints_nothing_a_hostile_answer_steers) {
  emu::Options options = test::quick_options();
  options.request_id_prefix = "a\" ! tee name=t t. ! queue ! filesink location=/tmp/x ";
  emu::Emulator emulator(options);
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  RunResult run = test::run_failing(make_source(emulator, journal));
  fail_unless(test::contains(run.error_text(),
                             "it contains '\"': request ids are letters, "
                             "digits and . _ : - only"),
              "%s", run.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless_equals_int(emulator.counters().status_polls, 0);

  grokimagine::Journal entries(journal);
  grokimagine::JournalEntry steering;
  steering.fingerprint = grokimagine::sha256_hex("steering");
  steering.state = grokimagine::JournalEntry::State::Submitted;
  steering.created = steering.updated = g_get_real_time() / G_USEC_PER_SEC;
  steering.provider = "segmind";
  steering.model = "grok-imagine-video";
  steering.request_id = "a\" ! filesink location=/tmp/x";
  fail_if(entries.write(steering).has_value());
  grokimagine::JournalEntry shown = steering;
  shown.fingerprint = grokimagine::sha256_hex("shown");
  shown.request_id = "req-1";
  shown.prompt =
      "Un caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \x1b]0;owned\x07\x1b[2J at night by the river";
  shown.model = "model\x1b[31m";
  fail_if(entries.write(shown).has_value());

  auto run_tool = [&](std::vector<std::string> args, bool *ok) {
    return run_jobs_tool(journal, std::move(args), ok);
  };
  bool ok = true;
  const std::string listing = run_tool({}, &ok);
  fail_unless(ok, "%s", listing.c_str());
  fail_if(test::contains(listing, "\x1b"), "a raw escape in:\n%s", listing.c_str());
  fail_if(test::contains(listing, "\x07"), "a raw bell in:\n%s", listing.c_str());
  fail_unless(test::contains(listing, "model\\x1b[31m"), "%s", listing.c_str());
  fail_unless(test::contains(listing, "Un caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \\x1b]0;owned\\x07"),
              "%s", listing.c_str());
  fail_unless(test::contains(listing, "\xe2\x80\xa6"), "no ellipsis in:\n%s", listing.c_str());
  fail_if(test::contains(listing, "filesink"), "%s", listing.c_str());
  const std::string line = run_tool({"resume", steering.fingerprint}, &ok);
  fail_if(ok, "%s", line.c_str());
  fail_if(test::contains(line, "gst-launch"), "%s", line.c_str());
}
GST_END_TEST;

// Past the provider's retention (Segmind: 1 h) an entry is not followed:
// the job cannot be delivered any more. An unanswered submit stops
// blocking then, too.
GST_START_TEST(test_entries_past_retention_are_not_followed) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string journal_dir = dir.path("journal");
  fail_unless(run_with_sink(make_source(emulator, journal_dir)).eos);
  grokimagine::Journal journal(journal_dir);
  for (auto state : {grokimagine::JournalEntry::State::Submitted,
                     grokimagine::JournalEntry::State::Submitting}) {
    grokimagine::JournalEntry entry = journal.list().value().at(0);
    entry.state = state;
    if (state == grokimagine::JournalEntry::State::Submitting) entry.request_id.clear();
    entry.created = g_get_real_time() / G_USEC_PER_SEC - 3601;
    fail_if(journal.write(entry).has_value());
    const int before = emulator.counters().submits_total;
    RunResult run = run_with_sink(make_source(emulator, journal_dir));
    fail_unless(run.eos, "%s", run.error_text().c_str());
    fail_unless_equals_int(emulator.counters().submits_total, before + 1);
    fail_if(std::count(run.job_statuses.begin(), run.job_statuses.end(), "RESUMED") > 0);
  }
}
GST_END_TEST;

// The clip cache keeps within cache-size by evicting the least recently
// used clip (stored or replayed), even among clips used within one second.
GST_START_TEST(test_clip_cache_evicts_the_least_recently_used) {
  test::TempDir dir;
  grokimagine::Journal journal(dir.path("journal"));
  const std::string bytes(100, 'x');
  auto reader = [&](std::uint64_t offset, void *dest, std::size_t size) -> std::int64_t {
    if (offset >= bytes.size()) return 0;
    const std::size_t n = std::min(size, bytes.size() - std::size_t(offset));
    memcpy(dest, bytes.data() + offset, n);
    return std::int64_t(n);
  };
  auto cached = [&](const char *fingerprint) {
    return g_file_test(journal.cache_path(fingerprint).c_str(), G_FILE_TEST_IS_REGULAR);
  };
  // Clips are named by their job's fingerprint.
  const std::string a = grokimagine::sha256_hex("a"), b = grokimagine::sha256_hex("b"),
                    c = grokimagine::sha256_hex("c"), d = grokimagine::sha256_hex("d");
  // Filesystems stamp times from a coarse clock (a few milliseconds): a
  // pause between uses, well within one second, keeps their order.
  auto pause = [] { g_usleep(20 * 1000); };
  journal.store_clip(a, reader, 250);
  pause();
  journal.store_clip(b, reader, 250);
  pause();
  // "a" replayed (as JobRecord::cached_clip does): now "b" is the oldest.
  g_utime(journal.cache_path(a).c_str(), nullptr);
  pause();
  journal.store_clip(c, reader, 250);
  fail_unless(cached(a.c_str()) && !cached(b.c_str()) && cached(c.c_str()));
  // A cache smaller than a clip keeps nothing.
  journal.store_clip(d, reader, 50);
  fail_if(cached(a.c_str()) || cached(c.c_str()) || cached(d.c_str()));
}
GST_END_TEST;

// The journal holds what makes a run follow a job instead of paying: only
// a directory of the user's own, writable by nobody else, is used.
GST_START_TEST(test_journal_directory_must_be_the_users) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string shared = dir.path("shared");
  fail_unless(g_mkdir(shared.c_str(), 0700) == 0 && chmod(shared.c_str(), 0777) == 0);
  const std::string foreign = dir.path("foreign");
  fail_unless(g_mkdir(foreign.c_str(), 0700) == 0);
  // Root (the tests' user) can give it away; otherwise this case is moot.
  const bool given_away = chown(foreign.c_str(), 65534, 65534) == 0;
  std::vector<std::pair<std::string, std::string>> cases = {
      {shared, "others can write in it (mode 0777)"}};
  if (given_away) cases.push_back({foreign, "it belongs to another user (uid 65534)"});
  for (const auto &[journal, says] : cases) {
    RunResult run = test::run_failing(make_source(emulator, journal));
    fail_unless(test::contains(run.error_text(),
                               "the job journal '" + journal + "' is not safe to use: " + says),
                "%s", run.error_text().c_str());
    fail_unless(test::contains(run.error_text(), "chmod 700"), "%s", run.error_text().c_str());
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// Nothing in the journal is followed where a link leads, and eviction
// deletes only the cache's own clips: not the user's videos behind a
// `clips` link, nor a file of theirs left in the cache.
GST_START_TEST(test_journal_follows_no_links_and_evicts_only_its_clips) {
  test::TempDir dir;
  const std::string bytes(100, 'x');
  auto reader = [&](std::uint64_t offset, void *dest, std::size_t size) -> std::int64_t {
    if (offset >= bytes.size()) return 0;
    const std::size_t n = std::min(size, bytes.size() - std::size_t(offset));
    memcpy(dest, bytes.data() + offset, n);
    return std::int64_t(n);
  };
  const std::string videos = dir.path("videos");
  fail_unless(g_mkdir(videos.c_str(), 0700) == 0);
  const std::string holiday = videos + "/holiday.mp4";
  fail_unless(g_file_set_contents(holiday.c_str(), "my holiday", -1, nullptr));
  const std::string fingerprint = grokimagine::sha256_hex("a");

  // `clips` is a link to the user's videos: not used, nothing deleted.
  grokimagine::Journal linked(dir.path("linked"));
  fail_unless(g_mkdir(dir.path("linked").c_str(), 0700) == 0);
  fail_unless(symlink(videos.c_str(), (dir.path("linked") + "/clips").c_str()) == 0);
  linked.store_clip(fingerprint, reader, 50);
  fail_unless(g_file_test(holiday.c_str(), G_FILE_TEST_IS_REGULAR));
  fail_if(g_file_test((videos + "/" + fingerprint + ".mp4").c_str(), G_FILE_TEST_EXISTS));

  // A file of the user's own in the cache stays, over budget or not.
  grokimagine::Journal journal(dir.path("journal"));
  fail_unless(g_mkdir_with_parents((dir.path("journal") + "/clips").c_str(), 0700) == 0);
  const std::string theirs = dir.path("journal") + "/clips/theirs.mp4";
  fail_unless(g_file_set_contents(theirs.c_str(), "theirs", -1, nullptr));
  journal.store_clip(fingerprint, reader, 50);
  fail_unless(g_file_test(theirs.c_str(), G_FILE_TEST_IS_REGULAR));

  // The lock file is not opened through a link (flock on the target).
  fail_unless(
      symlink(holiday.c_str(), (dir.path("journal") + "/" + fingerprint + ".lock").c_str()) == 0);
  auto lock = journal.lock(fingerprint, 0, nullptr);
  fail_if(lock.ok());
  const grokimagine::Error error = lock.error();
  fail_unless(test::contains(error.message, "lock"), "%s", error.message.c_str());

  // An entry that is a FIFO is no entry: listing does not hang on it.
  const std::string other = grokimagine::sha256_hex("b");
  fail_unless(mkfifo((dir.path("journal") + "/" + other + ".json").c_str(), 0600) == 0);
  fail_if(journal.read(other).value().has_value());
  fail_unless(journal.list().value().empty());
}
GST_END_TEST;

static Suite *journal_suite() {
  Suite *suite = suite_create("journal");
  TCase *tc = tcase_create("journal");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_rerun_after_kill_pays_once);
  tcase_add_test(tc, test_two_processes_submit_once);
  tcase_add_test(tc, test_reuse_never_and_delivered_jobs_pay_again);
  tcase_add_test(tc, test_jobs_tool_keeps_every_job_and_its_estimate);
  tcase_add_test(tc, test_reuse_always_replays_without_network);
  tcase_add_test(tc, test_ambiguous_submit_is_not_repeated);
  tcase_add_test(tc, test_synchronous_preview_is_journaled);
  tcase_add_test(tc, test_journal_writes_are_atomic);
  tcase_add_test(tc, test_budget_refuses_before_submitting);
  tcase_add_test(tc, test_non_finite_budget_refused_before_submitting);
  tcase_add_test(tc, test_journal_directory_must_be_the_users);
  tcase_add_test(tc, test_journal_follows_no_links_and_evicts_only_its_clips);
  tcase_add_test(tc, test_cost_on_the_bus_and_spent);
  tcase_add_test(tc, test_jobs_tool_lists_and_resumes_without_the_key);
  tcase_add_test(tc, test_jobs_tool_prints_nothing_a_hostile_answer_steers);
  tcase_add_test(tc, test_clip_cache_evicts_the_least_recently_used);
  tcase_add_test(tc, test_entries_past_retention_are_not_followed);
  suite_add_tcase(suite, tc);
  return suite;
}

GROKIMAGINE_CHECK_MAIN(journal)
