#!/usr/bin/env bash
# Predictions/s with one and with two web replicas on PostgreSQL, against one replica on SQLite, with
# the goose scenario of scripts/load-test.sh (USERS users in all, split evenly over the replicas, each
# replica driven by its own load generator). Also the CPU PostgreSQL used per prediction. All on this
# machine: the replicas, the database and the load generators share its cores, so two replicas are
# not expected to be faster; the point is that they work, and what the database costs. The last row
# repeats two replicas with uploads and versions in an S3 bucket (s3s-fs) and no shared folder.
#   USERS=50 RUN_TIME=30s bash scripts/measure-replicas.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/env.sh
source scripts/postgres.sh
source scripts/s3.sh
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
USERS=${USERS:-50}
RUN_TIME=${RUN_TIME:-30s}
REPORTS="$ROOT/loadtest/reports"
mkdir -p "$REPORTS"

cargo build --release -p brainscan
cargo build --release -p loadtest
start_test_postgres
start_test_s3
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_test_s3
  stop_test_postgres
  rm -rf "$work"
}
trap cleanup EXIT

# CPU seconds (user + system) used so far by every process of the PostgreSQL server.
postgres_cpu() {
  local total=0 pid
  for pid in $(pgrep -u postgres -f "postgres" || true); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{printf "%.2f", t + ($14 + $15) / hz}' "/proc/$pid/stat")
  done
  echo "$total"
}

# start_replica NAME PORT DATABASE_URL [DATA_ROOT]: a release server, by default sharing $work's
# folders.
start_replica() {
  RUST_LOG=warn HOST=127.0.0.1 PORT=$2 DATA_ROOT="${4:-$work/data}" DATABASE_URL=$3 \
    PREDICT_PER_MINUTE=1000000 READS_PER_MINUTE=1000000 "$TARGET_DIR/release/brainscan" serve --no-worker >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do
    curl -fs "http://127.0.0.1:$2/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "replica $1 did not start"; cat "$work/$1.log"; exit 1
}

# run_load LABEL PORT...: USERS users split over the given replicas, all at once; prints a table row.
run_load() {
  local label=$1; shift
  local share=$((USERS / $#)) port runs=()
  local cpu_before
  cpu_before=$(postgres_cpu)
  for port in "$@"; do
    LOADTEST_SUMMARY="$work/summary-$port.json" "$TARGET_DIR/release/loadtest" \
      --host "http://127.0.0.1:$port" --users "$share" --hatch-rate "$share" --run-time "$RUN_TIME" \
      --quiet >"$work/goose-$port.txt" 2>&1 &
    runs+=($!)
  done
  for pid in "${runs[@]}"; do wait "$pid"; done
  local cpu_used
  cpu_used=$(echo "$(postgres_cpu) - $cpu_before" | bc)
  python3 - "$label" "$cpu_used" "$@" <<'PY'
import json, os, sys
label, cpu = sys.argv[1], float(sys.argv[2])
work = os.environ["WORK"]
summaries = [json.load(open(f"{work}/summary-{port}.json")) for port in sys.argv[3:]]
per_second = sum(s["predictions_per_second"] for s in summaries)
predictions = per_second * summaries[0]["seconds"]
p50 = max(s["overall"]["p50_ms"] for s in summaries)
p99 = max(s["overall"]["p99_ms"] for s in summaries)
failures = sum(s["overall"]["failures"] for s in summaries)
postgres = f"{1000 * cpu / predictions:.2f}" if cpu > 0 and predictions else "-"
print(f"| {label} | {per_second:.1f} | {p50} | {p99} | {failures} | {postgres} |")
PY
}

export WORK=$work
{
  echo "# Replicas, $(date -u +%Y-%m-%dT%H:%MZ): $USERS users in all, $RUN_TIME, $(nproc) cores shared by everything"
  echo
  echo "| setup | predictions/s | p50 ms (worst replica) | p99 ms (worst replica) | failures | PostgreSQL CPU ms per prediction |"
  echo "|---|---|---|---|---|---|"
} >"$REPORTS/replicas.md"

start_replica sqlite 8301 "sqlite://$work/data/app.db"
run_load "1 replica, SQLite" 8301 >>"$REPORTS/replicas.md"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

"$TEST_POSTGRES_BIN/psql" "$TEST_POSTGRES_URL" -qc "CREATE DATABASE brainscan" >/dev/null
pg_url="${TEST_POSTGRES_URL%/*}/brainscan"
start_replica postgres-a 8302 "$pg_url"
run_load "1 replica, PostgreSQL" 8302 >>"$REPORTS/replicas.md"
start_replica postgres-b 8303 "$pg_url"
run_load "2 replicas, PostgreSQL" 8302 8303 >>"$REPORTS/replicas.md"
for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done; pids=()

"$TEST_POSTGRES_BIN/psql" "$TEST_POSTGRES_URL" -qc "CREATE DATABASE brainscan_s3" >/dev/null
export STORAGE_URL="$TEST_S3_URL/measure"
start_replica s3-a 8304 "${TEST_POSTGRES_URL%/*}/brainscan_s3" "$work/s3-a"
start_replica s3-b 8305 "${TEST_POSTGRES_URL%/*}/brainscan_s3" "$work/s3-b"
run_load "2 replicas, PostgreSQL + S3 bucket" 8304 8305 >>"$REPORTS/replicas.md"
unset STORAGE_URL
cat "$REPORTS/replicas.md"
