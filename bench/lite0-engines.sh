#!/usr/bin/env bash
# EfficientNet-Lite0 in ONNX Runtime, PyTorch and ours, one after the other on the same machine
# (not a test: neither engine is a dependency of the project). Installs torch, onnx, onnxruntime and
# the efficientnet-lite-pytorch 0.1.0 model definition from PyPI into a throw-away virtual
# environment, then runs bench/lite0_engines.py and our ml/examples/lite0_profile (whole network
# only) and prints the ratio table. Usage: bash bench/lite0-engines.sh  (SIDE, BATCH, THREADS).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${BENCH_VENV:-$(mktemp -d)/venv}
THREADS=${THREADS:-2}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch onnx onnxruntime efficientnet-lite-pytorch==0.1.0
fi
cd "$ROOT"
cargo build --release -p ml --example lite0_profile
engines=$(OMP_NUM_THREADS=$THREADS THREADS=$THREADS "$VENV/bin/python" bench/lite0_engines.py | tee /dev/stderr)
ours=$(RAYON_NUM_THREADS=$THREADS LAYERS=0 target/release/examples/lite0_profile | tee /dev/stderr)
ort=$(awk '/^onnxruntime/ {print $4}' <<<"$engines")
torch_ms=$(awk '/^pytorch .* batch1_p50_ms/ {print $4}' <<<"$engines")
torch_train=$(awk '/^pytorch .* train_images_per_s/ {print $4}' <<<"$engines")
# The kernels' row of the profile's whole-network table: | path | folded p50 | unfolded | step | images/s |
row=$(grep '^| ml::kernels' <<<"$ours")
ours_ms=$(awk -F'|' '{gsub(/ ms| /, "", $3); print $3}' <<<"$row")
ours_train=$(awk -F'|' '{gsub(/ /, "", $6); print $6}' <<<"$row")
echo
echo "| engine | batch-1 forward p50 | ours / it | training images/s (batch ${BATCH:-32}) | ours / it |"
echo "|---|---|---|---|---|"
awk -v o="$ours_ms" -v ot="$ours_train" -v a="$ort" -v t="$torch_ms" -v tt="$torch_train" 'BEGIN {
  printf "| ONNX Runtime | %.2f ms | %.2fx | - | - |\n", a, o / a;
  printf "| PyTorch eager | %.2f ms | %.2fx | %.1f | %.2fx |\n", t, o / t, tt, ot / tt;
  printf "| ours (ml::kernels on Flex) | %.2f ms | 1.00x | %.1f | 1.00x |\n", o, ot;
}'
