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

.PHONY: book book-student test data pretrained benchmark lint format clean help

help:
	@echo "make book        set up, run the notebook chain at the paper's settings, render _build/html"
	@echo "make book-student  the same book without the solutions, in _build/paper/student/_build/html"
	@echo "make test        set up, run the test suite (unit tests, quick chain + nbval, quick book, browser)"
	@echo "make pretrained  retrain the shipped checkpoints in dae_utils/pretrained/ from scratch"
	@echo "make benchmark   training speed of the U-Net in float32 and mixed bfloat16, side by side"
	@echo "make lint        ruff check and format check"
	@echo "make clean       remove _build/ and artifacts/ (keeps .venv and the data cache)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m dae_utils data

book: data
	$(PY) tools/run_chain.py --profile paper

book-student: data
	$(PY) tools/run_chain.py --profile paper --student

test: data
	$(PY) -m pytest

# Hours of CPU (about 4.9 h on two cores): the dropout rate is chosen on a validation split
# (dae_utils.config must then hold the winner; chapter 3 checks it), the paper's model is trained
# with it, then every recipe of chapters 6-7, and the best one by validation PSNR becomes
# best_denoiser.keras.
pretrained: data
	$(PY) -m dae_utils select-dropout --profile paper --candidates 0.0 0.1 0.2 0.3 \
		--output dae_utils/pretrained/dropout_selection.json
	$(PY) -m dae_utils train --profile paper --output dae_utils/pretrained/paper_autoencoder.keras
	$(PY) -m dae_utils data --fashion
	set -e; for name in $$($(PY) -c "from dae_utils.variants import VARIANTS; print(*(v.name for v in VARIANTS))"); do \
		$(PY) -m dae_utils train-variant $$name; done
	$(PY) -m dae_utils select-best

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
