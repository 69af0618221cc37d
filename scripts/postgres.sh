#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests, from Debian's `postgresql` package: a fresh data
# directory, trust authentication, loopback only, on a private port.
#   source scripts/postgres.sh && start_test_postgres   # exports TEST_POSTGRES_URL
#   stop_test_postgres                                  # stops it and deletes its directory
# shellcheck shell=bash

start_test_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$bin/pg_ctl" ] || { echo "PostgreSQL is not installed (apt-get install postgresql; scripts/install-tools.sh does it)" >&2; return 1; }
  TEST_POSTGRES_DIR=$(mktemp -d /tmp/brainscan-postgres.XXXXXX)
  # PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres` account.
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$TEST_POSTGRES_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$TEST_POSTGRES_DIR/data" --username=brainscan --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$TEST_POSTGRES_DIR/initdb.log" 2>&1 \
    || { cat "$TEST_POSTGRES_DIR/initdb.log" >&2; return 1; }
  # The default ports lie below Linux's ephemeral range (32768-60999), where any outgoing connection
  # may hold a port for a while; a port that is taken is skipped.
  local port base=${TEST_POSTGRES_PORT:-24329} started=""
  for port in $(seq "$base" 2 $((base + 40))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    if "${as[@]}" "$bin/pg_ctl" -D "$TEST_POSTGRES_DIR/data" -l "$TEST_POSTGRES_DIR/server.log" -w \
      -o "-h 127.0.0.1 -p $port -k $TEST_POSTGRES_DIR -c fsync=off -c max_connections=200" start >/dev/null; then
      started=yes
      break
    fi
    grep -q "could not bind\|already in use" "$TEST_POSTGRES_DIR/server.log" \
      || { cat "$TEST_POSTGRES_DIR/server.log" >&2; return 1; }
  done
  [ -n "$started" ] || { echo "PostgreSQL found no free port from $base" >&2; return 1; }
  export TEST_POSTGRES_DIR TEST_POSTGRES_BIN="$bin"
  export TEST_POSTGRES_URL="postgres://brainscan@127.0.0.1:$port/postgres"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($TEST_POSTGRES_DIR)"
}

stop_test_postgres() {
  [ -n "${TEST_POSTGRES_DIR:-}" ] || return 0
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$TEST_POSTGRES_BIN/pg_ctl" -D "$TEST_POSTGRES_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TEST_POSTGRES_DIR"
  unset TEST_POSTGRES_DIR TEST_POSTGRES_URL
}
