#!/usr/bin/env bash
# Runs every HTTP test binary of the server (real servers on real sockets, tests in parallel
# threads as `cargo test` runs them) N times (default 20), stopping at the first failure: the check
# that server-rendered pages never hang when several servers share one test process.
#   bash scripts/repeat-http-tests.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/env.sh
runs=${1:-20}
mapfile -t binaries < <(
  cargo test -p brainscan --tests --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    target = message.get("target", {})
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and target.get("kind") == ["test"] and target.get("name") != "cli":
        print(message["executable"])
')
[ "${#binaries[@]}" -gt 0 ] || { echo "no HTTP test binaries were built" >&2; exit 1; }
cd server
for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  for binary in "${binaries[@]}"; do
    # A hang fails the run instead of blocking it.
    timeout 300 "$binary" -q >/dev/null 2>&1 || { echo "run $run: $(basename "$binary") failed"; exit 1; }
  done
  echo "run $run/$runs: ${#binaries[@]} test binaries passed in $(( $(date +%s) - started )) s"
done
