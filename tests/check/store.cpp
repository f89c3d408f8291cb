// SPDX-License-Identifier: LGPL-2.1-or-later
// A fleet on one key (the store property): machines that share a PostgreSQL
// store pay once for a job, as processes on one machine do with the
// journal's files. A real server (initdb, pg_ctl) on a unix socket in a
// temporary directory; "machines" are processes with journal directories
// of their own.
#include <gst/check/gstcheck.h>
#include <libpq-fe.h>

#include <signal.h>
#include <sys/wait.h>

#include <cmath>
#include <mutex>

#include "assert-string.h"
#include "core/journal.h"
#include "core/store.h"
#include "postgres.h"
#include "support.h"

namespace emu = grokimagine::emulator;
using grokimagine::JournalEntry;
using test::RunResult;

static const char *kPrompt = "A lighthouse keeper feeding gulls at dawn";

// The pipeline a user runs on one machine of the fleet: its own journal
// directory (for cached clips), the fleet's store, the key from the
// environment.
static test::Child spawn_machine(const emu::Emulator &emulator, const std::string &store,
                                 const std::string &journal, const std::string &out) {
  return test::spawn_child_pipeline(
      "grokimaginesrc provider=segmind api-url=" + emulator.api_url() + " prompt=\"" + kPrompt +
          "\" duration=1 poll-interval=100 ! filesink location=" + out,
      {{"GROKIMAGINE_JOURNAL", journal},
       {"GROKIMAGINE_STORE", store},
       {"SEGMIND_API_KEY", emulator.options().api_key}});
}

static std::vector<JournalEntry> store_entries(const std::string &conninfo) {
  auto store = grokimagine::open_store(conninfo, std::chrono::seconds(10));
  fail_unless(store.ok(), "%s", store.ok() ? "" : store.error().message.c_str());
  auto entries = grokimagine::Journal("", *store).list();
  fail_if(!entries.ok(), "%s", entries.ok() ? "" : entries.error().message.c_str());
  return *entries;
}

static GstElement *make_source(const emu::Emulator &emulator, const std::string &store,
                               const std::string &journal) {
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "provider", "segmind");
  g_object_set(source, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "prompt", kPrompt, "poll-interval", 100u,
               "duration", 1, "journal", journal.c_str(), "store", store.c_str(), nullptr);
  return source;
}

// Two machines start the same job at once: one submit, both get the clip.
GST_START_TEST(test_two_machines_submit_once) {
  test::Postgres postgres;
  emu::Emulator emulator(test::quick_options());
  // The submit takes a second: the other machine starts while it is out.
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 0, {}, 1000, -1, 1});
  test::TempDir dir;
  test::Child a = spawn_machine(emulator, postgres.conninfo(), dir.path("a"), dir.path("a.mp4"));
  test::Child b = spawn_machine(emulator, postgres.conninfo(), dir.path("b"), dir.path("b.mp4"));
  auto [status_a, printed_a] = test::finish_child(a);
  auto [status_b, printed_b] = test::finish_child(b);
  fail_unless(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0, "%s", printed_a.c_str());
  fail_unless(WIFEXITED(status_b) && WEXITSTATUS(status_b) == 0, "%s", printed_b.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless(test::read_file(dir.path("a.mp4")) == test::read_file(emulator.clip_path(id)));
  fail_unless(test::read_file(dir.path("b.mp4")) == test::read_file(emulator.clip_path(id)));
  fail_unless(test::contains(printed_a + printed_b, "RESUMED"), "%s\n%s", printed_a.c_str(),
              printed_b.c_str());
  // The entry is the store's, not a machine's file.
  const auto entries = store_entries(postgres.conninfo());
  fail_unless_equals_int(entries.size(), 1);
  assert_equals_string(entries[0].request_id.c_str(), id.c_str());
  fail_unless(entries[0].state == JournalEntry::State::Delivered);
  fail_if(g_file_test((dir.path("a") + "/" + entries[0].fingerprint + ".json").c_str(),
                      G_FILE_TEST_EXISTS));
}
GST_END_TEST;

