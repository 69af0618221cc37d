#!/usr/bin/env bash
# A throw-away S3-compatible server for the tests: `s3s-fs` (crates.io, built by
# scripts/install-tools.sh) on a private port, over a fresh folder, with one bucket.
#   source scripts/s3.sh && start_test_s3   # exports TEST_S3_URL and the AWS_* variables
#   stop_test_s3                            # stops it and deletes its folder
# shellcheck shell=bash

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

start_test_s3() {
  local port=${TEST_S3_PORT:-54330}
  [ -x "$S3S_FS" ] || { echo "s3s-fs is not installed at $S3S_FS (scripts/install-tools.sh builds it)" >&2; return 1; }
  TEST_S3_DIR=$(mktemp -d /tmp/brainscan-s3.XXXXXX)
  mkdir -p "$TEST_S3_DIR/root/brainscan-test"
  export AWS_ACCESS_KEY_ID=brainscan-test AWS_SECRET_ACCESS_KEY=brainscan-test-secret
  export AWS_REGION=us-east-1 AWS_ENDPOINT="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
  "$S3S_FS" --host 127.0.0.1 --port "$port" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" "$TEST_S3_DIR/root" >"$TEST_S3_DIR/server.log" 2>&1 &
  TEST_S3_PID=$!
  local tries=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    tries=$((tries + 1))
    if [ $tries -gt 100 ] || ! kill -0 "$TEST_S3_PID" 2>/dev/null; then
      cat "$TEST_S3_DIR/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
  export TEST_S3_DIR TEST_S3_PID TEST_S3_URL="s3://brainscan-test"
  echo "s3s-fs on 127.0.0.1:$port ($TEST_S3_DIR), bucket brainscan-test"
}

stop_test_s3() {
  [ -n "${TEST_S3_PID:-}" ] || return 0
  kill "$TEST_S3_PID" 2>/dev/null || true
  wait "$TEST_S3_PID" 2>/dev/null || true
  rm -rf "$TEST_S3_DIR"
  unset TEST_S3_DIR TEST_S3_PID TEST_S3_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
    AWS_ENDPOINT AWS_ALLOW_HTTP
}
