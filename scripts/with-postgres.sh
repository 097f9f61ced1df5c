#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster: installed from Debian's packages if missing,
# initialised in a temporary directory as a non-root user, listening on loopback only, stopped and
# deleted when the command ends. The command sees ZASLON_TEST_POSTGRES_URL.
set -euo pipefail

find_pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

PG_BIN=$(find_pg_bin || true)
if [ -z "$PG_BIN" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed and this user cannot install it: run 'sudo apt-get install postgresql'" >&2
    exit 2
  fi
  echo "installing PostgreSQL from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  PG_BIN=$(find_pg_bin)
fi

RUN_AS=()
PG_USER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: use the postgres account the Debian package creates, or make one.
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  PG_USER=postgres
  RUN_AS=(runuser -u postgres --)
fi

PG_DIR=$(mktemp -d /tmp/zaslon-pg.XXXXXX)
chmod 755 "$PG_DIR"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$PG_DIR"
PORT=${ZASLON_TEST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}

cleanup() {
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT INT TERM

"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U zaslon --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 \
  || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
  || { cat "$PG_DIR/server.log" >&2; exit 1; }
"$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U zaslon -d postgres -qc "CREATE DATABASE zaslon_test" >/dev/null

export ZASLON_TEST_POSTGRES_URL="postgresql+psycopg://zaslon@127.0.0.1:$PORT/zaslon_test"
# The fault tests restart this cluster mid-stream (same data directory, port and options).
export ZASLON_TEST_PG_RESTART="${RUN_AS[*]} $PG_BIN/pg_ctl -D $PG_DIR/data -l $PG_DIR/server.log -w -m fast restart"
echo "throwaway PostgreSQL on 127.0.0.1:$PORT ($PG_DIR)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
