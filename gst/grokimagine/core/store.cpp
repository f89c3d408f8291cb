// SPDX-License-Identifier: LGPL-2.1-or-later
#include "store.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "log.h"
#include "pacing.h"
#include "prices.h"
#include "request.h"

namespace grokimagine {

namespace {

using Clock = std::chrono::steady_clock;

// SQLSTATEs the store's answers are told apart by.
constexpr const char *kLockNotAvailable = "55P03";  // lock_timeout passed
constexpr const char *kQueryCanceled = "57014";     // statement_timeout passed

// The schema: entries by fingerprint, the history of each description's
// earlier jobs, and the version these tables are at. Made on first use
// under a transaction lock, so that machines starting together make it once.
constexpr const char *kSchema =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7164951235817029221);"
    "CREATE TABLE IF NOT EXISTS grokimagine_schema (version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS grokimagine_jobs ("
    " fingerprint text PRIMARY KEY, state text NOT NULL, created bigint NOT NULL,"
    " updated bigint NOT NULL, request_id text NOT NULL, entry jsonb NOT NULL);"
    "CREATE TABLE IF NOT EXISTS grokimagine_job_history ("
    " fingerprint text NOT NULL, request_id text NOT NULL, created bigint NOT NULL,"
    " entry jsonb NOT NULL, PRIMARY KEY (fingerprint, request_id));"
    "CREATE TABLE IF NOT EXISTS grokimagine_spending ("
    " scope text NOT NULL, fingerprint text NOT NULL, created bigint NOT NULL,"
    " reserved_usd double precision NOT NULL, cost_usd double precision,"
    " PRIMARY KEY (scope, fingerprint, created));"
    "CREATE TABLE IF NOT EXISTS grokimagine_pacing ("
    " bucket text PRIMARY KEY, next_free timestamptz NOT NULL);"
    "INSERT INTO grokimagine_schema SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM grokimagine_schema);"
    "COMMIT;"
    "SELECT max(version) FROM grokimagine_schema;";

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

// The store's name in messages: where it is and who connects, never the
// password (nor anything else the connection string holds).
std::string name_of(PQconninfoOption *options) {
  std::string name;
  for (const char *key : {"host", "hostaddr", "port", "dbname", "user"})
    for (PQconninfoOption *option = options; option->keyword; option++)
      if (g_str_equal(option->keyword, key) && option->val && *option->val)
        name += std::string(name.empty() ? "" : " ") + key + "=" + option->val;
  return "the job store (PostgreSQL" + (name.empty() ? std::string() : " " + name) + ")";
}

// A dollar figure as PostgreSQL reads it, whatever the locale's decimal mark.
std::string decimal(double value) {
  gchar text[G_ASCII_DTOSTR_BUF_SIZE];
  return g_ascii_dtostr(text, sizeof text, value);
}

// Whether this process has made or checked the schema of the store named
// `name` (with `now`: it has).
bool schema_checked(const std::string &name, bool now = false) {
  static std::mutex mutex;
  static std::set<std::string> checked;
  std::lock_guard<std::mutex> hold(mutex);
  if (now) checked.insert(name);
  return checked.count(name) > 0;
}

// The advisory lock of a fingerprint: its first 64 bits.
std::string lock_key(const std::string &fingerprint) {
  return std::to_string(gint64(g_ascii_strtoull(fingerprint.substr(0, 16).c_str(), nullptr, 16)));
}

// One connection to the store, used by one thread at a time (its owner's
// mutex), connected on first use and again after a loss.
class Connection {
 public:
  Connection(std::string conninfo, std::string name, std::chrono::milliseconds timeout)
      : conninfo_(std::move(conninfo)), name_(std::move(name)), timeout_(timeout) {}
  ~Connection() { close(); }
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;

