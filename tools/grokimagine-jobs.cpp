// grokimagine-jobs: what the job journal holds, and the gst-launch line that
// resumes or replays a job without paying for it again.
//
//   grokimagine-jobs [--journal DIR]            list every job, newest first
//   grokimagine-jobs [--journal DIR] resume ID  the line that gives job ID again
//                                               (a request id or a fingerprint)
//                                               without paying, if there is one
#include <glib.h>

#include <cstdio>
#include <string>

#include "core/journal.h"
#include "core/providers/provider.h"

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

// The prompt, shortened to fit a table row.
std::string excerpt(const std::string &prompt) {
  g_autofree gchar *valid = g_utf8_make_valid(prompt.c_str(), -1);
  if (g_utf8_strlen(valid, -1) <= 40) return valid;
  g_autofree gchar *cut = g_utf8_substring(valid, 0, 39);
  return std::string(cut) + "…";
}

std::string quoted(const std::string &text) {
  g_autofree gchar *quoted = g_shell_quote(text.c_str());
  return quoted;
}

// What the job gives with nothing paid again: while the provider keeps it,
// a line resuming it by request id (a status request and a download); once
// it is gone, the copy in the cache. Empty, with `why`, when neither is
// left (a line describing the job again would be a new, paid job).
std::string free_line(const JournalEntry &entry, const Journal &journal, std::string *why) {
  const bool video = entry.kind != "image";
  const std::string output =
      video ? " ! filesink location=clip.mp4" : " ! multifilesink location=image-%d";
  const grokimagine::Provider *provider = grokimagine::find_provider(entry.provider);
  Request request;
  request.model = entry.model;
  const bool synchronous = provider && provider->answers_with_media(request);
  // As the journal judges it when a pipeline starts the same job.
  const gint64 kept_until =
      provider ? grokimagine::retained_until(entry, provider->retention()) : 0;
  const bool resumable = entry.state != JournalEntry::State::Failed && !entry.request_id.empty() &&
                         !synchronous && g_get_real_time() / G_USEC_PER_SEC < kept_until;
  if (resumable)
    return std::string("gst-launch-1.0 ") + (video ? "grokimaginesrc" : "grokimagineimagesrc") +
           " provider=" + entry.provider + " api-url=" + quoted(entry.api_url) +
           " request-id=" + quoted(entry.request_id) + output;
  const std::string cached = journal.cache_path(entry.fingerprint);
  if (video && entry.state == JournalEntry::State::Delivered &&
      g_file_test(cached.c_str(), G_FILE_TEST_IS_REGULAR))
    return "gst-launch-1.0 filesrc location=" + quoted(cached) + output;
  switch (entry.state) {
    case JournalEntry::State::Submitting:
      *why = "its submit was never answered, so there is no request id to resume";
      break;
    case JournalEntry::State::Failed:
      *why = "it failed" + (entry.detail.empty() ? std::string() : ": " + entry.detail);
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
  gchar *journal_option = nullptr;
  const GOptionEntry options[] = {{"journal", 'j', 0, G_OPTION_ARG_FILENAME, &journal_option,
                                   "The journal directory (default: GROKIMAGINE_JOURNAL, else "
                                   "$XDG_STATE_HOME/grokimagine)",
                                   "DIR"},
                                  {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  g_autoptr(GOptionContext) context = g_option_context_new("[resume ID]");
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
  g_free(journal_option);
  if (dir.empty()) {
    g_printerr("The journal is off (GROKIMAGINE_JOURNAL is empty).\n");
    return 1;
  }
  Journal journal(dir);
  const auto entries = journal.list();

  if (argc == 3 && g_str_equal(argv[1], "resume")) {
    for (const JournalEntry &entry : entries)
      if (entry.request_id == argv[2] || entry.fingerprint == argv[2]) {
        std::string why;
        const std::string line = free_line(entry, journal, &why);
        if (line.empty()) {
          g_printerr("Job %s cannot be had again without paying for a new one: %s.\n", argv[2],
                     why.c_str());
          return 1;
        }
        g_print("%s\n", line.c_str());
        return 0;
      }
    g_printerr("No job %s in %s.\n", argv[2], dir.c_str());
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
            entry.provider.c_str(), entry.model.c_str(),
            grokimagine::journal_state_name(entry.state), cost(entry).c_str(),
            entry.request_id.empty() ? "-" : entry.request_id.c_str(),
            excerpt(entry.prompt).c_str());
  if (entries.empty()) g_print("(no jobs in %s)\n", dir.c_str());
  return 0;
}
