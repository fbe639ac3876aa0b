# Two entry points: `make run` (the default nightly config, end to end on CPU) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: install run test test-all bench gpu-check lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: a bare range would pull the newest CUDA build.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/diffml run configs/nightly.yaml

test: install
	$(BIN)/python -m pytest -q

test-all: install
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: install
	$(BIN)/python benchmarks/simulators.py

# Every device check on a machine with an NVIDIA GPU (docs/gpu.md), logs under gpu-check/;
# GPU_EXTRA=gpu-cu13 for a CUDA 13 driver.
GPU_EXTRA ?= gpu
gpu-check: install
	$(BIN)/pip install -q -c constraints.txt -e '.[$(GPU_EXTRA)]' pytest-xdist
	PY=$(CURDIR)/$(BIN)/python benchmarks/gpu_check.sh

# ruff, then the import rules of .importlinter (layering, no cycles, Prefect/Dask only in pipeline)
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The site: benchmark pages and tables regenerated from benchmarks/results/*.json, then built
# with every link, anchor and docstring checked (--strict turns warnings into errors).
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[docs]'
	touch $(DOCS_STAMP)

# (NO_MKDOCS_2_WARNING: the theme's end-of-life banner, otherwise printed on every build)
docs: export NO_MKDOCS_2_WARNING = 1
docs: $(DOCS_STAMP)
	$(BIN)/python -m benchmarks.docs
	$(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache site
