#include "postgres-server.h"

#include <glib.h>
#include <unistd.h>

#include <stdexcept>

namespace test {

namespace {

constexpr const char *kPort = "5432";  // names the socket file; no TCP
constexpr const char *kUser = "grokimagine";

// Where the server's programs are: pg_config's answer (libpq-dev), else
// Debian's versioned directory.
std::string server_bindir() {
  g_autofree gchar *out = nullptr;
  gint status = 0;
  const gchar *argv[] = {"pg_config", "--bindir", nullptr};
  if (g_spawn_sync(nullptr, const_cast<gchar **>(argv), nullptr, G_SPAWN_SEARCH_PATH, nullptr,
                   nullptr, &out, nullptr, &status, nullptr) &&
      g_spawn_check_wait_status(status, nullptr)) {
    std::string dir = g_strstrip(out);
    if (g_file_test((dir + "/postgres").c_str(), G_FILE_TEST_IS_EXECUTABLE)) return dir;
  }
  for (const char *version : {"17", "16", "15", "14", "13"}) {
    const std::string dir = std::string("/usr/lib/postgresql/") + version + "/bin";
    if (g_file_test((dir + "/postgres").c_str(), G_FILE_TEST_IS_EXECUTABLE)) return dir;
  }
  return {};
}

void remove_tree(const std::string &dir) {
  const gchar *argv[] = {"rm", "-rf", dir.c_str(), nullptr};
  g_spawn_sync(nullptr, const_cast<gchar **>(argv), nullptr, G_SPAWN_SEARCH_PATH, nullptr, nullptr,
               nullptr, nullptr, nullptr, nullptr);
}

}  // namespace

PostgresServer::PostgresServer(bool fsync) : bindir_(server_bindir()), fsync_(fsync) {
  if (bindir_.empty())
    throw std::runtime_error(
        "no PostgreSQL server (package postgresql; scripts/install-deps.sh installs it)");
  g_autofree gchar *dir = g_dir_make_tmp("grokimagine-pg-XXXXXX", nullptr);
  if (dir == nullptr) throw std::runtime_error("cannot make a directory for the PostgreSQL server");
  dir_ = dir;
  // The server refuses to run as root: as root, its files are postgres's.
  as_postgres_user_ = geteuid() == 0;
  try {
    if (as_postgres_user_) {
      const gchar *argv[] = {"chown", "postgres:", dir_.c_str(), nullptr};
      gint status = 0;
      if (!g_spawn_sync(nullptr, const_cast<gchar **>(argv), nullptr, G_SPAWN_SEARCH_PATH, nullptr,
                        nullptr, nullptr, nullptr, &status, nullptr) ||
          !g_spawn_check_wait_status(status, nullptr))
        throw std::runtime_error("cannot give " + dir_ + " to the postgres user");
    }
    std::string output;
    if (!run("initdb",
             {"-D", dir_ + "/data", "-U", kUser, "-A", "trust", "-E", "UTF8", "--no-sync",
              "--no-instructions"},
             &output))
      throw std::runtime_error("initdb failed: " + output);
    start();
  } catch (const std::runtime_error &) {
    // No destructor runs for what was never made.
    remove_tree(dir_);
    throw;
  }
}

PostgresServer::~PostgresServer() {
  std::string ignored;
  if (running_) halt(&ignored);
  remove_tree(dir_);
}

bool PostgresServer::run(const std::string &program, const std::vector<std::string> &args,
                         std::string *output) const {
  std::vector<std::string> command;
  if (as_postgres_user_) command = {"runuser", "-u", "postgres", "--"};
  command.push_back(bindir_ + "/" + program);
  command.insert(command.end(), args.begin(), args.end());
  std::vector<const gchar *> argv;
  for (const auto &arg : command) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  g_autofree gchar *out = nullptr;
  g_autofree gchar *err = nullptr;
  gint status = 0;
  const bool ok =
      g_spawn_sync(dir_.c_str(), const_cast<gchar **>(argv.data()), nullptr, G_SPAWN_SEARCH_PATH,
                   nullptr, nullptr, &out, &err, &status, nullptr) &&
      g_spawn_check_wait_status(status, nullptr);
  *output = std::string(out ? out : "") + (err ? err : "");
  return ok;
}

void PostgresServer::start() {
  std::string output;
  // Only the socket in our directory.
  if (!run("pg_ctl",
           {"-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t", "60", "-o",
            "-k " + dir_ + " -p " + kPort + " -c listen_addresses= -c fsync=" +
                (fsync_ ? "on" : "off") + " -c max_connections=200",
            "start"},
           &output))
    throw std::runtime_error("the PostgreSQL server did not start: " + output);
  running_ = true;
}

bool PostgresServer::halt(std::string *output) {
  running_ = false;
  return run("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "stop"}, output);
}

void PostgresServer::stop() {
  std::string output;
  if (!halt(&output)) throw std::runtime_error("the PostgreSQL server did not stop: " + output);
}

std::string PostgresServer::conninfo() const {
  return "host=" + dir_ + " port=" + kPort + " dbname=postgres user=" + kUser;
}

std::string PostgresServer::conninfo_with_password(const std::string &password) const {
  return conninfo() + " password=" + password;
}

}  // namespace test
