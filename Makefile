# parlearn: every target sets up what it needs, starting from nothing but python3.
#
#   make demo    set up .venv, then run the main job: parlearn federate on its defaults
#   make test    set up .venv, then run the tests, ruff and mypy (what CI runs)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Touched after a successful install: the venv is rebuilt only when pyproject.toml changes
# (the package is installed editable, so source edits need no reinstall).
STAMP  := $(VENV)/.installed
EXTRAS := dev,bench,ray,federated,lab,serve,learn,optimize
# Extra arguments for `make demo`, e.g. make demo DEMO_ARGS='--rounds 5'.
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-fast lint clean

help:  ## list the targets
	@echo "make demo       set up .venv and run 'parlearn federate' (federated learning, defaults)"
	@echo "make test       set up .venv and run pytest, ruff and mypy (what CI runs)"
	@echo "make test-fast  pytest without the tests marked slow"
	@echo "make lint       ruff check, ruff format --check and mypy"
	@echo "make bench-NAME run benchmarks/NAME.py, e.g. make bench-parallel_overhead"
	@echo "                (the speedup lab is a command: .venv/bin/parlearn bench io | cpu | python)"
	@echo "make venv       only create .venv and install parlearn[$(EXTRAS)] into it"
	@echo "make clean      remove .venv and every build and cache directory"

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: venv
	$(BIN)/parlearn federate $(DEMO_ARGS)

test: venv
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory lint

test-fast: venv
	$(BIN)/python -m pytest -m 'not slow'

lint: venv
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# One benchmark script per question (see benchmarks/): make bench-parallel_overhead, ...
# make bench-serve_load also needs wrk, a Debian package: apt-get install -y wrk
bench-%: venv
	$(BIN)/python -m benchmarks.$*

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .coverage
	find . -name '__pycache__' -type d -prune -exec rm -rf {} +
	find . -name '*.egg-info' -type d -prune -exec rm -rf {} +
