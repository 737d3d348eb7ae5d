# MusicCharts Airflow repository. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
# The lock is resolved as of this date, so `make lock-check` gives the same answer tomorrow as today.
LOCK_DATE := 2026-11-28T00:00:00Z
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --exclude-newer $(LOCK_DATE) --quiet
export PYTHONPATH := $(CURDIR)/include:$(CURDIR)/plugins:$(CURDIR)/simulators:$(CURDIR)/stack
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: help install system-deps run lock lock-check lint fix test test-fast bench clean-data pg-client backup \
	restore browser-deps ui-vendor

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.txt
	@touch $@

install: $(BIN)/.installed ## Create .venv exactly from requirements.txt

# redis-server runs the private Redis of `make run` (shared rate limiter, Celery broker) and of the tests.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-deps: ## Install the Debian packages the stack and its tests run (redis-server) if missing
	@command -v redis-server >/dev/null 2>&1 || { echo "installing redis-server (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }

run: install system-deps ## Run the product locally, supervised: Postgres, Redis, simulator, Airflow UI on :8080 (EXECUTOR=celery for Celery)
	$(BIN)/python -m musiccharts_stack $(if $(EXECUTOR),--executor $(EXECUTOR)) \
		$(if $(REDIS_URL),--redis-url $(REDIS_URL)) $(if $(CELERY_WORKERS),--workers $(CELERY_WORKERS))

lock: ## Re-resolve requirements.txt from requirements.in
	$(BIN)/uv pip compile requirements.in -o requirements.txt $(LOCK_FLAGS)

lock-check: install ## Fail if requirements.txt is stale against requirements.in
	@$(BIN)/uv pip compile requirements.in -o $(VENV)/lock-check.txt $(LOCK_FLAGS) --no-header
	@diff <(grep -v '^#' requirements.txt) <(grep -v '^#' $(VENV)/lock-check.txt) \
		|| { echo "requirements.txt is stale: run 'make lock' and commit it"; exit 1; }
	@echo "requirements.txt is up to date"

lint: install ## ruff (including the AIR rules), format check and mypy (include/ plugins/ simulators/ stack/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fix: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The UI plugin's pages are tested in headless Chromium: Debian's package, never a browser download.
CHROMIUM := /usr/bin/chromium
browser-deps: ## Install Debian's chromium for the headless UI tests (apt-get, only when missing)
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the UI tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is still missing after apt-get"; exit 1; }

# The charting library of the UI plugin, bundled with it (the UI must work offline): taken from the npm
# registry's echarts package at this version and checked against the hash of its dist/echarts.min.js.
ECHARTS_VERSION := 6.1.0
ECHARTS_SHA256 := b66b25aeb4df84e33199dc21694014d336d222cbd9deb0e5a7c14bd6aa0d0fd0
ECHARTS_DIR := plugins/musiccharts_airflow/ui/static/vendor/echarts
ui-vendor: ## Re-fetch the UI plugin's charting library (npm pack echarts) and verify its hash
	@tmp=$$(mktemp -d) && trap 'rm -rf '$$tmp EXIT && \
		(cd $$tmp && npm pack --silent echarts@$(ECHARTS_VERSION) >/dev/null && \
		 tar xzf echarts-$(ECHARTS_VERSION).tgz package/dist/echarts.min.js package/LICENSE package/NOTICE) && \
		echo "$(ECHARTS_SHA256)  $$tmp/package/dist/echarts.min.js" | sha256sum --check --quiet && \
		mkdir -p $(ECHARTS_DIR) && cp $$tmp/package/dist/echarts.min.js $$tmp/package/LICENSE \
		$$tmp/package/NOTICE $(ECHARTS_DIR)/ && echo "echarts $(ECHARTS_VERSION) -> $(ECHARTS_DIR)"

test: install system-deps lock-check lint pg-client browser-deps ## Lint, then the whole test suite (unit, integration, e2e) on real Postgres/Redis
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-fast: install system-deps pg-client browser-deps ## The suite without the end-to-end (Celery) tests
	$(BIN)/python -m pytest -p no:cacheprovider -m "not e2e" $(PYTEST_ARGS)

bench: install ## Run every benchmark (prints ratios against in-run baselines)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

pg-client: install ## pg_dump/pg_restore of the server's major version (apt-get postgresql-client-N if missing)
	@$(BIN)/python -m musiccharts.maintenance.pg_tools check || { \
		major=$$($(BIN)/python -m musiccharts.maintenance.pg_tools major) && \
		echo "installing postgresql-client-$$major" && apt-get update -qq && \
		apt-get install -y --no-install-recommends postgresql-client-$$major && \
		$(BIN)/python -m musiccharts.maintenance.pg_tools check; }

backup: pg-client ## Verified backup of the product database now (MUSICCHARTS_DB_URL: `source var/airflow/env.sh`)
	$(BIN)/python -m musiccharts.maintenance.backup create

restore: pg-client ## Restore BACKUP (default latest) into TARGET_DB (REPLACE=1 overwrites a non-empty one)
	@test -n "$(TARGET_DB)" || { echo "usage: make restore TARGET_DB=name [BACKUP=latest|name] [REPLACE=1]"; exit 2; }
	$(BIN)/python -m musiccharts.maintenance.backup restore $(or $(BACKUP),latest) --target-db $(TARGET_DB) \
		$(if $(REPLACE),--replace)

clean-data: ## Delete the local stack's data (var/): databases, logs, secrets
	rm -rf var