  // Runs `sql` (with `params` as $1, $2, ...; none: several statements may
  // follow one another) and gives the last statement's result. `wait`
  // bounds the wait beyond the statement timeout (a lock's). When it
  // failed, `sqlstate` says why, when the server answered.
  Result<PgResult> exec(const std::string &sql, const std::vector<std::string> &params,
                        GCancellable *cancellable, std::string *sqlstate = nullptr,
                        std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {
    if (auto error = connected(cancellable)) return *error;
    const auto deadline = Clock::now() + timeout_ + wait + std::chrono::seconds(1);
    std::vector<const char *> values;
    for (const auto &param : params) values.push_back(param.c_str());
    const int sent = params.empty()
                         ? PQsendQuery(conn_, sql.c_str())
                         : PQsendQueryParams(conn_, sql.c_str(), int(values.size()), nullptr,
                                             values.data(), nullptr, nullptr, 0);
    if (!sent) return lost();
    for (int flushed; (flushed = PQflush(conn_)) != 0;) {
      if (flushed < 0) return lost();
      if (auto error = wait_socket(true, deadline, cancellable)) {
        close();
        return *error;
      }
    }
    PgResult last(nullptr, PQclear);
    PgResult failed(nullptr, PQclear);
    for (;;) {
      if (!PQconsumeInput(conn_)) return lost();
      while (!PQisBusy(conn_)) {
        PGresult *result = PQgetResult(conn_);
        if (!result) {
          if (!failed) return last;
          const char *state = PQresultErrorField(failed.get(), PG_DIAG_SQLSTATE);
          if (sqlstate) *sqlstate = state ? state : "";
          return Error::io(name_ + ": " + trimmed(PQresultErrorMessage(failed.get())));
        }
        const ExecStatusType status = PQresultStatus(result);
        if (status == PGRES_FATAL_ERROR && !failed)
          failed.reset(result);
        else
          last.reset(result);
      }
      if (auto error = wait_socket(false, deadline, cancellable)) {
        // Stopped, or the server went silent: the connection (with any
        // lock it held) is let go. Not PQcancel: it connects anew, with no
        // bound of ours, to a server that may be out of reach; the server
        // ends the statement when it finds its client gone.
        close();
        return *error;
      }
    }
  }

  void close() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }

  const std::string &name() const { return name_; }

  // Connected, outside any transaction: fit for another job or lock.
  bool reusable() const {
    return conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }

 private:
  static std::string trimmed(const char *message) {
    std::string text(message ? message : "");
    while (!text.empty() && g_ascii_isspace(text.back())) text.pop_back();
    return text;
  }

  // The connection is gone: why, once it is closed.
  Error lost() {
    Error error = Error::io(name_ + " was lost: " + trimmed(PQerrorMessage(conn_)));
    close();
    return error;
  }

  // Waits until the socket can be written (or read); an error when the
  // deadline passes, or cancelled when `cancellable` fires.
  std::optional<Error> wait_socket(bool write, Clock::time_point deadline,
                                   GCancellable *cancellable) {
    GPollFD fds[2] = {{PQsocket(conn_), gushort(write ? G_IO_OUT : G_IO_IN), 0}, {}};
    const bool cancellable_fd = cancellable && g_cancellable_make_pollfd(cancellable, &fds[1]);
    std::optional<Error> error;
    for (;;) {
      if (g_cancellable_is_cancelled(cancellable)) {
        error = Error::cancelled();
        break;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        error = Error::timeout(name_ + " did not answer in time");
        break;
      }
      fds[0].revents = 0;
      const int ready = g_poll(fds, cancellable_fd ? 2 : 1, gint(left));
      if (ready > 0 && fds[0].revents) break;
    }
    if (cancellable_fd) g_cancellable_release_fd(cancellable);
    return error;
  }

