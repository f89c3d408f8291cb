// SPDX-License-Identifier: LGPL-2.1-or-later
// grokimagine-jobs: what the job journal holds, and the gst-launch line that
// resumes or replays a job without paying for it again.
//
//   grokimagine-jobs [--journal DIR]            list every job, newest first
//   grokimagine-jobs [--journal DIR] [--api-url URL] resume ID
//                                               the line that gives job ID again
//                                               (a request id or a fingerprint)
//                                               without paying, if there is one
//   grokimagine-jobs [--journal DIR] forget ID  drop job ID's entry: the same
//                                               description submits (and pays)
//                                               anew next time
//
// With --store (or GROKIMAGINE_STORE) the entries are a fleet's, in
// PostgreSQL; cached clips are still this machine's, in the directory.
//
// What it prints comes from the journal, which holds what providers and
// prompts said: control characters are shown escaped, never sent to the
// terminal, and a printed gst-launch line carries only values that cannot
// add elements to it.
#include <glib.h>

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/journal.h"
#include "core/providers/provider.h"
#include "core/request.h"
#include "core/store.h"

using grokimagine::Journal;
using grokimagine::JournalEntry;
using grokimagine::Request;

namespace {

std::string when(gint64 unix_seconds) {
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local(unix_seconds);
  if (!time) return "?";
  g_autofree gchar *text = g_date_time_format(time, "%F %T");
  return text;
}

std::string cost(const JournalEntry &entry) {
  if (entry.cost_usd < 0) return "-";
  g_autofree gchar *text =
      g_strdup_printf("$%.2f%s", entry.cost_usd, entry.cost_source == "estimate" ? " (est.)" : "");
  return text;
}

// `text` as valid UTF-8 with C0 and C1 control characters (U+0000-001F,
// U+007F-009F) escaped: a prompt or a provider's answer holding terminal
// escapes (a title, a cleared screen) is shown, not obeyed.
std::string printable(const std::string &text) {
  g_autofree gchar *valid = g_utf8_make_valid(text.c_str(), gssize(text.size()));
  std::string shown;
  for (const gchar *at = valid; *at; at = g_utf8_next_char(at)) {
    const gunichar c = g_utf8_get_char(at);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      g_autofree gchar *escaped = g_strdup_printf("\\x%02x", c);
      shown += escaped;
    } else {
      shown.append(at, std::size_t(g_utf8_next_char(at) - at));
    }
  }
  return shown;
}

// The prompt, shortened to fit a table row.
std::string excerpt(const std::string &prompt) {
  const std::string shown = printable(prompt);
  if (g_utf8_strlen(shown.c_str(), -1) <= 40) return shown;
  g_autofree gchar *cut = g_utf8_substring(shown.c_str(), 0, 39);
  return std::string(cut) + "…";
}

// A value gst-launch reads as one: it joins its arguments and parses them
// again, so a quote, a space or a '!' in a value would start another
// element (a filesink over a file of the user's).
bool one_gst_value(const std::string &value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return g_ascii_isalnum(c) || strchr("._/+,@%=~:-", c);
  });
}

std::string quoted(const std::string &text) {
  g_autofree gchar *quoted = g_shell_quote(text.c_str());
  return quoted;
}

// What the job gives with nothing paid again: while the provider keeps it,
// a line resuming it by request id (a status request and a download); once
// it is gone, the copy in the cache. Empty, with `why`, when neither is
// left (a line describing the job again would be a new, paid job).
// `api_url`: where to resume the job (the user's --api-url), else the
// provider's own.
std::string free_line(const JournalEntry &entry, const Journal &journal, const std::string &api_url,
                      std::string *why) {
  const bool video = entry.kind != "image";
  const std::string output =
      video ? " ! filesink location=clip.mp4" : " ! multifilesink location=image-%d";
  const grokimagine::Provider *provider = grokimagine::find_provider(entry.provider);
  if (!provider) {
    *why = "its provider '" + printable(entry.provider) + "' is not one this plugin knows";
    return {};
  }
  Request request;
  request.model = entry.model;
  const bool synchronous = provider && provider->answers_with_media(request);
  // As the journal judges it when a pipeline starts the same job.
  const gint64 kept_until =
      provider ? grokimagine::retained_until(entry, provider->retention()) : 0;
  const bool resumable = entry.state != JournalEntry::State::Failed && !entry.request_id.empty() &&
                         !synchronous && g_get_real_time() / G_USEC_PER_SEC < kept_until;
  if (resumable) {
    // Journal entries with another id are never read; checked again here,
    // where it matters most.
    if (std::string problem = grokimagine::request_id_problem(entry.request_id); !problem.empty()) {
      *why = "its request id cannot go on a command line: " + problem;
      return {};
    }
    if (api_url.empty() && !entry.api_url.empty() && entry.api_url != provider->api_url())
      g_printerr("Job %s was made through %s: pass --api-url to resume it there.\n",
                 entry.request_id.c_str(), printable(entry.api_url).c_str());
    return std::string("gst-launch-1.0 ") + (video ? "grokimaginesrc" : "grokimagineimagesrc") +
           " provider=" + provider->name() +
           (api_url.empty() ? std::string() : " api-url=" + quoted(api_url)) +
           " request-id=" + quoted(entry.request_id) + output;
  }
  const std::string cached = journal.cache_path(entry.fingerprint);
  // The cache holds the newest job of a description: not an archived one's.
  if (video && !entry.archived && entry.state == JournalEntry::State::Delivered &&
      g_file_test(cached.c_str(), G_FILE_TEST_IS_REGULAR)) {
    if (!one_gst_value(cached)) {
      *why = "the path of its cached copy (" + printable(cached) +
             ") holds characters a gst-launch line cannot carry as one value; copy that file";
      return {};
    }
    return "gst-launch-1.0 filesrc location=" + quoted(cached) + output;
  }
  switch (entry.state) {
    case JournalEntry::State::Submitting:
      *why = "its submit was never answered, so there is no request id to resume";
      break;
    case JournalEntry::State::Failed:
      *why = "it failed" + (entry.detail.empty() ? std::string() : ": " + printable(entry.detail));
      break;
    default:
      *why = synchronous ? "the provider answered it at once (no job to resume) and "
                         : std::string("the provider no longer keeps it (since ") +
                               when(kept_until) + ") and ";
      *why += "no copy of it is in the cache (reuse=always keeps one)";
  }
  return {};
}

}  // namespace

