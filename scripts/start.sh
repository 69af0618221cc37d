#!/usr/bin/env bash
# One command from a fresh machine to a running app: installs what is missing, builds the server
# and the WASM bundle, and serves on http://localhost:${PORT:-8000} with the embedded defaults.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/install-tools.sh
source scripts/env.sh
cargo leptos build
server="${CARGO_TARGET_DIR:-$ROOT/target}/debug/brainscan"
# A fresh database gets its first admin with a random password, shown once here: never a default
# one. Set ADMIN_PASSWORD yourself to choose it; later starts find the admin and skip this.
if [ -z "${ADMIN_PASSWORD:-}" ] && [ -z "$("$server" user list 2>/dev/null)" ]; then
  ADMIN_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  export ADMIN_PASSWORD
  echo "==> first admin: user ${ADMIN_USERNAME:-admin}, password $ADMIN_PASSWORD (shown only now;"
  echo "    add more accounts on the Users page or with 'brainscan user add')"
fi
echo "==> starting on http://localhost:${PORT:-8000} (Ctrl-C stops)"
exec "$server" serve "$@"
