# One place for every developer task. Each target sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Run-time dependencies only: what `make demo` needs. The development set
# (STAMP) includes them, so it marks this one too.
RUNTIME := $(VENV)/.runtime

.PHONY: demo test lint format typecheck check bench bench-base lock clean

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/dev.lock -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/dev.lock -e '.[dev]'
	touch $(STAMP) $(RUNTIME)

demo: $(RUNTIME)
	$(BIN)/rill demo

test: $(STAMP)
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage report --format=total

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench,server]'
	$(BIN)/python -m benchmarks.streaming
	$(BIN)/python -m benchmarks.structured
	$(BIN)/python -m benchmarks.concurrency
	$(BIN)/python -m benchmarks.client
	$(BIN)/python -m benchmarks.events
	$(BIN)/python -m benchmarks.server

# The same benchmarks with rill from another commit beside this tree, in one run:
# make bench-base BASE=main~3 [ARGS="--quick"]
BASE ?= HEAD
bench-base: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	rm -rf .bench-base && mkdir -p .bench-base
	git archive $(BASE) src/rill | tar -x -C .bench-base
	RILL_BASE_SRC=$(CURDIR)/.bench-base/src/rill $(BIN)/python -m benchmarks.streaming $(ARGS)
	RILL_BASE_SRC=$(CURDIR)/.bench-base/src/rill $(BIN)/python -m benchmarks.structured $(ARGS)

# Refresh the pinned versions the test environment installs.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^rill' > requirements/dev.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis
