// SPDX-License-Identifier: LGPL-2.1-or-later
#include "postgres-server.h"

#include <glib.h>

#include <unistd.h>

#include <stdexcept>

namespace test {

namespace {

// Runs scripts/postgres.sh ACTION DIR; its standard output, or what it
// said when it failed (thrown).
std::string run_script(const char *action, const std::string &dir, bool fsync) {
  const gchar *argv[] = {"bash", POSTGRES_SCRIPT, action, dir.c_str(), nullptr};
  g_auto(GStrv) env =
      g_environ_setenv(g_get_environ(), "POSTGRES_FSYNC", fsync ? "on" : "off", TRUE);
  g_autofree gchar *out = nullptr;
  g_autofree gchar *err = nullptr;
  gint status = 0;
  g_autoptr(GError) error = nullptr;
  if (!g_spawn_sync(nullptr, const_cast<gchar **>(argv), env, G_SPAWN_SEARCH_PATH, nullptr, nullptr,
                    &out, &err, &status, &error) ||
      !g_spawn_check_wait_status(status, nullptr))
    throw std::runtime_error(std::string("scripts/postgres.sh ") + action +
                             " failed: " + (error ? error->message : "") + (err ? err : ""));
  return out ? out : "";
}

}  // namespace

PostgresServer::PostgresServer(bool fsync) : fsync_(fsync) {
  g_autofree gchar *dir = g_dir_make_tmp("grokimagine-pg-XXXXXX", nullptr);
  if (dir == nullptr) throw std::runtime_error("cannot make a directory for the PostgreSQL server");
  dir_ = dir;
  // pg_ctl's server outlives whoever started it. A watchdog stops it when
  // this process is gone, however it went (a failed check exits past every
  // destructor, a timeout kills): its standard input is a pipe only this
  // process writes to, which ends when it does.
  const std::string stop_when_gone =
      std::string("read -r _; exec bash ") + POSTGRES_SCRIPT + " stop " + dir_ + " >/dev/null 2>&1";
  const gchar *watchdog[] = {"bash", "-c", stop_when_gone.c_str(), nullptr};
  g_autoptr(GError) error = nullptr;
  // A session of its own: check kills a finished test's process group.
  auto own_session = [](gpointer) { setsid(); };
  if (!g_spawn_async_with_pipes(nullptr, const_cast<gchar **>(watchdog), nullptr,
                                G_SPAWN_SEARCH_PATH, own_session, nullptr, nullptr, &watchdog_fd_,
                                nullptr, nullptr, &error)) {
    rmdir(dir);
    throw std::runtime_error(std::string("cannot start the server's watchdog: ") + error->message);
  }
  try {
    start();
  } catch (const std::runtime_error &) {
    // No destructor runs for what was never made: the watchdog stops it.
    close(watchdog_fd_);
    throw;
  }
}

PostgresServer::~PostgresServer() {
  try {
    run_script("stop", dir_, fsync_);  // and removes dir_
  } catch (const std::runtime_error &) {
  }
  close(watchdog_fd_);
}

void PostgresServer::start() {
  // export GROKIMAGINE_STORE='...': what a client gives libpq.
  const std::string printed = run_script("start", dir_, fsync_);
  const auto begin = printed.find('\'');
  const auto end = printed.rfind('\'');
  if (begin == std::string::npos || end <= begin)
    throw std::runtime_error("scripts/postgres.sh start printed no connection string: " + printed);
  conninfo_ = printed.substr(begin + 1, end - begin - 1);
}

void PostgresServer::stop() {
  run_script("down", dir_, fsync_);
}

std::string PostgresServer::conninfo_with_password(const std::string &password) const {
  return conninfo_ + " password=" + password;
}

}  // namespace test
