#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A throwaway PostgreSQL server, for trying a fleet's store (the `store`
# property, GROKIMAGINE_STORE) on one machine; the tests and the benchmark
# start theirs with it too. It listens only on a unix socket in its
# directory (no TCP), trusts its own user, and keeps nothing worth keeping.
#
#   eval "$(scripts/postgres.sh start [DIR])"   # prints export GROKIMAGINE_STORE=...
#   eval "$(scripts/postgres.sh stop [DIR])"    # stops it, removes DIR, unsets it
#   scripts/postgres.sh down [DIR]              # stops it, keeping its data for a start
#
# DIR defaults to build/postgres. The server refuses to run as root: as root
# (CI, containers) it runs as the packaged `postgres` user, which owns DIR.
# Commits are not flushed to the disk (fsync off) unless POSTGRES_FSYNC=on (the
# benchmark, set against the journal's fsynced files). A real fleet points
# GROKIMAGINE_STORE at its own server instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
action="${1:-}"
dir="${2:-${BUILD_DIR:-$root/build}/postgres}"
port=5432  # names the socket file only
user=grokimagine

bindir="$(pg_config --bindir 2>/dev/null || true)"
[ -x "$bindir/postgres" ] || bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ ! -x "$bindir/postgres" ]; then
  echo "postgres.sh: no PostgreSQL server (package postgresql; scripts/install-deps.sh installs it)" >&2
  exit 1
fi

as_server() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_server "$bindir/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --no-sync \
      --no-instructions >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  # fsync off: a throwaway server's data need not survive the machine.
  as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p $port -c listen_addresses= -c fsync=${POSTGRES_FSYNC:-off} -c max_connections=200" \
    start >&2 ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "export GROKIMAGINE_STORE='host=$dir port=$port dbname=postgres user=$user'"
}

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  fi
}

case "$action" in
  start) start ;;
  down) stop ;;
  stop)
    stop
    rm -rf "$dir"
    echo "unset GROKIMAGINE_STORE"
    ;;
  *)
    echo "usage: eval \"\$($0 start|stop [DIR])\", or $0 down [DIR]" >&2
    exit 2
    ;;
esac
