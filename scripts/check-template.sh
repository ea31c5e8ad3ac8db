#!/usr/bin/env bash
# Lint template.yaml twice: cfn-lint from the project venv and `sam validate --lint` from SAM CLI.
# SAM CLI lives in its own venv (.venv-sam, see scripts/sam-cli.sh) because it pins boto3/cfn-lint
# versions that would clash with the project's test deps (moto, boto3). Both run offline: no credentials,
# no region, no Docker.
# Usage: scripts/check-template.sh [template]   (exit 0 = no finding at all, warnings included)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TEMPLATE="${1:-template.yaml}"
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

# SAM CLI comes from .venv-sam, installed on first use by scripts/sam-cli.sh (pinned version).
if ! SAM="$(bash "$ROOT/scripts/sam-cli.sh" --ensure)"; then
  echo "check-template: FAILED (SAM CLI not available, see above)"
  exit 2
fi
SAM_CLI_VERSION="$("$SAM" --version | awk '{print $NF}')"

cfn_rc=0
"$CFN_LINT" -- "$TEMPLATE" || cfn_rc=$?

sam_rc=0
sam_out="$("$SAM" validate --lint --template "$TEMPLATE" 2>&1)" || sam_rc=$?
if [[ $sam_rc -ne 0 ]]; then
  printf '%s\n' "$sam_out"
fi

if [[ $cfn_rc -eq 0 && $sam_rc -eq 0 ]]; then
  echo "check-template: OK ($TEMPLATE clean under cfn-lint $("$CFN_LINT" --version | awk '{print $2}') and sam validate --lint, SAM CLI $SAM_CLI_VERSION)"
  exit 0
fi
echo "check-template: FAILED ($TEMPLATE: cfn-lint rc=$cfn_rc, sam validate --lint rc=$sam_rc)"
exit 1
