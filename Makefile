# embkit developer commands. Every target installs what it needs, starting from plain python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# -qq: only errors (the machine's pip config may list index folders that pip warns about).
PIP := $(PY) -m pip -qq --disable-pip-version-check
# Two stamps on one .venv: the demo needs the core package and its plot extra only; the
# tests add the dev and docs extras on top (Dask, Ray, torchao, model2vec, pytest, mkdocs).
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed
BENCH_VENV := .bench-venv
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed
# The CPU build of torch that lies on disk; a bare "torch" would pull a multi-GB CUDA build.
TORCH_CPU := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help install test test-all demo bench bench-venv lint format docs clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -m venv $(VENV)

# --no-compile: byte-compiling all of torch at install costs ~17 s; Python compiles only the
# modules it imports, once. uv resolves and downloads the rest in parallel (20 s against pip's
# 53 s, measured on a fresh venv); pip stays the fallback and installs the CPU torch from disk,
# which uv does not look for (torch is already there when uv runs, so it keeps it).
$(DEMO_STAMP): pyproject.toml | $(PY)
	@echo "Installing embkit (core and plot extra, CPU torch) into $(VENV) ..."
	@$(PIP) install --no-compile $(TORCH_CPU)
	@( $(PIP) install --no-compile uv && $(VENV)/bin/uv pip install -q --python $(PY) -e ".[plot]" ) \
		|| $(PIP) install --no-compile -e ".[plot]"
	@touch $@

$(STAMP): pyproject.toml $(DEMO_STAMP)
	@echo "Installing the dev and docs extras into $(VENV) ..."
	@$(PIP) install -e ".[dev,docs]"
	@touch $@

install: $(STAMP) ## Create .venv and install embkit with its dev extras (CPU torch first)

test: install ## Run the test suite (offline; data tests skip without ../shared/data)
	$(PY) -m pytest -q

test-all: install ## Run every test, the slow ones too
	$(PY) -m pytest -q -m "slow or not slow"

demo: $(DEMO_STAMP) ## Run the main job on the bundled model and data
	$(PY) -m embkit compare datasets/rotten_tomatoes.jsonl --test-size 0.25 --cache .cache/embeddings --out demo-output

$(BENCH_STAMP): pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet $(TORCH_CPU)
	$(BENCH_PY) -m pip install --quiet -e ".[dev]" -r benchmarks/requirements.txt
	touch $(BENCH_STAMP)

bench-venv: $(BENCH_STAMP) ## Create the benchmark environment with the baselines (embetter, SetFit)

bench: bench-venv ## Run every benchmark side by side with its baseline (needs ../shared/data)
	$(BENCH_PY) -m benchmarks.run_all

lint: install ## Check style with ruff
	$(VENV)/bin/ruff check embkit tests benchmarks datasets
	$(VENV)/bin/ruff format --check embkit tests benchmarks datasets

format: install ## Format the code with ruff
	$(VENV)/bin/ruff check --fix embkit tests benchmarks datasets
	$(VENV)/bin/ruff format embkit tests benchmarks datasets

docs: install ## Build the static documentation site into site/ (offline)
	$(VENV)/bin/mkdocs build --strict --site-dir site

clean: ## Remove build artefacts and caches (keeps the virtual environments)
	rm -rf build dist site *.egg-info .pytest_cache .ruff_cache demo-output
	find . -name __pycache__ -not -path './.venv/*' -not -path './.bench-venv/*' -prune -exec rm -rf {} +
