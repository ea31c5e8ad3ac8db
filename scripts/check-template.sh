#!/usr/bin/env bash
# Lint template.yaml twice: cfn-lint from the project venv and `sam validate --lint` from SAM CLI.
# SAM CLI lives in its own venv (.venv-sam) because it pins boto3/cfn-lint versions that would clash
# with the project's test deps (moto, boto3). Both run offline: no credentials, no region, no Docker.
# Usage: scripts/check-template.sh [template]   (exit 0 = no finding at all, warnings included)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TEMPLATE="${1:-template.yaml}"
SAM_CLI_VERSION="1.170.0"   # last version verified here; bump deliberately
SAM_VENV="$ROOT/.venv-sam"
CFN_LINT="$ROOT/.venv/bin/cfn-lint"
export SAM_CLI_TELEMETRY=0

if [[ ! -x "$CFN_LINT" ]]; then
  echo "check-template: FAILED ($CFN_LINT missing; run: python3.11 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt)"
  exit 2
fi
if [[ ! -f "$TEMPLATE" ]]; then
  echo "check-template: FAILED ($TEMPLATE not found)"
  exit 2
fi

# (Re)create .venv-sam when missing or on another SAM CLI version; ~40 s and ~340 MB from PyPI.
if ! "$SAM_VENV/bin/sam" --version 2>/dev/null | grep -qF "version $SAM_CLI_VERSION"; then
  PYTHON="$(command -v python3.11 || command -v python3)"
  install_log="$(mktemp)"
  echo "check-template: installing aws-sam-cli==$SAM_CLI_VERSION into .venv-sam" >&2
  if ! { "$PYTHON" -m venv "$SAM_VENV" \
         && "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"; } \
       >"$install_log" 2>&1; then
    tail -n 20 "$install_log" >&2
    echo "check-template: FAILED (could not install aws-sam-cli==$SAM_CLI_VERSION)"
    exit 2
  fi
  rm -f "$install_log"
fi

cfn_rc=0
"$CFN_LINT" -- "$TEMPLATE" || cfn_rc=$?

sam_rc=0
sam_out="$("$SAM_VENV/bin/sam" validate --lint --template "$TEMPLATE" 2>&1)" || sam_rc=$?
if [[ $sam_rc -ne 0 ]]; then
  printf '%s\n' "$sam_out"
fi

if [[ $cfn_rc -eq 0 && $sam_rc -eq 0 ]]; then
  echo "check-template: OK ($TEMPLATE clean under cfn-lint $("$CFN_LINT" --version | awk '{print $2}') and sam validate --lint, SAM CLI $SAM_CLI_VERSION)"
  exit 0
fi
echo "check-template: FAILED ($TEMPLATE: cfn-lint rc=$cfn_rc, sam validate --lint rc=$sam_rc)"
exit 1
