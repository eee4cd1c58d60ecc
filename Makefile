# The two commands of the README: `make book` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Find the venv's own Jupyter kernel first, and keep TensorFlow's C++ start-up chatter out of logs.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONUNBUFFERED := 1

.PHONY: book book-student test test-fast test-backends test-rescore test-floors data pretrained onnx benchmark lint format clean help

help:
	@echo "make book        set up (Python venv, npm ci), run the notebook chain at the paper's settings, render _build/html with the demos"
	@echo "make book-student  the same book without the solutions, in _build/paper/student/_build/html"
	@echo "make test        set up, run the test suite (unit tests, quick chain + nbval, Colab emulation, JAX, browser)"
	@echo "make test-fast   the unit tests alone (no real data, no notebooks): under 2 minutes"
	@echo "make test-backends  install PyTorch (CPU wheel) and check training and every checkpoint on it"
	@echo "make test-rescore  re-score every shipped denoiser on its whole test and validation sets (make test: the first 100 test images)"
	@echo "make test-floors  the unit tests on the oldest releases pyproject.toml allows (a fresh venv; needs the index)"
	@echo "make pretrained  retrain the shipped checkpoints in dae_utils/pretrained/ from scratch"
	@echo "make onnx        convert the book's models to ONNX in _build/onnx (ONNX Runtime matches Keras within 1e-5 for the denoisers; the generator and its guide within 1e-4, measured 3.2e-5 and 1.7e-5)"
	@echo "make benchmark   training speed of the U-Net in float32 and mixed bfloat16, side by side"
	@echo "make lint        ruff check and format check"
	@echo "make clean       remove _build/ and artifacts/ (keeps .venv and the data cache)"

# uv installs the pinned requirements the way pip does (the same resolution, `pip freeze` identical)
# and, like pip, compiles their bytecode at install time (else every process that first imports
# TensorFlow compiles it again); pip takes over where uv cannot run (uv does not read pip's
# configuration: a local index, say). Measured on 2 cores: into a new venv with empty caches, pip
# 75 s, uv 15 s without compiling the bytecode; with uv's cache warm, 27 s compiling it. The emulated
# Colab of `make test` installs with it too (tests/test_colab.py).
UV := uv==0.13.9
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(UV) \
		&& $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt \
		|| { echo "uv could not install requirements.txt (above); installing it with pip" >&2; \
		     $(PY) -m pip install --quiet -r requirements.txt; }
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m dae_utils data

# The in-page demos' runtime (onnxruntime-web, pinned in package-lock.json), served with the site.
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package.json package-lock.json
	@command -v npm > /dev/null 2>&1 || { echo "The book's in-page demos need Node.js 18 or newer with npm: install them (https://nodejs.org, or apt-get install nodejs npm), then run make again." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

book: data $(NODE_STAMP)
	$(PY) tools/run_chain.py --profile paper

book-student: data $(NODE_STAMP)
	$(PY) tools/run_chain.py --profile paper --student

test: data $(NODE_STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not notebooks and not colab" -q

# PyTorch is pinned to the release whose CPU wheel these machines hold on disk; on another machine
# the same pin downloads a multi-GB CUDA build, which is why `make test` does not install it. Where
# the environment names pip's wheel folders (PIP_FIND_LINKS, space-separated), uv installs it from
# them (uv reads only its own settings: UV_FIND_LINKS, comma-separated): on 2 cores 20 s with pip,
# under a second with uv's cache warm (no bytecode compiled up front). Everywhere else pip installs
# it, reading its own configuration, and pip takes over where uv fails.
TORCH := torch==2.13.0
test-backends: data
	if [ -n "$${PIP_FIND_LINKS:-}" ]; then \
		UV_FIND_LINKS="$$(printf '%s' "$$PIP_FIND_LINKS" | tr -s ' ' ',')" $(PY) -m uv pip install --quiet --python $(PY) $(TORCH) \
		|| { echo "uv could not install $(TORCH) (above); installing it with pip" >&2; $(PY) -m pip install --quiet $(TORCH); }; \
	else $(PY) -m pip install --quiet $(TORCH); fi
	$(PY) -m pytest tests/test_backends.py -q -k torch

# Every shipped denoiser on the whole test and validation sets its manifest scored, and all three of the
# generator's fingerprinted runs (README: its time).
test-rescore: data
	$(PY) -m dae_utils data --fashion
	DAE_RESCORE_ALL=1 $(PY) -m pytest tests/test_pretrained.py -q \
		-k "test_checkpoint_still_scores_its_manifest or test_the_generator_regenerates_its_first_samples"

# Minutes, and network access to the package index: is every floor of pyproject.toml true?
test-floors: $(STAMP)
	$(PY) tools/check_floors.py

# Hours of CPU (about 9 h on two cores: 4.9 h for the denoisers, then Part III's classifier, 5 min, the
# generator's autoguidance guide, 12 min of training and 17 min of scoring, and the generator, about 2 h
# of training and 0.8 h of scoring 30,000 generated digits, timed with the guide at every noise level (its
# interval since saves about 2.5 minutes), then 20 min to score the generator with the guide at every level
# beside it, for chapter 11's comparison; the manifests record the exact times). Every model is a recipe (dae_utils/recipes.py) trained by
# `python -m dae_utils train NAME`: first the dropout candidates (the chosen rate must then be
# dae_utils.config's; a test checks), then every shipped recipe, then the best denoiser is chosen
# on validation scores. Selections write a record; no checkpoint is renamed or copied.
DROPOUT_RUNS := artifacts/dropout_selection
pretrained: data
	$(PY) -m dae_utils data --fashion
	set -e; for name in $$($(PY) -m dae_utils recipes --candidates-of dropout_selection); do \
		$(PY) -m dae_utils train $$name --output-dir $(DROPOUT_RUNS); done
	$(PY) -m dae_utils select dropout_selection --directory $(DROPOUT_RUNS) --output-dir dae_utils/pretrained
	set -e; for name in $$($(PY) -m dae_utils recipes); do $(PY) -m dae_utils train $$name; done
	$(PY) -m dae_utils select best_denoiser
	$(PY) tools/autoguidance_scale.py --record --intervals all

# Seconds: the paper's model, the U-Net, the best denoiser and Part III's generator and its guide as ONNX files.
onnx: data
	$(PY) -m dae_utils export --output-dir _build/onnx

# Minutes: prints seconds per epoch of the U-Net under both precisions (why unet_64 trains in bfloat16).
benchmark: $(STAMP)
	$(PY) tools/benchmark_precision.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf _build artifacts
