# Set-up and everyday commands. `make test` and `make demo` work on a fresh machine:
# they create .venv if missing and install the project with the EXTRAS (default: dev and
# docs; CI adds `distributed` and `rivals`, so the Ray and neuralforecast tests run there and
# skip, naming the extra, where they are missing).
# TORCH pins the torch wheel installed first; CI uses the CPU build that lies on disk.
PYTHON ?= python3
TORCH ?= torch==2.13.0
EXTRAS ?= dev,docs
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo lint clean wheels docs notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

# The fast suite (a few minutes on one core); the slow end-to-end tests (training runs, DDP,
# notebooks, fresh interpreters) are marked `slow` and run by `make test-slow`. CI runs both.
test: $(STAMP)
	$(BIN)/ruff check s4d_forecast tests benchmarks
	$(BIN)/python -m pytest -q -rs -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -rs -m slow $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/s4d-forecast demo $(DEMO_ARGS)

# The API reference site (Sphinx) into docs/_build/html, offline; warnings are errors.
# Stale autosummary stubs (renamed modules) are removed first.
docs: $(STAMP)
	rm -rf docs/_autosummary docs/_generated
	$(BIN)/python -m sphinx -b html -E -W --keep-going -q docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

# Execute notebooks/*.ipynb in place at full settings, one at a time, and store the hash of
# their code cells (tests/test_notebooks.py checks it); NOTEBOOKS="02_s4d_kernels" picks some.
# 03-05 read ../shared/data. Timings: notebooks/README.md.
notebooks: $(STAMP)
	$(BIN)/python notebooks/execute.py $(NOTEBOOKS)

lint: $(STAMP)
	$(BIN)/ruff check s4d_forecast tests benchmarks

# wheels for benchmarks/gpu_check.sh on a machine without network: this project's
# dependencies except torch, downloaded into the git-ignored .wheels/ (same Python version
# and platform as the GPU machine)
wheels: $(BIN)/python
	bash benchmarks/gpu_check.sh --fill-wheels --python $(BIN)/python

clean:
	rm -rf $(VENV) build *.egg-info
