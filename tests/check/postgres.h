// A real PostgreSQL server for the store's tests: initdb into a temporary
// directory, listening only on a unix socket there (no TCP), trust
// authentication for its own user, stopped and removed at the end. As root
// (CI) it runs as the packaged `postgres` user, which the server requires.
#pragma once

#include <string>
#include <vector>

namespace test {

class Postgres {
 public:
  Postgres();  // initialised and started; fails the test when it cannot be
  ~Postgres();
  Postgres(const Postgres &) = delete;
  Postgres &operator=(const Postgres &) = delete;

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

  std::string bindir_;
  std::string dir_;  // data in dir_/data, the socket and log in dir_
  bool as_postgres_user_ = false;
  bool running_ = false;
};

}  // namespace test
