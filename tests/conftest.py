"""Shared fixtures: small synthetic images, and paths of the repository."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def digits(rng: np.random.Generator) -> np.ndarray:
    """Eight synthetic 28x28 'digits': a black background with a bright random stroke."""
    images = np.zeros((8, 28, 28, 1), dtype=np.float32)
    for image in images:
        row = rng.integers(6, 20)
        image[row : row + 3, 5:23, 0] = rng.uniform(0.6, 1.0)
        image[4:24, row : row + 2, 0] = 1.0
    return images


@pytest.fixture(scope="session")
def quick_build() -> Path:
    """Execute the chain with the quick profile and build its book (tools/run_chain.py), once per session.

    Returns the build folder, ``_build/quick``: executed notebooks in ``executed/notebooks/``,
    the site in ``_build/html/``. Notebooks whose inputs have not changed are not executed again.
    """
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "tools" / "run_chain.py"), "--profile", "quick"], cwd=ROOT, check=True)
    return ROOT / "_build" / "quick"
