#!/usr/bin/env bash
# The Docker image's build steps, in one script that CI runs too (there is no Docker engine there):
# toolchain pieces, Swagger UI's files, the release build of the server and the WASM bundle, then
# everything the runtime image needs staged under one folder:
#   DIST/brainscan                  the server binary
#   DIST/site/                      WASM bundle, CSS, public assets (incl. Swagger UI)
#   DIST/models/                    the shipped model
#   DIST/data/processed/*.csv       the training-set features behind the Insights charts
# Usage: scripts/build-release.sh [DIST]   (default: dist/)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST=$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)
cd "$ROOT"
bash scripts/install-tools.sh --build-only
source scripts/env.sh
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# cargo-leptos runs the first wasm-opt on PATH over the bundle; scripts/env.sh puts the pinned one
# first (Debian's binaryen 108 produces a bundle that does not start).
printf '\n==> cargo leptos build --release (%s)\n' "$(wasm-opt --version)"
cargo leptos build --release

printf '\n==> staging into %s\n' "$DIST"
rm -rf "${DIST:?}/brainscan" "$DIST/site" "$DIST/models" "$DIST/data"
install -m 0755 "$TARGET_DIR/release/brainscan" "$DIST/brainscan"
cp -r target/site "$DIST/site"
mkdir -p "$DIST/models" "$DIST/data/processed"
cp models/manifest.json models/model.bpk models/trust.json "$DIST/models/"
cp data/processed/image_features_train.csv "$DIST/data/processed/"

# The staged tree must be complete: a missing piece fails here, not in production.
for required in brainscan site/pkg/brainscan.wasm site/pkg/brainscan.js site/pkg/brainscan.css \
  site/swagger-ui/swagger-ui-bundle.js models/model.bpk models/manifest.json models/trust.json; do
  [ -s "$DIST/$required" ] || { echo "missing from the build: $required" >&2; exit 1; }
done
"$DIST/brainscan" --version
wasm="$DIST/site/pkg/brainscan.wasm"
printf '    WASM bundle: %s bytes, %s bytes gzip -9\n' "$(stat -c %s "$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"
du -sh "$DIST"/* | sed 's/^/    /'
printf '==> staged %s MB in %s\n' "$(du -sm "$DIST" | cut -f1)" "$DIST"
