// SPDX-License-Identifier: LGPL-2.1-or-later
// The PostgreSQL server of tests/common/postgres-server.h for the store's
// tests: what cannot be done fails the test with the server's words.
#pragma once

#include "postgres-server.h"

namespace test {

class Postgres : public PostgresServer {
 public:
  // As the server's, with a failed test instead of an exception.
  Postgres();
  void stop();
  void start();
};

}  // namespace test
