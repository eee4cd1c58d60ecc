"""Helper package for the book *Denoising autoencoders, from the paper to practice*.

The package holds the plumbing that the notebooks call: data loading with an
offline fallback (:mod:`dae_utils.data`), the paper's noise
(:mod:`dae_utils.noise`), models (:mod:`dae_utils.models`), metrics
(:mod:`dae_utils.metrics`), training with checkpoints
(:mod:`dae_utils.training`), saved artifacts (:mod:`dae_utils.artifacts`),
figures (:mod:`dae_utils.plotting`), linear baselines and learned codes
(:mod:`dae_utils.representations`), and Part III's generator
(:mod:`dae_utils.generative`, :mod:`dae_utils.sampling`, :mod:`dae_utils.sample_quality`),
and sliders that fall back to a still figure where no one can move them (:mod:`dae_utils.widgets`).
The paper's settings live in one place, :mod:`dae_utils.config`.

Importing the package does no work: submodules are imported when used, so
``import dae_utils`` does not start TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "artifacts",
    "cli",
    "config",
    "data",
    "evaluation",
    "export",
    "generative",
    "glue",
    "imageio",
    "metrics",
    "models",
    "noise",
    "plotting",
    "recipes",
    "reporting",
    "representations",
    "sample_quality",
    "sampling",
    "training",
    "widgets",
]
_SUBMODULES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
