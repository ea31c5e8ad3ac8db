#!/usr/bin/env bash
# Run the project's pinned SAM CLI: `scripts/sam-cli.sh <sam args...>` (e.g. `scripts/sam-cli.sh build`).
# SAM CLI lives in its own venv (.venv-sam) because it pins boto3/cfn-lint versions that would clash
# with the project's test deps (moto, boto3). The venv is (re)created when missing or on another
# SAM CLI version (~40 s and ~340 MB from PyPI), then sam runs from the repository root.
# `scripts/sam-cli.sh --ensure` only installs and prints the sam path (exit 2 if it cannot).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SAM_CLI_VERSION="1.170.0"   # last version verified here; bump deliberately
SAM_VENV="$ROOT/.venv-sam"
SAM="$SAM_VENV/bin/sam"
export SAM_CLI_TELEMETRY=0

if ! "$SAM" --version 2>/dev/null | grep -qF "version $SAM_CLI_VERSION"; then
  PYTHON="$(command -v python3.11 || command -v python3)"
  install_log="$(mktemp)"
  echo "sam-cli: installing aws-sam-cli==$SAM_CLI_VERSION into .venv-sam" >&2
  if ! { "$PYTHON" -m venv "$SAM_VENV" \
         && "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"; } \
       >"$install_log" 2>&1; then
    tail -n 20 "$install_log" >&2
    rm -f "$install_log"
    echo "sam-cli: FAILED (could not install aws-sam-cli==$SAM_CLI_VERSION)" >&2
    exit 2
  fi
  rm -f "$install_log"
fi

if [[ "${1:-}" == "--ensure" ]]; then
  echo "$SAM"
  exit 0
fi
exec "$SAM" "$@"
