#!/usr/bin/env bash
# A throw-away S3-compatible server for the tests: `s3s-fs` (crates.io, built by
# scripts/install-tools.sh) on a private port, over a fresh folder, with one bucket.
#   source scripts/s3.sh && start_test_s3   # exports TEST_S3_URL and the AWS_* variables
#   stop_test_s3                            # stops it and deletes its folder
# shellcheck shell=bash

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

start_test_s3() {
  [ -x "$S3S_FS" ] || { echo "s3s-fs is not installed at $S3S_FS (scripts/install-tools.sh builds it)" >&2; return 1; }
  TEST_S3_DIR=$(mktemp -d /tmp/brainscan-s3.XXXXXX)
  mkdir -p "$TEST_S3_DIR/root/brainscan-test"
  export AWS_ACCESS_KEY_ID=brainscan-test AWS_SECRET_ACCESS_KEY=brainscan-test-secret
  export AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
  # The default ports lie below Linux's ephemeral range (32768-60999), where any outgoing connection
  # may hold a port for a while (a CI run once failed on that); a port that is still taken is skipped.
  local port base=${TEST_S3_PORT:-24330}
  for port in $(seq "$base" 2 $((base + 40))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    "$S3S_FS" --host 127.0.0.1 --port "$port" --access-key "$AWS_ACCESS_KEY_ID" \
      --secret-key "$AWS_SECRET_ACCESS_KEY" "$TEST_S3_DIR/root" >"$TEST_S3_DIR/server.log" 2>&1 &
    TEST_S3_PID=$!
    local tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      tries=$((tries + 1))
      if ! kill -0 "$TEST_S3_PID" 2>/dev/null; then break; fi
      if [ $tries -gt 100 ]; then
        cat "$TEST_S3_DIR/server.log" >&2
        return 1
      fi
      sleep 0.1
    done
    if kill -0 "$TEST_S3_PID" 2>/dev/null; then
      export AWS_ENDPOINT="http://127.0.0.1:$port"
      export TEST_S3_DIR TEST_S3_PID TEST_S3_URL="s3://brainscan-test"
      echo "s3s-fs on 127.0.0.1:$port ($TEST_S3_DIR), bucket brainscan-test"
      return 0
    fi
    grep -q "Address already in use" "$TEST_S3_DIR/server.log" || { cat "$TEST_S3_DIR/server.log" >&2; return 1; }
  done
  echo "s3s-fs found no free port from $base" >&2
  return 1
}

stop_test_s3() {
  [ -n "${TEST_S3_PID:-}" ] || return 0
  kill "$TEST_S3_PID" 2>/dev/null || true
  wait "$TEST_S3_PID" 2>/dev/null || true
  rm -rf "$TEST_S3_DIR"
  unset TEST_S3_DIR TEST_S3_PID TEST_S3_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
    AWS_ENDPOINT AWS_ALLOW_HTTP
}
