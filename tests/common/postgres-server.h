// SPDX-License-Identifier: LGPL-2.1-or-later
// A real PostgreSQL server of our own, for the store's tests and the bench:
// scripts/postgres.sh in a temporary directory (a unix socket there, no
// TCP, trust for its own user; as root the packaged `postgres` user runs
// it), stopped and removed at the end, or when the process ends. What
// cannot be done throws std::runtime_error with the script's words
// (tests/check/postgres.h turns that into a test failure).
#pragma once

#include <string>

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
  const std::string &conninfo() const { return conninfo_; }
  // The same, with a password libpq sends only if the server asks (trust
  // never does): for tests that check it is never shown.
  std::string conninfo_with_password(const std::string &password) const;
  void stop();   // fast shutdown: clients' connections are cut
  void start();  // again, on the same data and socket

 private:
  std::string dir_;  // the script's DIR: data, socket, log
  std::string conninfo_;
  bool fsync_ = false;
  int watchdog_fd_ = -1;  // its end stops the server (the constructor says why)
};

}  // namespace test
