# Sourced by the build and test scripts: puts the project's pinned tools first on PATH.
# - cargo-installed tools (cargo-leptos, wasm-bindgen) from CARGO_HOME;
# - wasm-opt from Binaryen's npm package (scripts/wasm-opt), which cargo-leptos finds on PATH for
#   release builds. It must come before any system wasm-opt: Debian's binaryen 108 breaks the bundle.
# shellcheck shell=bash
BRAINSCAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$BRAINSCAN_ROOT/scripts/wasm-opt/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# The S3-compatible server the tests start (scripts/s3.sh), built by scripts/install-tools.sh; kept off
# PATH, as nothing else uses it.
export S3S_FS=${S3S_FS:-$HOME/.cache/brainscan/tools/s3s/bin/s3s-fs}
