#!/usr/bin/env bash
# Every check the project has: formatting, lints, Rust unit and integration tests, then the browser
# tests in Debian's Chromium against the real server. Installs missing tools first (idempotent).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/install-tools.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy -p db -p ml -p app -p brainscan --all-targets -- -D warnings

step "cargo test (db, ml, app, brainscan)"
cargo test -p db -p ml -p app -p brainscan

# The load generator on its own: built together with the server, its dependencies would change the
# server's feature set and rebuild it.
step "cargo clippy + test (loadtest)"
cargo clippy -p loadtest --all-targets -- -D warnings
cargo test -p loadtest

step "cargo leptos build (server + WASM bundle)"
cargo leptos build

step "playwright (Chromium)"
cd end2end
BRAINSCAN_BIN="$TARGET_DIR/debug/brainscan" LEPTOS_SITE_ROOT="$ROOT/target/site" npx playwright test

# The Docker image's build steps (there is no Docker engine here), then the staged tree run the way
# the image runs it: this proves the Dockerfile's layout, not just that the code compiles.
step "release build as the Dockerfile runs it (scripts/build-release.sh)"
cd "$ROOT"
dist=$(mktemp -d)
data_root=$(mktemp -d)
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
trap 'kill $staged 2>/dev/null || true' EXIT
healthy=false
for _ in $(seq 1 100); do
  if "$dist/brainscan" healthcheck --port "$port" >/dev/null 2>&1; then healthy=true; break; fi
  sleep 0.2
done
$healthy || { echo "the staged server never became healthy"; exit 1; }
for path in / /docs /swagger-ui/swagger-ui-bundle.js /pkg/brainscan.wasm /openapi.json /insights; do
  curl -fsS -o /dev/null "http://127.0.0.1:$port$path" || { echo "staged server: $path failed"; exit 1; }
done
curl -fsS -F file=@models/confusion_matrix.png "http://127.0.0.1:$port/predict" | grep -q '"predicted_class"' \
  || { echo "staged server: /predict failed"; exit 1; }
[ -f "$data_root/app.db" ] || { echo "DATA_ROOT was not used"; exit 1; }
kill $staged
echo "staged server: healthy, pages, docs, WASM and /predict served; data under DATA_ROOT"
rm -rf "$dist" "$data_root"
