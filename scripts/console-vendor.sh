#!/usr/bin/env bash
# Refresh the console's vendored toolkit from the npm registry, exactly as console/package-lock.json pins it.
# Not part of `make test`: the copies are committed (the Lambda package needs no npm), and
# tests/unit/test_console_assets.py checks them against SHA256SUMS and the lock's versions.
# Usage: scripts/console-vendor.sh   (then commit functions/console/static/vendor/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/console"
npm ci --ignore-scripts --no-audit --no-fund
VENDOR="$ROOT/functions/console/static/vendor"
mkdir -p "$VENDOR"
cp node_modules/preact/dist/preact.mjs "$VENDOR/preact.mjs"
cp node_modules/preact/hooks/dist/hooks.mjs "$VENDOR/preact-hooks.mjs"
cp node_modules/htm/dist/htm.mjs "$VENDOR/htm.mjs"
cp node_modules/preact/LICENSE "$VENDOR/LICENSE-preact"
cp node_modules/htm/LICENSE "$VENDOR/LICENSE-htm"
{
  echo "# preact $(node -p 'require("./node_modules/preact/package.json").version'), htm $(node -p 'require("./node_modules/htm/package.json").version') (npm registry, console/package-lock.json)"
  cd "$VENDOR" && sha256sum preact.mjs preact-hooks.mjs htm.mjs
} > "$VENDOR/SHA256SUMS"
echo "console-vendor: $(ls "$VENDOR" | wc -l) files in $VENDOR"
