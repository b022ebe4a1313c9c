# nago: the two commands a newcomer needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nago-installed
PYTEST_WORKERS ?= 2

.PHONY: setup demo lint test test-fast test-gpu bench golden clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job, for now: the search-space size, then sample, describe and draw one architecture.
demo: setup
	$(BIN)/nago space-size
	$(BIN)/nago sample --space hnag --random --theta-seed 7 --seed 0 -o out/demo/architecture.json
	$(BIN)/nago describe --arch out/demo/architecture.json
	$(BIN)/nago draw --arch out/demo/architecture.json -o out/demo/architecture.png

lint: setup
	$(BIN)/ruff check nago operator tests bench
	$(BIN)/ruff format --check nago operator tests bench
	$(BIN)/mypy

## Everything CI runs: lint, types, and every test tier (GPU tests skip without CUDA).
test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test-fast: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow"

test-gpu: setup
	$(BIN)/pytest -m gpu -rs

bench: setup
	$(BIN)/python bench/bench_sample_build.py

golden: setup
	$(BIN)/python tests/golden/regenerate.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