  // Connects when not connected; why not when it cannot.
  std::optional<Error> connected(GCancellable *cancellable) {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return std::nullopt;
    close();
    const auto deadline = Clock::now() + timeout_;
    const std::string seconds =
        std::to_string(std::max<long long>(1, (timeout_.count() + 999) / 1000));
    const char *keys[] = {"dbname", "fallback_application_name", "connect_timeout", nullptr};
    const char *values[] = {conninfo_.c_str(), "grokimagine", seconds.c_str(), nullptr};
    conn_ = PQconnectStartParams(keys, values, 1);
    if (!conn_) return Error::io(name_ + " cannot be reached: out of memory");
    PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
    while (polling != PGRES_POLLING_OK) {
      if (PQstatus(conn_) == CONNECTION_BAD || polling == PGRES_POLLING_FAILED) {
        Error error = Error::io(name_ + " cannot be reached: " + trimmed(PQerrorMessage(conn_)));
        close();
        return error;
      }
      if (auto error = wait_socket(polling == PGRES_POLLING_WRITING, deadline, cancellable)) {
        if (error->kind == ErrorKind::Timeout)
          error = Error::io(name_ + " cannot be reached: no answer within " +
                            std::to_string(timeout_.count()) + " ms");
        close();
        return error;
      }
      polling = PQconnectPoll(conn_);
    }
    PQsetnonblocking(conn_, 1);
    // The server's notices (a table that exists already) go to the debug
    // log, not to the application's stderr.
    PQsetNoticeProcessor(
        conn_,
        [](void *, const char *message) {
          GST_CAT_LOG(grokimagine_core_debug, "store: %s", message);
        },
        nullptr);
    GST_CAT_DEBUG(grokimagine_core_debug, "connected to %s", name_.c_str());
    // Every statement bounded, on the server too; the schema checked (and
    // made) once per store in a process.
    const bool schema_known = schema_checked(name_);
    auto version = exec("SET statement_timeout = " + std::to_string(timeout_.count()) + ";" +
                            (schema_known ? std::string() : kSchema),
                        {}, cancellable);
    if (!version.ok()) return version.error();
    if (schema_known) return std::nullopt;
    const PGresult *rows = version->get();
    const int found = PQntuples(rows) == 1 ? std::atoi(PQgetvalue(rows, 0, 0)) : 0;
    if (found > kStoreSchemaVersion) {
      Error error = Error::io(name_ + " holds schema version " + std::to_string(found) +
                              ", newer than this plugin's (" + std::to_string(kStoreSchemaVersion) +
                              "): update the plugin on this machine");
      close();
      return error;
    }
    schema_checked(name_, true);
    return std::nullopt;
  }

  std::string conninfo_;
  std::string name_;
  std::chrono::milliseconds timeout_;
  PGconn *conn_ = nullptr;
};

// Idle connections to each store, kept for the next job and the next lock:
// connecting (over TCP, with TLS) is most of what a claim costs. A
// connection goes back only fit for use (reusable()), so never holding a
// lock or a transaction; a few per store, the rest closed.
std::shared_ptr<Connection> take_connection(const std::string &conninfo, const std::string &name,
                                            std::chrono::milliseconds timeout) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  constexpr std::size_t kIdlePerStore = 4;
  const std::string key = std::to_string(timeout.count()) + " " + conninfo;
  std::unique_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> hold(mutex);
    auto &kept = idle[key];
    if (!kept.empty()) {
      connection = std::move(kept.back());
      kept.pop_back();
    }
  }
  if (!connection) connection = std::make_unique<Connection>(conninfo, name, timeout);
  return std::shared_ptr<Connection>(connection.release(), [key](Connection *returned) {
    std::unique_ptr<Connection> owned(returned);
    if (!owned->reusable()) return;
    std::lock_guard<std::mutex> hold(mutex);
    auto &kept = idle[key];
    if (kept.size() < kIdlePerStore) kept.push_back(std::move(owned));
  });
}

class PostgresStore : public EntryStore, public SharedSchedule {
 public:
  PostgresStore(std::string conninfo, std::string name, std::chrono::milliseconds timeout)
      : conninfo_(std::move(conninfo)),
        name_(std::move(name)),
        timeout_(timeout),
        connection_(take_connection(conninfo_, name_, timeout_)) {}

