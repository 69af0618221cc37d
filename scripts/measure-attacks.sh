#!/usr/bin/env bash
# The attack figures of issue 30 on the release build: (1) disk growth (database + log) while 10
# clients without credentials send refused requests for 30 s to a closed deployment; (2) another
# client's /predict p50/p95 while one client sends 64-image batches in a loop (4 connections) for
# 30 s, with the prediction budget raised so the limiter does not stop the flood (the fair queue
# alone has to keep the other client served). Prints one JSON line per figure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/env.sh
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -p brainscan
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo run --release -q -p synthetic --example phantom_jpeg -- "$work/slice.jpg" 7 512

start() { # start NAME PORT EXTRA_ENV...
  local name=$1 port=$2
  shift 2
  mkdir -p "$work/$name"
  env HOST=127.0.0.1 PORT=$port DATA_ROOT="$work/$name" "$@" \
    "$TARGET_DIR/release/brainscan" serve >"$work/$name.log" 2>&1 &
  for _ in $(seq 1 150); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$work/$name.log"
  return 1
}

start closed 8311 PUBLIC_READ=false
echo "refused-request flood, 10 clients, 30 s:"
PORT=8311 DATA_ROOT="$work/closed" SERVER_LOG="$work/closed.log" SLICE_JPEG="$work/slice.jpg" \
  python3 scripts/measure-attacks.py refused

start open 8312 PREDICT_PER_MINUTE=1000000
echo "/predict from one client while another floods 64-image batches, 30 s:"
PORT=8312 DATA_ROOT="$work/open" SERVER_LOG="$work/open.log" SLICE_JPEG="$work/slice.jpg" \
  python3 scripts/measure-attacks.py batches
