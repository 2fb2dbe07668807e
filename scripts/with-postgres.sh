#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster: initdb in a temporary
# directory (as the `postgres` user when run as root, since PostgreSQL refuses
# to run as root), listening only on 127.0.0.1 on a free port, fsync and
# synchronous_commit on (the durability the store promises). The command gets
# TALLY_TEST_POSTGRES_URL (a superuser URL to the `postgres` database; tests
# create their own databases). The cluster and its directory are removed when
# the command ends, whatever its outcome.
#
#   bash scripts/with-postgres.sh node --import tsx --test test/postgres/*.test.ts
#
# Uses Debian's PostgreSQL (apt-get install postgresql); PG_BIN overrides where
# its binaries are (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "with-postgres: PostgreSQL not found; install it with: apt-get install postgresql" >&2
  exit 1
fi

as_owner=()
if [ "$(id -u)" = "0" ]; then as_owner=(runuser -u postgres --); fi

cluster="$(mktemp -d -t tally-pg-XXXXXX)"
chmod 755 "$cluster"
if [ "$(id -u)" = "0" ]; then chown postgres: "$cluster"; fi
port="$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"

stop() {
  "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$cluster/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
trap stop EXIT

"${as_owner[@]}" "$PG_BIN/initdb" -D "$cluster/data" -U tally --auth=trust -E UTF8 --no-locale >"$cluster/initdb.log" 2>&1 ||
  { cat "$cluster/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$cluster -c max_connections=300 -c fsync=on -c synchronous_commit=on" \
  >/dev/null || { cat "$cluster/server.log" >&2; exit 1; }

export TALLY_TEST_POSTGRES_URL="postgres://tally@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"
