#!/usr/bin/env bash
# Measures the running server through HTTP: latency of sequential single predictions, and a retrain on
# uploaded images followed to its end. Needs a running server (default http://127.0.0.1:8000) and a
# folder with one sub-folder per class (DATA_DIR/train, as for the CLI).
#
#   bash scripts/measure-api.sh [BASE_URL]
# Env: DATA_DIR (required), TOKEN (required: an admin API token, `brainscan token create measure
# --role admin`), REQUESTS (200), UPLOADS_PER_CLASS (25), EPOCHS (3), FINE_TUNE_EPOCHS (1).
set -euo pipefail
BASE=${1:-http://127.0.0.1:8000}
DATA=${DATA_DIR:?set DATA_DIR to the dataset root (with train/<class>/)}/train
REQUESTS=${REQUESTS:-200}
PER_CLASS=${UPLOADS_PER_CLASS:-25}
EPOCHS=${EPOCHS:-3}
FINE_TUNE=${FINE_TUNE_EPOCHS:-1}
AUTH="Authorization: Bearer ${TOKEN:?set TOKEN to an admin API token (brainscan token create measure --role admin)}"

percentile() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR-1)*p+0.5)+1; printf "%.1f", a[i]*1000}'; }

gliomas=("$DATA"/glioma/*.jpg)
image=${gliomas[0]}
times=$(for _ in $(seq "$REQUESTS"); do
  curl -sf -o /dev/null -w '%{time_total}\n' -F "file=@$image" "$BASE/predict"
done)
echo "POST /predict, $REQUESTS sequential requests: p50 $(echo "$times" | percentile 0.5) ms, p95 $(echo "$times" | percentile 0.95) ms"

for class in glioma meningioma notumor pituitary; do
  args=(-F "class_name=$class")
  # Images from the end of each folder; the dataset is shuffled by the split, so these are a mix.
  files=("$DATA/$class"/*.jpg)
  for file in "${files[@]: -$PER_CLASS}"; do args+=(-F "files=@$file"); done
  curl -sf -H "$AUTH" "${args[@]}" "$BASE/retrain" | grep -o '"stored":[0-9]*' | sed "s/^/$class /"
done

started=$(date +%s.%N)
curl -sf -H "$AUTH" -H 'content-type: application/json' -d "{\"epochs\":$EPOCHS,\"fine_tune_epochs\":$FINE_TUNE}" "$BASE/retrain/trigger"
echo
while true; do
  status=$(curl -sf "$BASE/retrain/status")
  state=$(echo "$status" | grep -o '"status":"[a-z]*"' | head -1 | cut -d'"' -f4)
  case "$state" in completed|rejected|failed) break ;; esac
  sleep 2
done
finished=$(date +%s.%N)
echo "retrain ($EPOCHS+$FINE_TUNE epochs on $((PER_CLASS * 4)) uploads): $state in $(echo "$finished - $started" | bc) s"
echo "$status" | grep -o '"accuracy_before":[0-9.]*\|"accuracy_after":[0-9.]*\|"message":"[^"]*"'