  Result<std::function<void()>> lock(const std::string &fingerprint, guint wait_ms,
                                     GCancellable *cancellable) override {
    // A connection of the lock's own: the lock lives as long as it does,
    // and a machine that dies lets go of it with its connection.
    auto held = take_connection(conninfo_, name_, timeout_);
    const std::string key = lock_key(fingerprint);
    // The wait is the lock's (lock_timeout), not a statement's.
    const std::string sql = "BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = " +
                            std::to_string(std::max(1u, wait_ms)) + "; SELECT pg_advisory_lock(" +
                            key + "); COMMIT;";
    std::string sqlstate;
    auto locked = held->exec(sql, {}, cancellable, &sqlstate, std::chrono::milliseconds(wait_ms));
    if (!locked.ok()) {
      if (sqlstate == kLockNotAvailable)
        return Error::timeout("another pipeline is submitting the same job (journal entry " +
                              fingerprint + " in " + name_ + ") and has not finished within " +
                              std::to_string(wait_ms / 1000) + " s");
      return locked.error();
    }
    GST_CAT_DEBUG(grokimagine_core_debug, "journal %s: held in %s", fingerprint.c_str(),
                  name_.c_str());
    return std::function<void()>([held, key] {
      // Closing the connection would release it too (as a failure here
      // does); unlocking keeps no connection waiting on the server for its
      // end.
      held->exec("SELECT pg_advisory_unlock(" + key + ")", {}, nullptr);
    });
  }

  Result<std::optional<JournalEntry>> read(const std::string &fingerprint) override {
    std::lock_guard<std::mutex> hold(mutex_);
    auto result = connection_->exec(
        "SELECT entry::text FROM grokimagine_jobs WHERE fingerprint = $1", {fingerprint}, nullptr);
    if (!result.ok()) return result.error();
    const PGresult *rows = result->get();
    if (PQntuples(rows) != 1) return std::optional<JournalEntry>();
    return journal_entry_from_json(PQgetvalue(rows, 0, 0));
  }

  std::optional<Error> write(const JournalEntry &entry, const ScopedBudget *budget) override {
    std::lock_guard<std::mutex> hold(mutex_);
    const std::string created = std::to_string(entry.created);
    auto upsert = [&] {
      return run(
          "INSERT INTO grokimagine_jobs (fingerprint, state, created, updated, request_id, entry) "
          "VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (fingerprint) DO UPDATE SET "
          "state = EXCLUDED.state, created = EXCLUDED.created, updated = EXCLUDED.updated, "
          "request_id = EXCLUDED.request_id, entry = EXCLUDED.entry",
          {entry.fingerprint, journal_state_name(entry.state), created,
           std::to_string(entry.updated), entry.request_id, journal_entry_to_json(entry)});
    };
    if (auto refused = budget ? reserve_and(*budget, entry, upsert) : upsert()) return refused;
    // The provider's figure replaces the estimate reserved for the job.
    if (entry.cost_source == "provider" && entry.cost_usd >= 0)
      if (auto error = run("UPDATE grokimagine_spending SET cost_usd = $3 WHERE fingerprint = $1 "
                           "AND created = $2",
                           {entry.fingerprint, created, decimal(entry.cost_usd)}))
        return error;
    GST_CAT_DEBUG(grokimagine_core_debug, "journal %s: %s in %s", entry.fingerprint.c_str(),
                  journal_state_name(entry.state), name_.c_str());
    return std::nullopt;
  }