int main(int argc, char **argv) {
  // Text goes out in the terminal's own encoding (UTF-8 where it takes it),
  // not as '?' for every character outside ASCII.
  setlocale(LC_ALL, "");
  gchar *journal_option = nullptr;
  gchar *store_option = nullptr;
  gchar *api_url_option = nullptr;
  const GOptionEntry options[] = {
      {"journal", 'j', 0, G_OPTION_ARG_FILENAME, &journal_option,
       "The journal directory (default: GROKIMAGINE_JOURNAL, else "
       "$XDG_STATE_HOME/grokimagine)",
       "DIR"},
      {"store", 's', 0, G_OPTION_ARG_STRING, &store_option,
       "The fleet's store: a PostgreSQL connection string or URI (default: GROKIMAGINE_STORE)",
       "CONNINFO"},
      {"api-url", 0, 0, G_OPTION_ARG_STRING, &api_url_option,
       "Resume through this API URL (default: the provider's own)", "URL"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  g_autoptr(GOptionContext) context = g_option_context_new("[resume ID | forget ID]");
  g_option_context_set_summary(context,
                               "Lists the Grok Imagine job journal, or prints the gst-launch "
                               "line that resumes (or replays) one job without paying again.");
  g_option_context_add_main_entries(context, options, nullptr);
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr("%s\n", error->message);
    return 2;
  }
  const std::string dir = journal_option ? journal_option : Journal::default_dir();
  const std::string store = store_option ? store_option : grokimagine::default_store();
  const std::string api_url = api_url_option ? api_url_option : "";
  g_free(journal_option);
  g_free(store_option);
  g_free(api_url_option);
  if (!api_url.empty() && !one_gst_value(api_url)) {
    g_printerr("--api-url %s holds characters a gst-launch line cannot carry as one value.\n",
               printable(api_url).c_str());
    return 2;
  }
  std::shared_ptr<grokimagine::EntryStore> entries_store;
  if (!store.empty()) {
    auto opened = grokimagine::open_store(store, std::chrono::seconds(30));
    if (!opened.ok()) {
      g_printerr("%s\n", opened.error().message.c_str());
      return 2;
    }
    entries_store = std::move(*opened);
  } else if (dir.empty()) {
    g_printerr("The journal is off (GROKIMAGINE_JOURNAL is empty).\n");
    return 1;
  }
  Journal journal(dir, entries_store);
  const auto listed = journal.list();
  if (!listed.ok()) {
    g_printerr("%s\n", listed.error().message.c_str());
    return 1;
  }
  const std::vector<JournalEntry> &entries = *listed;
  const std::string where = printable(journal.where());

  if (argc == 3 && g_str_equal(argv[1], "forget")) {
    for (const JournalEntry &entry : entries)
      if (!entry.archived && (entry.request_id == argv[2] || entry.fingerprint == argv[2])) {
        journal.remove(entry.fingerprint);
        g_print("Forgot job %s: the same description submits (and pays) anew next time.\n",
                printable(argv[2]).c_str());
        return 0;
      }
    g_printerr("No current job %s in %s.\n", printable(argv[2]).c_str(), where.c_str());
    return 1;
  }

  if (argc == 3 && g_str_equal(argv[1], "resume")) {
    for (const JournalEntry &entry : entries)
      if (entry.request_id == argv[2] || entry.fingerprint == argv[2]) {
        std::string why;
        const std::string line = free_line(entry, journal, api_url, &why);
        if (line.empty()) {
          g_printerr("Job %s cannot be had again without paying for a new one: %s.\n",
                     printable(argv[2]).c_str(), why.c_str());
          return 1;
        }
        g_print("%s\n", line.c_str());
        return 0;
      }
    g_printerr("No job %s in %s.\n", printable(argv[2]).c_str(), where.c_str());
    return 1;
  }
  if (argc != 1) {
    g_autofree gchar *help = g_option_context_get_help(context, TRUE, nullptr);
    g_printerr("%s", help);
    return 2;
  }
  g_print("%-19s  %-8s  %-24s  %-10s  %-10s  %-36s  %s\n", "TIME", "PROVIDER", "MODEL", "STATE",
          "COST", "REQUEST ID", "PROMPT");
  for (const JournalEntry &entry : entries)
    g_print("%-19s  %-8s  %-24s  %-10s  %-10s  %-36s  %s\n", when(entry.created).c_str(),
            printable(entry.provider).c_str(), printable(entry.model).c_str(),
            grokimagine::journal_state_name(entry.state), cost(entry).c_str(),
            entry.request_id.empty() ? "-" : printable(entry.request_id).c_str(),
            excerpt(entry.prompt).c_str());
  if (entries.empty()) g_print("(no jobs in %s)\n", where.c_str());
  return 0;
}
