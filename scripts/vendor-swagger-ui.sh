#!/usr/bin/env bash
# Copies Swagger UI's files from the npm package pinned in scripts/swagger-ui into public/swagger-ui,
# which cargo-leptos copies into the site: /docs then loads everything from this server, no CDN.
# Idempotent; run before `cargo leptos build`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKAGE="$ROOT/scripts/swagger-ui"
DEST="$ROOT/public/swagger-ui"
FILES=(swagger-ui-bundle.js swagger-ui.css swagger-ui-bundle.js.LICENSE.txt LICENSE NOTICE)

version=$(node -p "require('$PACKAGE/package.json').dependencies['swagger-ui-dist']")
if [ -f "$DEST/VERSION" ] && [ "$(cat "$DEST/VERSION")" = "$version" ]; then
  exit 0
fi
npm ci --prefix "$PACKAGE" --no-audit --no-fund --loglevel=error
mkdir -p "$DEST"
for file in "${FILES[@]}"; do
  cp "$PACKAGE/node_modules/swagger-ui-dist/$file" "$DEST/"
done
echo "$version" > "$DEST/VERSION"
echo "vendored swagger-ui-dist $version into public/swagger-ui"
