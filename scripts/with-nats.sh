#!/usr/bin/env bash
# Run a command with a throwaway nats-server (JetStream, file storage in a temporary directory, loopback
# only), installed from Debian's package `nats-server` if missing, stopped and deleted when the command ends.
# The command sees ZASLON_TEST_NATS_URL, and ZASLON_TEST_NATS_BIN / ZASLON_TEST_NATS_ARGS to restart the same
# server itself (the fault tests stop and restart it mid-stream).
#
# Why Debian's package: it is in bookworm's main archive (2.9.10, JetStream included), installed and updated
# by apt like PostgreSQL is for scripts/with-postgres.sh, signed by Debian; a PyPI repackaging would be one
# more unofficial binary to trust and pin.
set -euo pipefail

NATS_BIN=$(command -v nats-server || true)
if [ -z "$NATS_BIN" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "nats-server is not installed and this user cannot install it: run 'sudo apt-get install nats-server'" >&2
    exit 2
  fi
  echo "installing nats-server from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends nats-server >/dev/null
  NATS_BIN=$(command -v nats-server)
fi

NATS_DIR=$(mktemp -d /tmp/zaslon-nats.XXXXXX)
PORT=${ZASLON_TEST_NATS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}
ARGS="-a 127.0.0.1 -p $PORT -js -sd $NATS_DIR/js --pid $NATS_DIR/nats.pid -l $NATS_DIR/nats.log"

cleanup() {
  if [ -f "$NATS_DIR/nats.pid" ]; then kill "$(cat "$NATS_DIR/nats.pid")" 2>/dev/null || true; fi
  [ -n "${NATS_PID:-}" ] && kill "$NATS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$NATS_DIR"
}
trap cleanup EXIT INT TERM

# shellcheck disable=SC2086
"$NATS_BIN" $ARGS &
NATS_PID=$!
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$PORT)))"; then
    break
  fi
  sleep 0.05
done

export ZASLON_TEST_NATS_URL="nats://127.0.0.1:$PORT"
export ZASLON_TEST_NATS_BIN="$NATS_BIN"
export ZASLON_TEST_NATS_ARGS="$ARGS"
echo "throwaway nats-server on 127.0.0.1:$PORT ($NATS_DIR)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
