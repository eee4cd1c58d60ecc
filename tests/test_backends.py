"""Keras 3 runs the book on JAX and PyTorch too: train, save, load in safe mode, predict and score.

Each backend runs ``tests/backend_check.py`` in its own process. JAX is part of the test
environment (``requirements.txt``); PyTorch is heavy, so ``make test-backends`` installs it and
runs these tests again, and a backend that is not installed is skipped here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dae_utils.recipes import PAPER_TASK_ARCHITECTURES, RECIPES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

#: Mean PSNR (dB) and SSIM on the first 100 test images may differ from the TensorFlow-made manifest
#: by float32 rounding in another backend's convolutions, and no more.
PSNR_TOLERANCE, SSIM_TOLERANCE = 1e-3, 1e-4


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_backend_trains_reproducibly_and_scores_every_checkpoint_as_its_manifest(backend):
    """Also Part III: the classifier's accuracy, and the generator's first digits from the manifest's seed."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (`make test-backends` installs PyTorch)")
    environment = os.environ | {"KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "backend_check.py")],
        env=environment, cwd=ROOT, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    assert report["same_seed_same_weights"], "two runs with one seed gave different weights"
    assert math.isfinite(report["trained_psnr"])  # the model trained on this backend predicts and scores
    denoisers = [recipe.name for recipe in RECIPES if recipe.architecture in PAPER_TASK_ARCHITECTURES]
    assert sorted(report["checkpoints"]) == sorted(denoisers)  # every shipped denoiser, dense ones included
    for name, scores in report["checkpoints"].items():
        assert abs(scores["psnr"] - scores["manifest_psnr"]) < PSNR_TOLERANCE, name
        assert abs(scores["ssim"] - scores["manifest_ssim"]) < SSIM_TOLERANCE, name
    part_three = report["part_three"]
    assert abs(part_three["accuracy"] - part_three["manifest_accuracy"]) <= 2e-4  # at most 2 of 10,000 test images
    for run in ("classes", "autoguided_classes"):
        same = sum(a == b for a, b in zip(part_three[run], part_three[f"manifest_{run}"], strict=True))
        assert same >= len(part_three[run]) - 1, f"the generator drew other digits from the same seed ({run})"
