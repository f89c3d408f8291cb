// SPDX-License-Identifier: LGPL-2.1-or-later
// The journal of a fleet: entries kept in PostgreSQL (the `store`
// property, GROKIMAGINE_STORE), so that every machine using one key and one
// store pays once for a job, as processes on one machine do with the
// journal's files.
//
// Each fingerprint's entry is held with a session advisory lock, on a
// connection of its own, from the claim until the submit is answered: a
// machine that dies releases it with its connection, and the entry it
// wrote ("submitting") tells the next one that a submit may have left.
// Every statement is bounded by statement_timeout (and the lock's wait by
// lock_timeout); a stop lets go of the connection at once. The password
// comes only from the connection string, PGPASSWORD or ~/.pgpass, and no
// message holds it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "journal.h"

namespace grokimagine {

// GROKIMAGINE_STORE, or empty (the journal's files).
std::string default_store();

// The store named by `conninfo` (a postgresql:// URI or a libpq connection
// string); connects on first use. `timeout` bounds connecting and each
// statement. An error when `conninfo` is not one.
Result<std::shared_ptr<EntryStore>> open_store(const std::string &conninfo,
                                               std::chrono::milliseconds timeout);

// The schema version this plugin writes; a store whose schema is newer is
// refused.
constexpr int kStoreSchemaVersion = 1;

}  // namespace grokimagine
