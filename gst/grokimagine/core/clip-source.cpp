// SPDX-License-Identifier: LGPL-2.1-or-later
#include "clip-source.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "clip-file.h"
#include "failover.h"
#include "log.h"

namespace grokimagine {

namespace {

// Whether a file can be created in `dir`: what the download will do once the
// job is paid, tried before. The probe is removed at once.
std::string cannot_create_in(const std::string &dir) {
  if (!g_file_test(dir.c_str(), G_FILE_TEST_IS_DIR)) return "'" + dir + "' is not a directory";
  g_autofree gchar *probe = g_build_filename(dir.c_str(), ".grokimagine-probe-XXXXXX", nullptr);
  int fd = g_mkstemp(probe);
  if (fd < 0) return "cannot create a file in '" + dir + "': " + g_strerror(errno);
  close(fd);
  g_unlink(probe);
  return {};
}

// `location` is checked before anything is paid: a missing or read-only
// directory, a directory as the target or a trailing slash are all knowable
// now, and the download would only find them after the job was billed.
std::optional<Error> check_destination(const std::string &location) {
  if (location.empty()) {
    const gchar *tmp = g_get_tmp_dir();
    std::string problem = cannot_create_in(tmp);
    if (problem.empty()) return std::nullopt;
    return Error::io("The clip is downloaded to a temporary file in " + std::string(tmp) +
                     " ($TMPDIR), but " + problem +
                     ". Set TMPDIR to a writable directory, or set 'location'.");
  }
  const std::string named = "Property 'location' is '" + location + "': ";
  if (location.back() == G_DIR_SEPARATOR || g_file_test(location.c_str(), G_FILE_TEST_IS_DIR))
    return invalid_setting(named + "it names a directory; give a file path.");
  if (auto why = not_replaceable(location))
    return invalid_setting(named + *why +
                           "; give the path of a file (an existing file is replaced).");
  g_autofree gchar *dir = g_path_get_dirname(location.c_str());
  std::string problem = cannot_create_in(dir);
  if (!problem.empty()) return invalid_setting(named + problem + ".");
  return std::nullopt;
}

}  // namespace

std::optional<Error> ClipSource::prepare(const JobSettings &settings) {
  if (auto error = providers_.prepare(generation_, settings)) return error;
  if (auto error = Download::check_connections(connections_)) return error;
  return check_destination(settings.location);
}

std::optional<Error> ClipSource::run(GCancellable *cancellable, const JobEvents &events) {
  return providers_.run(
      generation_, [&] { return run_on_provider(cancellable, events); }, events);
}

// `location` gets a replayed clip as it would a downloaded one: whole or not
// at all, with the usual permissions.
static std::optional<Error> copy_to_location(const std::string &from, const std::string &location) {
  const std::string temp = location + ".grokimagine-copy";
  g_autoptr(GFile) source = g_file_new_for_path(from.c_str());
  g_autoptr(GFile) target = g_file_new_for_path(temp.c_str());
  g_autoptr(GError) error = nullptr;
  if (!g_file_copy(source, target,
                   GFileCopyFlags(G_FILE_COPY_OVERWRITE | G_FILE_COPY_TARGET_DEFAULT_PERMS),
                   nullptr, nullptr, nullptr, &error) ||
      g_rename(temp.c_str(), location.c_str()) != 0) {
    g_unlink(temp.c_str());
    return Error::io("cannot copy the cached clip to location '" + location +
                     "': " + (error ? error->message : g_strerror(errno)));
  }
  return std::nullopt;
}

std::optional<Error> ClipSource::run_on_provider(GCancellable *cancellable,
                                                 const JobEvents &events) {
  Error failure;
  auto take = [&](Result<std::unique_ptr<Download>> started) {
    if (started.ok())
      download_ = std::move(*started);
    else
      failure = started.error();
  };
  const JobSettings &settings = generation_.settings();
  if (std::string cached = generation_.replay_from_cache(); !cached.empty()) {
    if (events.replayed) events.replayed(generation_.request_id());
    take(Download::open_file(cached));
    if (download_ && !settings.location.empty())
      if (auto error = copy_to_location(cached, settings.location)) return *error;
  } else if (generation_.answers_with_media()) {
    // The answer to the submit is the clip: the download is the job.
    if (auto error = generation_.before_submit(cancellable, events)) return *error;
    if (events.status_changed)
      events.status_changed(JobStatus{JobStatus::State::Running, "PROCESSING", -1, {}, {}});
    // Bounded by the job's `timeout` like any job, and sent once: it is the
    // paid submit.
    HttpRequest submit = generation_.submit_request();
    submit.log_id = settings.log_id;
    // Its answer is the clip: as it is, like any media.
    submit.identity_encoding = true;
    take(Download::start(
        submit, settings.location, settings.max_size,
        RetryPolicy(settings.timing, RetryPolicy::Clock::now() + settings.timing.timeout)));
  } else {
    auto outputs = generation_.run(cancellable, events);
    if (auto *error = std::get_if<Error>(&outputs)) return *error;
    const std::string &url = std::get<std::vector<Output>>(outputs).front().url;
    take(Download::start(Download::media_get(url, settings.log_id), settings.location,
                         settings.max_size, RetryPolicy(settings.timing), connections_));
  }
  if (generation_.answers_with_media() && download_) generation_.synchronous_submit_answered();
  if (!download_) {
    if (generation_.answers_with_media()) generation_.synchronous_submit_finished(&failure);
    return with_request_id(failure, generation_.request_id());
  }
  return std::nullopt;
}

void ClipSource::delivered() {
  if (generation_.answers_with_media()) generation_.synchronous_submit_finished(nullptr);
  generation_.record().delivered(
      [download = download_](std::uint64_t offset, void *dest, std::size_t size) {
        return download->read(offset, dest, size);
      },
      generation_.settings().cache_size);
}

Error ClipSource::download_failed() {
  Error error = download_->error();
  if (generation_.answers_with_media() && error.http_status >= 300) {
    HttpResponse answer;
    answer.status = error.http_status;
    answer.body = download_->error_body();
    error = generation_.provider().http_error(answer, Phase::Submit);
  }
  if (generation_.answers_with_media()) {
    // The download was the paid submit: without a refusal (4xx), the
    // provider may have made, and billed, the clip.
    const bool refused = error.http_status >= 400 && error.http_status < 500;
    if (!refused && error.kind != ErrorKind::Cancelled)
      note_maybe_billed(error, generation_.provider());
    generation_.synchronous_submit_finished(&error);
  }
  return with_request_id(error, generation_.request_id());
}

}  // namespace grokimagine
