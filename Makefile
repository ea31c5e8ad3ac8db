# crmsync — one command to test, one to see it work. Both install what they need.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := layers/sync:.
export SAM_CLI_TELEMETRY := 0

.PHONY: install chromium console build test demo chaos bench bench-facts bench-drift bench-matching lint typecheck template-check unit integration e2e fmt clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements-dev.txt layers/sync/requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## build: `sam build` of template.yaml (SAM CLI from .venv-sam; SyncLayer via layers/sync/Makefile), then
## one line with the unzipped sizes (file bytes, MB = 2^20 as Lambda's 250 MB limit); fails over LAYER_MAX_MB
LAYER_MAX_MB := 25
build:
	env -u PYTHONPATH -u MAKEFLAGS -u MFLAGS -u MAKELEVEL bash scripts/sam-cli.sh build --template template.yaml
	@du -sb .aws-sam/build/SyncLayer .aws-sam/build/*Function | awk -v max=$(LAYER_MAX_MB) ' \
	  $$2 ~ /SyncLayer$$/ { layer = $$1 / 1048576; next } { fns += $$1 / 1048576 } \
	  END { printf "build: SyncLayer %.1f MB unzipped (limit %d MB), functions %.2f MB in all\n", layer, max, fns; \
	        if (layer > max) { print "build: FAILED (SyncLayer over " max " MB)"; exit 1 } }'

## chromium: Debian's Chromium for the console's browser tests (Playwright starts it; no browser download)
chromium:
	bash scripts/ensure-chromium.sh

## test: lint, types, template checks, then unit + integration + e2e + browser tests (what CI runs);
## the browser journeys leave a screenshot of every screen they visit in artifacts/console/
test: install chromium lint typecheck template-check build
	$(BIN)/python -m pytest tests -q -p no:cacheprovider -n 2 --dist loadfile --durations=15

## console: the local stack with the admin console and two seeded tenants; prints its URL and the
## tenants' API tokens, runs until Ctrl-C (STOP_AFTER=n stops it after n seconds)
console: install
	$(BIN)/python -m local.console --crm $(CRM) $(if $(STOP_AFTER),--seconds $(STOP_AFTER))

## demo: the local stack end to end (moto server, both vendor fakes, gateway, pollers), exits 0
## (CRM=hubspot|dynamics for demo, chaos and bench: the CRM side of the tenant; default hubspot)
CRM ?= hubspot
demo: install
	$(BIN)/python -m local.demo --crm $(CRM)

## chaos: 10,000 customers x 2 contacts + 1,000 edits under injected faults, one verdict line (long)
chaos: install
	$(BIN)/python -m local.chaos --customers $(or $(CUSTOMERS),10000) --edits $(or $(EDITS),1000) --crm $(CRM)

## bench: backfill + per-record baseline + steady state at the vendors' rate limits, one line (long)
bench: install
	$(BIN)/python -m bench.throughput --customers $(or $(CUSTOMERS),10000) --edits $(or $(EDITS),1000) --crm $(CRM)

## bench-facts: calls of three accounting-facts refreshes of 10,000 customers against their floor
bench-facts: install
	$(BIN)/python -m bench.facts --customers $(or $(CUSTOMERS),10000) --invoices $(or $(INVOICES),30000) --crm $(CRM)

## bench-drift: calls of a drift report (full compare) of 10,000 customers against their floor
bench-drift: install
	$(BIN)/python -m bench.drift --customers $(or $(CUSTOMERS),10000) --crm $(CRM)

## bench-matching: duplicate-search quality on a generated labeled set (a line per score band + a summary)
bench-matching: install
	$(BIN)/python -m bench.matching

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=layers/sync $(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

template-check: install
	bash scripts/check-template.sh

unit: install
	$(BIN)/python -m pytest tests/unit -q

integration: install
	$(BIN)/python -m pytest tests/integration -q

e2e: install
	$(BIN)/python -m pytest tests/e2e -q

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .pytest_cache .mypy_cache .ruff_cache
