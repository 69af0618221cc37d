#!/usr/bin/env bash
# Every check the project has that needs nothing but a clone: formatting, lints, Rust unit and
# integration tests, the browser tests in Debian's Chromium against the debug server, then the
# release build as the Docker image makes it, smoke-tested and put through the same browser tests.
# Installs missing tools first (idempotent). Checks that need the real dataset are separate:
# scripts/test-dataset.sh (DATA_DIR=...).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/install-tools.sh
source scripts/env.sh
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
started=$(date +%s)

step() { printf '\n==> [%s s] %s\n' "$(($(date +%s) - started))" "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy -p domain -p synthetic -p db -p storage -p ml -p pacs -p app -p brainscan --all-targets -- -D warnings

step "cargo test (domain, synthetic, db, storage, ml, pacs, app, brainscan)"
cargo test -p domain -p synthetic -p db -p storage -p ml -p pacs -p app -p brainscan

# A real PACS for the DICOMweb tests and the browser's Studies page: Debian's Orthanc with its
# DICOMweb plugin, on a private port over a throw-away folder, up until the end of the browser tests.
source scripts/orthanc.sh
trap 'stop_test_orthanc' EXIT
start_test_orthanc
step "the PACS tests against Orthanc (QIDO-RS, WADO-RS, STOW-RS), on SQLite"
pacs_log=$(mktemp)
cargo test -p brainscan --test pacs -- --ignored 2>&1 | tee "$pacs_log"
pacs_ran=$(grep -c '^test .* \.\.\. ok$' "$pacs_log" || true)
[ "$pacs_ran" -ge 5 ] || { echo "only $pacs_ran PACS tests ran (expected at least 5)" >&2; exit 1; }

# The same database and storage tests on PostgreSQL and on an S3-compatible server, and two web
# replicas plus a worker process sharing one PostgreSQL database and one bucket (scale-out mode).
# Both servers are started here on private ports in throw-away directories (Debian's PostgreSQL,
# s3s-fs from crates.io); a plain `cargo test` lists these tests as ignored.
step "PostgreSQL and S3: the db and storage tests, and the scale-out test (two replicas, a worker killed mid-job)"
source scripts/postgres.sh
source scripts/s3.sh
trap 'stop_test_s3; stop_test_postgres; stop_test_orthanc' EXIT
start_test_postgres
start_test_s3
scale_out_log=$(mktemp)
cargo test -p db -p storage -p brainscan -- --ignored postgres s3 2>&1 | tee "$scale_out_log"
# A filter that matched nothing would pass quietly: count what ran.
postgres_ran=$(grep -c '^test .*postgres.* \.\.\. ok$' "$scale_out_log" || true)
s3_ran=$(grep -c '^test .*s3.* \.\.\. ok$' "$scale_out_log" || true)
rm -f "$scale_out_log"
[ "$postgres_ran" -ge 9 ] || { echo "only $postgres_ran PostgreSQL tests ran (expected at least 9)" >&2; exit 1; }
[ "$s3_ran" -ge 6 ] || { echo "only $s3_ran S3 tests ran (expected at least 6)" >&2; exit 1; }

# The HTTP suites again, each server on a fresh PostgreSQL database and bucket prefix instead of a
# SQLite file and local folders: every endpoint, error and role check in the scale-out mode too.
step "the HTTP suites on PostgreSQL and S3 (TEST_SCALE_OUT=1)"
http_log=$(mktemp)
TEST_SCALE_OUT=1 cargo test -p brainscan --test api --test http --test security --test review \
  --test trust --test dicom --test worker --test feedback --test drift --test series 2>&1 | tee "$http_log"
http_ran=$(grep -o '^test result: ok\. [0-9]* passed' "$http_log" | awk '{sum += $4} END {print sum + 0}')
rm -f "$http_log"
[ "$http_ran" -ge 40 ] || { echo "only $http_ran HTTP tests ran on PostgreSQL and S3 (expected at least 40)" >&2; exit 1; }
step "the PACS tests against Orthanc on PostgreSQL and S3"
TEST_SCALE_OUT=1 cargo test -p brainscan --test pacs -- --ignored 2>&1 | tee "$pacs_log"
pacs_ran=$(grep -c '^test .* \.\.\. ok$' "$pacs_log" || true)
rm -f "$pacs_log"
[ "$pacs_ran" -ge 5 ] || { echo "only $pacs_ran PACS tests ran on PostgreSQL and S3 (expected at least 5)" >&2; exit 1; }
stop_test_s3
stop_test_postgres

# The load generator on its own: built together with the server, its dependencies would change the
# server's feature set and rebuild it.
step "cargo clippy + test (loadtest)"
cargo clippy -p loadtest --all-targets -- -D warnings
cargo test -p loadtest

step "cargo leptos build (server + WASM bundle, debug)"
cargo leptos build

step "playwright (Chromium) against the debug server"
(cd end2end && BRAINSCAN_BIN="$TARGET_DIR/debug/brainscan" LEPTOS_SITE_ROOT="$ROOT/target/site" npx playwright test)

# The same browser tests with the server on PostgreSQL and an S3 bucket (a fresh database and
# prefix) instead of SQLite and local folders.
step "playwright (Chromium) against the debug server on PostgreSQL and S3"
start_test_postgres
start_test_s3
"$TEST_POSTGRES_BIN/psql" "$TEST_POSTGRES_URL" -qc "CREATE DATABASE e2e" >/dev/null
(cd end2end && BRAINSCAN_BIN="$TARGET_DIR/debug/brainscan" LEPTOS_SITE_ROOT="$ROOT/target/site" \
  E2E_DATABASE_URL="${TEST_POSTGRES_URL%/*}/e2e" E2E_STORAGE_URL="$TEST_S3_URL/e2e" npx playwright test)
stop_test_s3
stop_test_postgres

# The Docker image's build steps (there is no Docker engine here), then the staged tree run the way
# the image runs it: this proves the Dockerfile's layout and the release bundle, not just that the
# code compiles.
step "release build as the Dockerfile runs it (scripts/build-release.sh)"
dist=$(mktemp -d)
data_root=$(mktemp -d)
trap 'stop_test_orthanc; rm -rf "$dist" "$data_root"' EXIT
bash scripts/build-release.sh "$dist"

step "the staged server, with the image's environment"
port=${DIST_PORT:-8124}
(
  cd "$dist"
  HOST=127.0.0.1 PORT=$port DATA_ROOT="$data_root" MODEL_DIR="$dist/models" \
    FEATURES_CSV="$dist/data/processed/image_features_train.csv" LEPTOS_SITE_ROOT="$dist/site" \
    RUST_LOG=warn exec ./brainscan serve
) &
staged=$!
trap 'kill $staged 2>/dev/null || true; stop_test_orthanc; rm -rf "$dist" "$data_root"' EXIT
healthy=false
for _ in $(seq 1 100); do
  if "$dist/brainscan" healthcheck --port "$port" >/dev/null 2>&1; then healthy=true; break; fi
  sleep 0.2
done
$healthy || { echo "the staged server never became healthy"; exit 1; }
for path in / /docs /swagger-ui/swagger-ui-bundle.js /pkg/brainscan.wasm /openapi.json /insights; do
  curl -fsS -o /dev/null "http://127.0.0.1:$port$path" || { echo "staged server: $path failed"; exit 1; }
done
# A plot is not an MRI slice: the staged model must run and its trust check must refuse it (the
# Playwright run below has the staged server classify MRI-like slices).
refusal=$(curl -sS -o - -w ' %{http_code}' -F file=@models/confusion_matrix.png "http://127.0.0.1:$port/predict")
case "$refusal" in
  *'"not_brain_mri"'*' 422') ;;
  *) echo "staged server: /predict did not refuse a plot: $refusal"; exit 1 ;;
esac
[ -f "$data_root/app.db" ] || { echo "DATA_ROOT was not used"; exit 1; }
kill $staged
wait $staged 2>/dev/null || true
echo "staged server: healthy, pages, docs, WASM and /predict (refusing a plot) served; data under DATA_ROOT"

# Downloading the bundle proves nothing about whether it runs: the browser tests do, on the same
# staged tree (hydration, navigation, charts drawn, uploads, retraining, no page error anywhere).
step "playwright (Chromium) against the staged release server"
(cd end2end && E2E_DIST="$dist" npx playwright test)

step "all checks passed"
