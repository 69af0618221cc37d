#!/usr/bin/env bash
# One command from a fresh machine to a running app: installs what is missing, builds the server
# and the WASM bundle, and serves on http://localhost:${PORT:-8000} with the embedded defaults.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/install-tools.sh
source scripts/env.sh
cargo leptos build
echo "==> starting on http://localhost:${PORT:-8000} (Ctrl-C stops)"
exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/brainscan" serve "$@"
