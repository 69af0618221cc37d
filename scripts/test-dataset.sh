#!/usr/bin/env bash
# The checks that need the real dataset (DATA_DIR: the folder with train/<class>/*.jpg), kept apart
# from scripts/test.sh so that a fresh clone passes without it. They are the Rust tests marked
# `#[ignore = "needs the dataset ..."]`: cargo lists them as ignored in the plain run.
#   DATA_DIR=../shared/data/brain-tumor-mri bash scripts/test-dataset.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
: "${DATA_DIR:?set DATA_DIR to the dataset root (the folder with train/<class>/)}"
[ -d "$DATA_DIR/train" ] || { echo "DATA_DIR=$DATA_DIR has no train/ folder" >&2; exit 1; }
DATA_DIR=$(cd "$DATA_DIR" && pwd)
export DATA_DIR
source scripts/env.sh

printf '\n==> dataset checks (DATA_DIR=%s): the tests cargo ignores without it\n' "$DATA_DIR"
# Every `#[ignore]` in the project names its reason: the dataset, or PostgreSQL, S3 or Orthanc for the
# tests whose names say `postgres`, `s3` or start with `pacs_` (scripts/test.sh starts those servers
# and runs them). This runs the rest.
cargo test -p brainscan -- --ignored --skip postgres --skip s3 --skip pacs_
