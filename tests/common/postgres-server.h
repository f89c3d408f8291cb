// A real PostgreSQL server of our own, for the store's tests and the bench:
// initdb into a temporary directory, listening only on a unix socket there
// (no TCP), trust authentication for its own user, stopped and removed at
// the end. As root (CI) it runs as the packaged `postgres` user, which the
// server requires. What cannot be done throws std::runtime_error with the
// server's words (tests/check/postgres.h turns that into a test failure).
#pragma once

#include <string>
#include <vector>

namespace test {

class PostgresServer {
 public:
  // Initialised and started. With `fsync`, commits reach the disk as a
  // production server's do (the bench, set against the journal's fsynced
  // files); a test's data need not survive the machine.
  explicit PostgresServer(bool fsync = false);
  ~PostgresServer();
  PostgresServer(const PostgresServer &) = delete;
  PostgresServer &operator=(const PostgresServer &) = delete;

  // What a client gives libpq: the socket directory, port, database, user.
  std::string conninfo() const;
  // The same, with a password libpq sends only if the server asks (trust
  // never does): for tests that check it is never shown.
  std::string conninfo_with_password(const std::string &password) const;
  void stop();   // fast shutdown: clients' connections are cut
  void start();  // again, on the same data and socket

 private:
  // Runs a server program (as the server's user when root); false on failure.
  bool run(const std::string &program, const std::vector<std::string> &args,
           std::string *output) const;
  bool halt(std::string *output);  // stop(), for the destructor too

  std::string bindir_;
  std::string dir_;  // data in dir_/data, the socket and log in dir_
  bool fsync_ = false;
  bool as_postgres_user_ = false;
  bool running_ = false;
};

}  // namespace test
