#!/usr/bin/env bash
# Load test: starts the release server on a throw-away data root, runs the goose scenario
# (loadtest/) at each user count for a bounded time, and writes loadtest/reports/report.md plus
# goose's own per-run reports. Images come from DATA_DIR when set, else generated MRI-like slices.
#   USERS="10 50 100" RUN_TIME=30s bash scripts/load-test.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/env.sh
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
USERS=${USERS:-10 50 100}
RUN_TIME=${RUN_TIME:-30s}
PORT=${LOADTEST_PORT:-8200}
REPORTS="$ROOT/loadtest/reports"
HOST="http://127.0.0.1:$PORT"

# Two builds, not one: built together, the load generator's dependencies would change the server's
# feature set and so the binary under test.
printf '==> cargo build --release -p brainscan; cargo build --release -p loadtest\n'
cargo build --release -p brainscan
cargo build --release -p loadtest
mkdir -p "$REPORTS"
data_root=$(mktemp -d)
# Every simulated user connects from 127.0.0.1, so the per-client rate limit would cap the whole
# run at one client's budget: raised here, for this throw-away server only.
RUST_LOG=warn HOST=127.0.0.1 PORT=$PORT DATA_ROOT="$data_root" PREDICT_PER_MINUTE=1000000 \
  READS_PER_MINUTE=1000000 REFUSED_PER_MINUTE=1000000 \
  "$TARGET_DIR/release/brainscan" serve >"$REPORTS/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data_root"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$HOST/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$HOST/health" >/dev/null || { echo "server did not start"; cat "$REPORTS/server.log"; exit 1; }
rss_idle=$(grep VmRSS /proc/$server/status | awk '{print $2}')

{
  echo "# Load test, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores, server and load generator on the same machine; $RUN_TIME per run after all"
  echo "users started; images: ${DATA_DIR:+dataset JPEGs from $DATA_DIR}${DATA_DIR:-generated 512 px MRI-like JPEGs};"
  echo "pause between a user's requests ${LOADTEST_WAIT_MS:-100-300} ms; batch of ${LOADTEST_BATCH_SIZE:-4}."
  echo "Server RSS at start: $((rss_idle / 1024)) MB."
  echo
  echo "| users | requests/s | predictions/s | p50 ms | p95 ms | p99 ms | failures | server RSS MB |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$REPORTS/report.md"

# CPU seconds (user + system) the server has used so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' /proc/$server/stat; }
cpu_notes=()
for users in $USERS; do
  printf '\n==> %s users for %s\n' "$users" "$RUN_TIME"
  before=$(server_cpu)
  started=$(date +%s.%N)
  LOADTEST_SUMMARY="$REPORTS/summary-$users.json" /usr/bin/time -f '%U %S' -o "$REPORTS/loadgen-cpu-$users.txt" \
    "$TARGET_DIR/release/loadtest" \
    --host "$HOST" --users "$users" --hatch-rate "$users" --run-time "$RUN_TIME" \
    --report-file "$REPORTS/goose-$users.md" --quiet | tee "$REPORTS/run-$users.txt"
  grep -E '^\| [0-9]+ \|' "$REPORTS/run-$users.txt" >>"$REPORTS/report.md"
  wall=$(echo "$(date +%s.%N) - $started" | bc)
  server_used=$(echo "$(server_cpu) - $before" | bc)
  loadgen_used=$(awk '{print $1 + $2}' "$REPORTS/loadgen-cpu-$users.txt")
  cpu_notes+=("$users users: server $(echo "scale=2; $server_used / $wall" | bc) cores, load generator $(echo "scale=2; $loadgen_used / $wall" | bc) cores (of $(nproc))")
done

predictions=$(curl -fs "$HOST/metrics" | python3 -c 'import json,sys; print(json.load(sys.stdin)["predictions_total"])')
rss=$(grep VmRSS /proc/$server/status | awk '{print $2}')
hwm=$(grep VmHWM /proc/$server/status | awk '{print $2}')
{
  echo
  echo "CPU used, averaged over each run's wall time (ramp-up included):"
  for note in "${cpu_notes[@]}"; do echo "- $note"; done
  echo
  echo "After all runs: $predictions predictions recorded; server RSS $((rss / 1024)) MB, peak $((hwm / 1024)) MB."
} >>"$REPORTS/report.md"
cat "$REPORTS/report.md"
