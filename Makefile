# qabot: `make run` to ask the shipped corpus questions, `make test` to run the tests.
# Each target installs what it needs into .venv first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch; an unpinned torch would pull a CUDA build of several GB.
TORCH  := torch==2.13.0
DEMO_QUESTION := Combien de recrues sont arrivées au camp de Bougouni ?

.PHONY: install dev run index test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

index: install
	$(BIN)/qabot index

# Builds the index if missing or stale, then opens the REPL; without a terminal on stdin,
# answers one demo question and exits.
run: index
	@if [ -t 0 ]; then $(BIN)/qabot repl; \
	else echo "? $(DEMO_QUESTION)"; $(BIN)/qabot ask "$(DEMO_QUESTION)"; fi

# Tests run in TEST_WORKERS processes (pytest-xdist): much of a test's time is a `qabot`
# process starting or a model loading, on one core. The path is absolute because each worker
# collects from its own temporary working folder (see tests/conftest.py).
TEST_WORKERS ?= 2

test: dev
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(CURDIR)/tests

bench: install
	$(BIN)/python bench/speed.py

lint: dev
	$(BIN)/ruff check qabot tests bench
	$(BIN)/mypy qabot

clean:
	rm -rf index .pytest_cache .mypy_cache .ruff_cache