  void remove(const std::string &fingerprint) override {
    std::lock_guard<std::mutex> hold(mutex_);
    // A job removed before its submit left was never paid: its reservation
    // goes with it.
    auto error =
        run("DELETE FROM grokimagine_spending s USING grokimagine_jobs j WHERE "
            "j.fingerprint = $1 AND j.state = 'submitting' AND s.fingerprint = "
            "j.fingerprint AND s.created = j.created AND s.cost_usd IS NULL",
            {fingerprint});
    if (!error) error = run("DELETE FROM grokimagine_jobs WHERE fingerprint = $1", {fingerprint});
    if (error)
      GST_CAT_WARNING(grokimagine_core_debug, "journal %s not removed: %s", fingerprint.c_str(),
                      error->message.c_str());
  }

  std::optional<Error> archive(const JournalEntry &entry, std::size_t keep) override {
    std::lock_guard<std::mutex> hold(mutex_);
    // Kept, then the oldest beyond `keep` of its description go.
    if (auto error = run("INSERT INTO grokimagine_job_history (fingerprint, request_id, created, "
                         "entry) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
                         {entry.fingerprint, entry.request_id, std::to_string(entry.created),
                          journal_entry_to_json(entry)}))
      return error;
    return run(
        "DELETE FROM grokimagine_job_history WHERE fingerprint = $1 AND "
        "request_id NOT IN (SELECT request_id FROM grokimagine_job_history "
        "WHERE fingerprint = $1 ORDER BY created DESC, request_id DESC LIMIT $2)",
        {entry.fingerprint, std::to_string(keep)});
  }

  Result<std::vector<JournalEntry>> list() override {
    std::lock_guard<std::mutex> hold(mutex_);
    auto result = connection_->exec(
        "SELECT entry::text, false, created FROM grokimagine_jobs UNION ALL "
        "SELECT entry::text, true, created FROM grokimagine_job_history ORDER BY 3 DESC",
        {}, nullptr);
    if (!result.ok()) return result.error();
    const PGresult *rows = result->get();
    std::vector<JournalEntry> entries;
    for (int row = 0; row < PQntuples(rows); row++) {
      auto entry = journal_entry_from_json(PQgetvalue(rows, row, 0));
      if (!entry) continue;
      entry->archived = PQgetvalue(rows, row, 1)[0] == 't';
      entries.push_back(std::move(*entry));
    }
    return entries;
  }

  std::string describe() const override { return name_; }

  // GCRA: the bucket's next free time moves `spacing` past the later of
  // itself and now, in one statement on the server's clock (machines'
  // clocks need not agree); the slot reserved is the time before the move.
  Result<std::chrono::milliseconds> reserve_slot(const std::string &bucket,
                                                 std::chrono::milliseconds spacing) override {
    std::lock_guard<std::mutex> hold(mutex_);
    auto result = connection_->exec(
        "INSERT INTO grokimagine_pacing AS p (bucket, next_free) VALUES ($1, clock_timestamp() + "
        "make_interval(secs => $2::float8)) ON CONFLICT (bucket) DO UPDATE SET next_free = "
        "greatest(p.next_free, clock_timestamp()) + make_interval(secs => $2::float8) "
        "RETURNING greatest(0, extract(epoch FROM p.next_free - clock_timestamp()) * 1000 - "
        "$2::float8 * 1000)::bigint",
        {sha256_hex(bucket), decimal(spacing.count() / 1000.0)}, nullptr);
    if (!result.ok()) return result.error();
    return std::chrono::milliseconds(g_ascii_strtoll(PQgetvalue(result->get(), 0, 0), nullptr, 10));
  }

  void hold_off(const std::string &bucket, std::chrono::milliseconds delay) override {
    std::lock_guard<std::mutex> hold(mutex_);
    if (auto error = run("INSERT INTO grokimagine_pacing AS p (bucket, next_free) VALUES ($1, "
                         "clock_timestamp() + make_interval(secs => $2::float8)) ON CONFLICT "
                         "(bucket) DO UPDATE SET next_free = greatest(p.next_free, "
                         "EXCLUDED.next_free)",
                         {sha256_hex(bucket), decimal(delay.count() / 1000.0)}))
      GST_CAT_WARNING(grokimagine_core_debug, "the fleet's hold-off was not recorded: %s",
                      error->message.c_str());
  }

 private:
  // In one transaction, under the scope's lock (machines reserving at once
  // take turns): what the scope has spent (the provider's figure where
  // known, else the reservation), the refusal when `entry`'s reservation
  // would pass the budget, else the reservation and `write`. Under mutex_.
  std::optional<Error> reserve_and(const ScopedBudget &budget, const JournalEntry &entry,
                                   const std::function<std::optional<Error>()> &write) {
    auto failed = [&](const Error &error) {
      run("ROLLBACK", {});
      return error;
    };
    if (auto error = run("BEGIN", {})) return failed(*error);
    if (auto error =
            run("SELECT pg_advisory_xact_lock(" + lock_key(sha256_hex(budget.scope)) + ")", {}))
      return failed(*error);
    auto spent = connection_->exec(
        "SELECT coalesce(sum(coalesce(cost_usd, reserved_usd)), 0) FROM grokimagine_spending "
        "WHERE scope = $1",
        {budget.scope}, nullptr);
    if (!spent.ok()) return failed(spent.error());
    const double so_far = g_ascii_strtod(PQgetvalue(spent->get(), 0, 0), nullptr);
    // A cent's billionth of slack: sums of prices need not add up exactly.
    if (so_far + budget.reserve_usd > budget.budget_usd + 1e-9)
      return failed(Error::of(ErrorKind::InvalidSettings,
                              "Property 'budget' is " + format_usd(budget.budget_usd) +
                                  " for budget-scope '" + budget.scope +
                                  "': the scope's machines have " + "spent or reserved " +
                                  format_usd(so_far) + " (" + name_ + ") and this job would cost " +
                                  format_usd(budget.reserve_usd) + ". Nothing was sent."));
    auto error =
        run("INSERT INTO grokimagine_spending (scope, fingerprint, created, reserved_usd) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            {budget.scope, entry.fingerprint, std::to_string(entry.created),
             decimal(budget.reserve_usd)});
    if (!error) error = write();
    if (!error) error = run("COMMIT", {});
    if (error) return failed(*error);
    GST_CAT_INFO(grokimagine_core_debug,
                 "budget-scope %s: %s reserved, %s spent or reserved before, budget %s",
                 budget.scope.c_str(), format_usd(budget.reserve_usd).c_str(),
                 format_usd(so_far).c_str(), format_usd(budget.budget_usd).c_str());
    return std::nullopt;
  }

  // A statement whose rows are not needed on connection_: why it failed.
  std::optional<Error> run(const std::string &sql, const std::vector<std::string> &params) {
    auto result = connection_->exec(sql, params, nullptr);
    if (!result.ok()) return result.error();
    return std::nullopt;
  }

  const std::string conninfo_;
  const std::string name_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;  // one statement at a time on connection_
  std::shared_ptr<Connection> connection_;
};

}  // namespace

std::string default_store() {
  const gchar *chosen = g_getenv("GROKIMAGINE_STORE");
  return chosen ? chosen : "";
}

Result<std::shared_ptr<EntryStore>> open_store(const std::string &conninfo,
                                               std::chrono::milliseconds timeout) {
  init_logging();
  char *why = nullptr;
  PQconninfoOption *options = PQconninfoParse(conninfo.c_str(), &why);
  // libpq's reason may quote the string, password and all: not repeated.
  PQfreemem(why);
  if (!options)
    return Error::of(ErrorKind::InvalidSettings,
                     "Property 'store' is not a PostgreSQL connection string or URI "
                     "(postgresql://user@host/database, or 'host=... dbname=...').");
  const std::string name = name_of(options);
  PQconninfoFree(options);
  return std::shared_ptr<EntryStore>(std::make_shared<PostgresStore>(conninfo, name, timeout));
}

}  // namespace grokimagine
