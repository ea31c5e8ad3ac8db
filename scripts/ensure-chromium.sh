#!/usr/bin/env bash
# The console's browser tests (tests/browser) drive Debian's Chromium through Playwright's
# executable_path: Playwright's own browser download cannot reach its CDN here, Debian's mirror can.
# Installs the packages once (apt-get, as root or with sudo); a no-op when /usr/bin/chromium exists.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  SUDO="sudo"
fi
echo "ensure-chromium: installing Debian's chromium (browser tests of the console)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
chromium --version 2>/dev/null || true
