# Servir: `make help` lists every target.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# uv uses this machine's Python 3.11 and never downloads one.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
export UV_PYTHON ?= 3.11
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
VENV := .venv
STAMP := $(VENV)/.servir-installed
SOURCES := shared-schemas/src service-runtime/src gateway/src auth-service/src model-service/src servir/src scripts tests
COMPOSE = $(shell $(RUN) python -c "import compose, pathlib; print(pathlib.Path(compose.__file__).parent / 'docker-compose')")
PYTEST_FLAGS ?= $(if $(CI),-p no:cacheprovider,)

.PHONY: requirements help install uv redis-server wrk browser models run up down test unit integration e2e lint fmt typecheck compose-check bench soak fuzz clean

help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

uv: ## Install uv with pip when it is missing
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): uv.lock pyproject.toml */pyproject.toml
	@$(MAKE) uv
	$(UV) sync --frozen --all-packages --compile-bytecode
	@touch $@

install: $(STAMP) ## Create .venv with every package and dev tool (uv sync), bytecode compiled

redis-server: ## Install Debian's redis-server when it is missing (needs root, else says how)
	@scripts/need-deb redis-server redis-server

wrk: ## Install Debian's wrk (the load generator of make bench) when it is missing
	@scripts/need-deb wrk wrk

browser: ## Install Debian's chromium and the browser test's playwright-core (npm ci) when missing
	@scripts/need-deb chromium chromium
	@scripts/need-deb npm npm
	@if [ ! -d tests/browser/node_modules/playwright-core ]; then \
	  cd tests/browser && npm ci --no-audit --no-fund; fi

models: $(STAMP) ## Train the demo bundles (iris, breast-cancer, churn) into models/ when missing
	@if [ -f models/iris/1/manifest.json ] && [ -f models/breast-cancer/1/manifest.json ] && [ -f models/churn/1/manifest.json ]; then \
	  echo "Demo models present in models/ (rm -r models/iris models/breast-cancer models/churn to retrain)."; \
	else $(RUN) python -m model_service.demo_models models; fi

# exec, and the venv's python rather than `uv run` (which would stay between them): the launcher
# is the process make waits for, and watches make (servir_runtime/lifeline.py).
run: $(STAMP) redis-server models ## Run the whole stack locally (own Redis, three services); Ctrl-C stops it
	@set -a; if [ -f .env ]; then . ./.env; fi; set +a; exec $(VENV)/bin/python scripts/run.py

up: ## docker compose up --build (detached, waits until healthy)
	docker compose up --build --detach --wait

down: ## docker compose down (keeps volumes)
	docker compose down

e2e: $(STAMP) browser ## The compose stack in real containers, as CI runs it (root): build, up, tests, scale, down
	@COMPOSE_BIN="$(COMPOSE)" RUN="$(RUN)" PYTHON="$(PYTHON)" PYTEST_FLAGS="$(PYTEST_FLAGS)" scripts/e2e.sh

lint: $(STAMP) ## ruff check and ruff format --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

fmt: $(STAMP) ## Format and fix with ruff
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: $(STAMP) ## mypy --strict over every package, scripts and tests
	$(RUN) mypy $(SOURCES)

compose-check: $(STAMP) ## Validate docker-compose.yml (Compose v2) and lint the Dockerfile (hadolint)
	$(COMPOSE) config -q
	$(RUN) hadolint --failure-threshold warning Dockerfile

unit: $(STAMP) redis-server ## Fast tests of each package (in-process apps, real Redis)
	$(RUN) pytest $(PYTEST_FLAGS) -m "not integration"

integration: $(STAMP) redis-server browser ## Integration tests against the real stack (or SERVIR_STACK_URL)
	$(RUN) pytest $(PYTEST_FLAGS) -m integration

test: lint typecheck compose-check redis-server browser ## lint, types, compose/Dockerfile checks, all tests (CI then runs fuzz, a short soak, e2e)
	$(RUN) pytest $(PYTEST_FLAGS)

bench: $(STAMP) redis-server wrk models ## Echo floor, baseline, model-service (JSON, V2, each runtime), gateway: JSON, ~12 min (BENCH_QUICK=1: ~4)
	@$(RUN) python -m scripts.bench

soak: $(STAMP) redis-server models ## Open-loop mixed load through the gateway: 100 req/s 60 s, 3x 30 s, recovery; JSON, fails on a missed criterion
	@$(RUN) python -m scripts.soak

fuzz: $(STAMP) redis-server models ## Schemathesis, every check, over the gateway's OpenAPI on a real stack (3 seeds, under 5 min)
	@$(RUN) python -m scripts.fuzz

clean: ## Remove .venv, .data and caches
	rm -rf $(VENV) .data .build .mypy_cache .ruff_cache .pytest_cache

requirements: $(STAMP) ## Export each service's pinned requirements (for its Docker image) from uv.lock
	@for service in gateway auth-service model-service; do \
	  $(UV) export --frozen --package $$service --no-dev --no-emit-workspace --no-header -q -o requirements/$$service.txt; \
	done
