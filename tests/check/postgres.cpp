// SPDX-License-Identifier: LGPL-2.1-or-later
#include "postgres.h"

#include <gst/check/gstcheck.h>

#include <stdexcept>

namespace test {

namespace {

// Runs `step`; what it throws fails the test.
template <typename Step>
void or_fail(Step step) {
  try {
    step();
  } catch (const std::runtime_error &failure) {
    ck_abort_msg("%s", failure.what());
  }
}

}  // namespace

// A function-try-block: the server's constructor is what throws.
Postgres::Postgres() try : PostgresServer() {
} catch (const std::runtime_error &failure) {
  ck_abort_msg("%s", failure.what());
}

void Postgres::stop() {
  or_fail([this] { PostgresServer::stop(); });
}

void Postgres::start() {
  or_fail([this] { PostgresServer::start(); });
}

}  // namespace test
