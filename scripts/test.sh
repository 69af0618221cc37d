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

step "cargo leptos build (server + WASM bundle)"
cargo leptos build

step "playwright (Chromium)"
cd end2end
BRAINSCAN_BIN="$TARGET_DIR/debug/brainscan" LEPTOS_SITE_ROOT="$ROOT/target/site" npx playwright test