// A machine dies while its job runs; another machine running the same
// description follows the job instead of paying again.
GST_START_TEST(test_other_machine_follows_a_killed_job) {
  test::Postgres postgres;
  emu::Options options = test::quick_options();
  options.generation_ms = 3000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  test::Child first =
      spawn_machine(emulator, postgres.conninfo(), dir.path("a"), dir.path("a.mp4"));
  test::wait_until([&] { return emulator.counters().status_polls >= 1; }, std::chrono::seconds(30),
                   "a poll");
  kill(first.pid, SIGKILL);
  test::finish_child(first);
  auto [status, printed] = test::finish_child(
      spawn_machine(emulator, postgres.conninfo(), dir.path("b"), dir.path("b.mp4")));
  fail_unless(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", printed.c_str());
  fail_unless(test::contains(printed, "RESUMED"), "%s", printed.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless(test::read_file(dir.path("b.mp4")) == test::read_file(emulator.clip_path(id)));
}
GST_END_TEST;

// The server stopped while a job runs, then back: the job is neither lost
// (its machine delivers it) nor paid again by a machine that comes later.
GST_START_TEST(test_store_lost_mid_run_pays_once) {
  test::Postgres postgres;
  emu::Options options = test::quick_options();
  options.generation_ms = 2000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  test::Child first =
      spawn_machine(emulator, postgres.conninfo(), dir.path("a"), dir.path("a.mp4"));
  test::wait_until([&] { return emulator.counters().submits_total >= 1; }, std::chrono::seconds(30),
                   "the submit");
  postgres.stop();
  auto [status_a, printed_a] = test::finish_child(first);
  fail_unless(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0, "%s", printed_a.c_str());
  const std::string id = emulator.submits().at(0).request_id;
  fail_unless(test::read_file(dir.path("a.mp4")) == test::read_file(emulator.clip_path(id)));
  postgres.start();
  // Another machine, the same job: it follows it or says the store cannot
  // tell whether it was paid; it never submits it again.
  auto [status_b, printed_b] = test::finish_child(
      spawn_machine(emulator, postgres.conninfo(), dir.path("b"), dir.path("b.mp4")));
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  if (WEXITSTATUS(status_b) != 0)
    fail_unless(test::contains(printed_b, "may have billed"), "%s", printed_b.c_str());
}
GST_END_TEST;

// No store, no submit: an unreachable store is refused before paying, with
// an error that names it (and not its password).
GST_START_TEST(test_unreachable_store_refused_before_paying) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  // A socket directory with no server in it.
  const std::string store =
      "host=" + dir.path("") + " port=5432 dbname=fleet user=grokimagine password=hunter2-secret";
  RunResult run = test::run_failing(make_source(emulator, store, dir.path("journal")));
  fail_unless_equals_int(emulator.counters().submits_total, 0);
  fail_unless(run.error_domain() == GST_RESOURCE_ERROR);
  const std::string text = run.error_text() + run.error_detail("debug");
  fail_unless(test::contains(text, "the job store (PostgreSQL host=" + dir.path("")), "%s",
              text.c_str());
  fail_unless(test::contains(text, "cannot be reached"), "%s", text.c_str());
  fail_if(test::contains(text, "hunter2"), "%s", text.c_str());
}
GST_END_TEST;

// What is not a connection string is refused naming the property, before
// anything is sent.
GST_START_TEST(test_malformed_store_refused) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  RunResult run = test::run_failing(
      make_source(emulator, "postgresql://fleet:hunter2@[::1/bad", dir.path("journal")));
  fail_unless_equals_int(emulator.counters().submits_total, 0);
  fail_unless(run.error_domain() == GST_RESOURCE_ERROR);
  fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_SETTINGS);
  fail_unless(test::contains(run.error_text(), "Property 'store'"), "%s", run.error_text().c_str());
  fail_if(test::contains(run.error_text() + run.error_detail("debug"), "hunter2"));
}
GST_END_TEST;

// The debug log of a run through the store names it, never its password;
// the property cannot be read back.
struct Captured {
  std::mutex mutex;
  std::string lines;
};

static void capture_log(GstDebugCategory *category, GstDebugLevel, const gchar *, const gchar *,
                        gint, GObject *, GstDebugMessage *message, gpointer data) {
  if (!g_str_has_prefix(gst_debug_category_get_name(category), "grokimagine")) return;
  auto *captured = static_cast<Captured *>(data);
  std::lock_guard<std::mutex> lock(captured->mutex);
  captured->lines += std::string(gst_debug_message_get(message)) + "\n";
}

GST_START_TEST(test_store_password_never_logged_nor_readable) {
  test::Postgres postgres;
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  Captured captured;
  gst_debug_set_active(TRUE);
  gst_debug_set_threshold_from_string("grokimagine*:9", FALSE);
  gst_debug_add_log_function(capture_log, &captured, nullptr);
  GstElement *source =
      make_source(emulator, postgres.conninfo_with_password("hunter2-secret"), dir.path("j"));
  fail_unless(g_object_class_find_property(G_OBJECT_GET_CLASS(source), "store")->flags &
              G_PARAM_WRITABLE);
  fail_if(g_object_class_find_property(G_OBJECT_GET_CLASS(source), "store")->flags &
          G_PARAM_READABLE);
  GstElement *pipeline = test::pipeline_with_sink(source);
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  gst_debug_remove_log_function(capture_log);
  gst_debug_set_threshold_from_string("grokimagine*:0", FALSE);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  std::lock_guard<std::mutex> lock(captured.mutex);
  fail_unless(test::contains(captured.lines, "connected to the job store (PostgreSQL host="), "%s",
              captured.lines.c_str());
  fail_if(test::contains(captured.lines, "hunter2"));
}
GST_END_TEST;

// A pipeline waiting for another machine's claim stops at once when set to
// NULL, and sends nothing.
GST_START_TEST(test_stop_while_another_machine_holds_the_job) {
  test::Postgres postgres;
  emu::Emulator emulator(test::quick_options());
  // The other machine's submit takes 10 s: it holds the claim that long.
  emulator.add_fault(emu::Fault{emu::Phase::Submit, 0, {}, 10000, -1, 1});
  test::TempDir dir;
  test::Child other =
      spawn_machine(emulator, postgres.conninfo(), dir.path("a"), dir.path("a.mp4"));
  test::wait_until([&] { return emulator.counters().submits_total >= 1; }, std::chrono::seconds(30),
                   "the other's submit");
  GstElement *pipeline =
      test::pipeline_with_sink(make_source(emulator, postgres.conninfo(), dir.path("b")));
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_usleep(500 * 1000);  // waiting for the claim by now
  const gint64 before = g_get_monotonic_time();
  gst_element_set_state(pipeline, GST_STATE_NULL);
  const gint64 took_ms = (g_get_monotonic_time() - before) / 1000;
  gst_object_unref(pipeline);
  fail_unless(took_ms < 5000, "NULL took %" G_GINT64_FORMAT " ms", took_ms);
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  auto [status, printed] = test::finish_child(other);
  fail_unless(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", printed.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// ---- A budget shared by the fleet (budget-scope) ----

// Runs `sql` on the test's server; the first column of the first row.
static std::string query(const test::Postgres &postgres, const std::string &sql) {
  PGconn *conn = PQconnectdb(postgres.conninfo().c_str());
  fail_unless(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
  PGresult *result = PQexec(conn, sql.c_str());
  fail_unless(PQresultStatus(result) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(result));
  std::string value =
      PQntuples(result) > 0 && !PQgetisnull(result, 0, 0) ? PQgetvalue(result, 0, 0) : "NULL";
  PQclear(result);
  PQfinish(conn);
  return value;
}

// Eight machines, one scope of $1.00, $0.14 a clip: seven are paid, the
// eighth is refused before it is sent, naming the scope.
GST_START_TEST(test_budget_scope_is_shared_by_the_fleet) {
  test::Postgres postgres;
  emu::Options options = test::quick_options();
  options.generation_ms = 1000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  const std::string prices = dir.path("prices.txt");
  fail_unless(
      g_file_set_contents(prices.c_str(), "segmind grok-imagine-video * 0.14\n", -1, nullptr));
  std::vector<test::Child> machines;
  for (int i = 0; i < 8; i++) {
    const std::string name = "m" + std::to_string(i);
    machines.push_back(test::spawn_child_pipeline(
        "grokimaginesrc provider=segmind api-url=" + emulator.api_url() + " prompt=\"clip " +
            std::to_string(i) + "\" duration=1 poll-interval=100 budget=1.0 budget-scope=team " +
            "prices=" + prices + " ! fakesink",
        {{"GROKIMAGINE_JOURNAL", dir.path(name.c_str())},
         {"GROKIMAGINE_STORE", postgres.conninfo()},
         {"SEGMIND_API_KEY", emulator.options().api_key}}));
  }
  int delivered = 0, refused = 0;
  for (test::Child &machine : machines) {
    auto [status, printed] = test::finish_child(machine);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      delivered++;
    } else {
      refused++;
      fail_unless(test::contains(printed, "budget-scope 'team'"), "%s", printed.c_str());
      fail_unless(test::contains(printed, "Nothing was sent"), "%s", printed.c_str());
    }
  }
  fail_unless_equals_int(emulator.counters().submits_total, 7);
  fail_unless_equals_int(delivered, 7);
  fail_unless_equals_int(refused, 1);
  const std::string reserved = query(postgres,
                                     "SELECT round(sum(reserved_usd)::numeric, 2)::text FROM "
                                     "grokimagine_spending WHERE scope = 'team'");
  assert_equals_string(reserved.c_str(), "0.98");
}
GST_END_TEST;

// A machine dies with its job's estimate reserved; the machine that
// follows the job settles the reservation with the provider's figure.
GST_START_TEST(test_reservation_of_a_killed_job_is_settled) {
  test::Postgres postgres;
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  options.generation_ms = 3000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  auto machine = [&](const char *name) {
    return test::spawn_child_pipeline(
        "grokimaginesrc provider=xai api-url=" + emulator.api_url() + "/v1 prompt=\"" + kPrompt +
            "\" duration=1 poll-interval=100 budget=5 budget-scope=team ! fakesink",
        {{"GROKIMAGINE_JOURNAL", dir.path(name)},
         {"GROKIMAGINE_STORE", postgres.conninfo()},
         {"XAI_API_KEY", emulator.options().api_key}});
  };
  test::Child first = machine("a");
  test::wait_until([&] { return emulator.counters().status_polls >= 1; }, std::chrono::seconds(30),
                   "a poll");
  kill(first.pid, SIGKILL);
  test::finish_child(first);
  // Reserved at the estimate, not settled.
  const std::string unsettled = query(postgres, "SELECT cost_usd FROM grokimagine_spending");
  assert_equals_string(unsettled.c_str(), "NULL");
  const double reserved = g_ascii_strtod(
      query(postgres, "SELECT reserved_usd FROM grokimagine_spending").c_str(), nullptr);
  fail_unless(reserved > 0);
  auto [status, printed] = test::finish_child(machine("b"));
  fail_unless(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", printed.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  const auto entries = store_entries(postgres.conninfo());
  fail_unless_equals_int(entries.size(), 1);
  assert_equals_string(entries[0].cost_source.c_str(), "provider");
  const double settled =
      g_ascii_strtod(query(postgres, "SELECT cost_usd FROM grokimagine_spending").c_str(), nullptr);
  fail_unless(std::abs(settled - entries[0].cost_usd) < 1e-9, "%f != %f", settled,
              entries[0].cost_usd);
  fail_unless_equals_int(std::stoi(query(postgres, "SELECT count(*) FROM grokimagine_spending")),
                         1);
}
GST_END_TEST;

// What a scope needs is refused before anything is sent: a store, a budget,
// a plain name.
GST_START_TEST(test_budget_scope_needs_a_store_and_a_budget) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  struct Case {
    const char *scope;
    double budget;
    std::string store;
    const char *says;
  } cases[] = {
      {"team", 1.0, "", "needs a store"},
      {"team", 0.0, "host=" + dir.path("none"), "'budget' is not set"},
      {"team; DROP", 1.0, "host=" + dir.path("none"), "letters, digits"},
  };
  const std::string prices = dir.path("prices.txt");
  fail_unless(
      g_file_set_contents(prices.c_str(), "segmind grok-imagine-video * 0.14\n", -1, nullptr));
  for (const Case &c : cases) {
    GstElement *source = make_source(emulator, c.store, dir.path("j"));
    g_object_set(source, "budget-scope", c.scope, "budget", c.budget, "prices", prices.c_str(),
                 nullptr);
    RunResult run = test::run_failing(source);
    fail_unless_equals_int(run.error_code(), GST_RESOURCE_ERROR_SETTINGS);
    fail_unless(test::contains(run.error_text(), "Property 'budget-scope'"), "%s",
                run.error_text().c_str());
    fail_unless(test::contains(run.error_text(), c.says), "%s", run.error_text().c_str());
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// ---- The key's request rate, kept by the fleet ----

// Eight machines with one xAI key (1 request a second): together they stay
// at the key's rate, where each pacing itself alone would send eight times
// as many.
GST_START_TEST(test_fleet_keeps_the_keys_request_rate) {
  test::Postgres postgres;
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  options.generation_ms = 6000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  std::vector<test::Child> machines;
  for (int i = 0; i < 8; i++) {
    const std::string name = "m" + std::to_string(i);
    machines.push_back(test::spawn_child_pipeline(
        "grokimaginesrc provider=xai api-url=" + emulator.api_url() + "/v1 prompt=\"clip " +
            std::to_string(i) + "\" duration=1 poll-interval=100 ! fakesink",
        {{"GROKIMAGINE_JOURNAL", dir.path(name.c_str())},
         {"GROKIMAGINE_STORE", postgres.conninfo()},
         {"XAI_API_KEY", emulator.options().api_key}}));
  }
  for (test::Child &machine : machines) {
    auto [status, printed] = test::finish_child(machine);
    fail_unless(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", printed.c_str());
  }
  fail_unless_equals_int(emulator.counters().submits_total, 8);
  const std::vector<gint64> times = emulator.api_request_times();
  // Submits, polls and results of eight jobs of 6 s: more than a window.
  fail_unless(times.size() >= 16, "%zu requests", times.size());
  // In any second, the key's one request and one of jitter at most.
  for (std::size_t first = 0; first < times.size(); first++) {
    std::size_t in_window = 0;
    for (std::size_t i = first; i < times.size() && times[i] - times[first] < G_USEC_PER_SEC; i++)
      in_window++;
    fail_unless(in_window <= 2, "%zu requests within a second of request %zu", in_window, first);
  }
  // And over the whole run, the key's rate and a burst: a request that
  // left late (a loaded machine) brings the next one's gap in, not more.
  const double seconds = double(times.back() - times.front()) / G_USEC_PER_SEC;
  fail_unless(double(times.size()) <= seconds + 2, "%zu requests in %.1f s", times.size(), seconds);
}
GST_END_TEST;

// grokimagine-jobs with --store: the fleet's jobs, listed, resumed, forgotten.
static std::string run_jobs_tool(const std::string &store, std::vector<std::string> args,
                                 bool *ok) {
  args.insert(args.begin(), {"--journal", "", "--store", store});
  return test::run_jobs_tool(std::move(args), ok);
}

GST_START_TEST(test_jobs_tool_works_against_the_store) {
  test::Postgres postgres;
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  GstElement *pipeline =
      test::pipeline_with_sink(make_source(emulator, postgres.conninfo(), dir.path("j")));
  RunResult run = test::run_pipeline(pipeline);
  gst_object_unref(pipeline);
  fail_unless(run.eos, "%s", run.error_text().c_str());
  const std::string id = emulator.submits().at(0).request_id;
  bool ok = false;
  std::string listed = run_jobs_tool(postgres.conninfo(), {}, &ok);
  fail_unless(ok && test::contains(listed, id) && test::contains(listed, "delivered"), "%s",
              listed.c_str());
  std::string line = run_jobs_tool(postgres.conninfo(), {"resume", id}, &ok);
  fail_unless(ok && test::contains(line, "request-id='" + id + "'"), "%s", line.c_str());
  std::string forgot = run_jobs_tool(postgres.conninfo(), {"forget", id}, &ok);
  fail_unless(ok, "%s", forgot.c_str());
  listed = run_jobs_tool(postgres.conninfo(), {}, &ok);
  fail_unless(ok && !test::contains(listed, id), "%s", listed.c_str());
  fail_unless(test::contains(listed, "(no jobs in the job store (PostgreSQL host="), "%s",
              listed.c_str());
  // A store that is not there: said, and a failure.
  std::string failed = run_jobs_tool("host=" + dir.path("none") + " dbname=x", {}, &ok);
  fail_if(ok);
  fail_unless(test::contains(failed, "cannot be reached"), "%s", failed.c_str());
}
GST_END_TEST;

static Suite *store_suite() {
  Suite *s = suite_create("store");
  if (TCase *tc = test::cases(s, test::Speed::Quick, "fleet", 120)) {
    tcase_add_test(tc, test_two_machines_submit_once);
    tcase_add_test(tc, test_other_machine_follows_a_killed_job);
    tcase_add_test(tc, test_store_lost_mid_run_pays_once);
    tcase_add_test(tc, test_unreachable_store_refused_before_paying);
    tcase_add_test(tc, test_malformed_store_refused);
    tcase_add_test(tc, test_store_password_never_logged_nor_readable);
    tcase_add_test(tc, test_jobs_tool_works_against_the_store);
    tcase_add_test(tc, test_stop_while_another_machine_holds_the_job);
    tcase_add_test(tc, test_budget_scope_is_shared_by_the_fleet);
    tcase_add_test(tc, test_reservation_of_a_killed_job_is_settled);
    tcase_add_test(tc, test_budget_scope_needs_a_store_and_a_budget);
  }
  // Eight machines kept at one request a second for seconds: the `slow`
  // suite (store-slow in tests/meson.build).
  if (TCase *slow = test::cases(s, test::Speed::Slow, "slow", 120))
    tcase_add_test(slow, test_fleet_keeps_the_keys_request_rate);
  return s;
}

GROKIMAGINE_CHECK_MAIN(store)
