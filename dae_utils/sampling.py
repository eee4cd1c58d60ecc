"""Samplers that turn a noise-conditional denoiser into a generator (Part III).

Both integrate from a high noise level down to zero along EDM's schedule (:func:`edm_sigmas`),
asking the :class:`~dae_utils.generative.Denoiser` ``D(x; sigma)`` at every level:

- :func:`heun_sample`: the deterministic probability-flow ODE, ``dx/dsigma = (x - D(x; sigma)) / sigma``,
  with Heun's second-order method (Karras et al., 2022, Algorithm 1): ``2 * steps - 1``
  evaluations of the network.
- :func:`ancestral_sample`: a stochastic sampler. Each step draws ``x`` at the next, lower level
  from the Gaussian that it would have if the clean image were ``D(x; sigma)``:
  mean ``D + (s'/s)**2 (x - D)``, std ``s' * sqrt(1 - (s'/s)**2)`` (the variance-exploding
  form of Ho et al.'s 2020 ancestral step). Started from a noisy image at its noise level, it
  draws from the posterior of clean images given that noisy one. Each step uses the denoiser's
  mean where the clean image's whole posterior belongs, so with few steps the samples are a
  little under-dispersed; ``tests/test_sampling.py`` measures it on Gaussian data, where the
  posterior is known exactly (40 steps: spread 6% too small; 300 steps: 1%).

:func:`prior_labels` draws the digits to ask for at the class frequencies of the labels it is
given (the book gives the fit images'): a conditional denoiser without guidance, asked for those,
samples ``sum_y p(y) p_theta(x | y)``, the network's second estimate of all digits besides the
"no label" one, ``p_theta(x | no label)``.

Every sampler takes a ``callback(step, x, denoised)`` to watch it (the book's figures and widget).
Images are on the model's [-1, 1] scale inside; the samplers return [0, 1] images.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from dae_utils._validation import check_positive_int, check_seed
from dae_utils.generative import (
    NULL_LABEL,
    SIGMA_MAX,
    SIGMA_MIN,
    Autoguided,
    Denoiser,
    check_guidance,
    check_labels,
    check_sigma,
    from_model_scale,
)

__all__ = ["RHO", "ancestral_sample", "edm_sigmas", "heun_sample", "prior_labels"]

#: Curvature of EDM's noise schedule (their choice: steps crowd towards the low levels).
RHO = 7.0

Callback = Callable[[int, np.ndarray, np.ndarray], None]


def edm_sigmas(
    steps: int, *, sigma_max: float = SIGMA_MAX, sigma_min: float = SIGMA_MIN, rho: float = RHO
) -> np.ndarray:
    """EDM's noise levels: ``steps`` levels from ``sigma_max`` to ``sigma_min``, then 0.

    ``sigma_i = (sigma_max**(1/rho) + i / (steps - 1) * (sigma_min**(1/rho) - sigma_max**(1/rho)))**rho``.

    Returns:
        A float64 array of ``steps + 1`` levels, decreasing, the last one 0.
    """
    steps = check_positive_int(steps, name="steps")
    sigma_max, sigma_min = (
        float(check_sigma(sigma_max, name="sigma_max")),
        float(check_sigma(sigma_min, name="sigma_min")),
    )
    if sigma_min > sigma_max:
        raise ValueError(f"Expected sigma_min <= sigma_max. Received: sigma_min={sigma_min}, sigma_max={sigma_max}")
    if steps == 1:
        return np.array([sigma_max, 0.0])
    ramp = np.linspace(0.0, 1.0, steps)
    levels = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.append(levels, 0.0)


def prior_labels(training_labels: Any, count: int, *, seed: int = 0) -> np.ndarray:
    """Draw ``count`` digits at random, each with its share of ``training_labels``.

    Asking a conditional denoiser for these digits, without guidance (``guidance=0``), samples
    ``sum_y p(y) p_theta(x | y)``: an unconditional generator that never uses the "no label" token,
    and the usual way to score a class-conditional generator when no digit is requested. (With
    guidance, the samples lean towards digits that make their label likely instead.)

    Args:
        training_labels: (N,) integer digits 0-9, N >= 1: the labels whose frequencies to follow.
        count: Number of digits to draw.
        seed: Seed of the draw; the same seed gives the same digits.

    Returns:
        (count,) int32 digits 0-9.
    """
    training_labels = check_labels(training_labels, allow_null=False, name="training_labels")
    if training_labels.ndim != 1 or not len(training_labels):
        raise ValueError(
            f"Expected `training_labels` to be a non-empty 1-D array of digits. Received: shape {training_labels.shape}"
        )
    count = check_positive_int(count, name="count")
    frequencies = np.bincount(training_labels, minlength=10) / len(training_labels)
    return np.random.default_rng(check_seed(seed)).choice(10, size=count, p=frequencies).astype(np.int32)


def _start(
    labels: Any, count: int | None, start: np.ndarray | None, sigma: float, generator: np.random.Generator
) -> tuple:
    if labels is None:
        if count is None and start is None:
            raise ValueError("Expected `labels` (digits to ask for, or None with `count`) or a `start` image batch.")
        count = len(start) if count is None else check_positive_int(count, name="count")
        labels = np.full(count, NULL_LABEL, dtype=np.int32)
    else:
        labels = check_labels(np.atleast_1d(labels))
    if start is None:
        return labels, sigma * generator.standard_normal((len(labels), 28, 28, 1))
    start = np.asarray(start, dtype=np.float64)
    if start.shape != (len(labels), 28, 28, 1):
        raise ValueError(f"Expected `start` of shape ({len(labels)}, 28, 28, 1). Received: shape {start.shape}")
    return labels, start.copy()


def heun_sample(
    denoiser: Denoiser | Autoguided,
    labels: Any = None,
    *,
    count: int | None = None,
    steps: int = 18,
    guidance: float = 0.0,
    seed: int = 0,
    sigma_max: float = SIGMA_MAX,
    callback: Callback | None = None,
) -> np.ndarray:
    """Generate digits with the deterministic Heun sampler (Karras et al., 2022, Algorithm 1).

    Args:
        denoiser: A :class:`~dae_utils.generative.Denoiser`, or an
            :class:`~dae_utils.generative.Autoguided` one.
        labels: The digit (0-9) to ask for, per sample; ``None`` and ``count`` for unconditional
            samples.
        count: Number of unconditional samples (with ``labels=None``).
        steps: Noise levels visited (``2 * steps - 1`` network evaluations per sample).
        guidance: Classifier-free guidance scale ``w`` (0: none).
        seed: Seed of the starting noise; the same seed gives the same digits.
        sigma_max: Starting noise level.
        callback: Called as ``callback(step, x, denoised)`` after every step.

    Returns:
        (N, 28, 28, 1) float32 images in [0, 1].
    """
    guidance = check_guidance(guidance)
    sigmas = edm_sigmas(steps, sigma_max=sigma_max)
    labels, x = _start(labels, count, None, sigmas[0], np.random.default_rng(check_seed(seed)))
    for step, (sigma, next_sigma) in enumerate(itertools.pairwise(sigmas)):
        denoised = denoiser(x, sigma, labels, guidance=guidance)
        slope = (x - denoised) / sigma
        x_next = x + (next_sigma - sigma) * slope
        if next_sigma > 0:  # Heun's correction: average the slope at both ends
            denoised_next = denoiser(x_next, next_sigma, labels, guidance=guidance)
            x_next = x + (next_sigma - sigma) * 0.5 * (slope + (x_next - denoised_next) / next_sigma)
        x = x_next
        if callback is not None:
            callback(step, x, denoised)
    return from_model_scale(x)


def ancestral_sample(
    denoiser: Denoiser | Autoguided,
    labels: Any = None,
    *,
    count: int | None = None,
    steps: int = 40,
    guidance: float = 0.0,
    seed: int = 0,
    start: np.ndarray | None = None,
    sigma_start: float = SIGMA_MAX,
    callback: Callback | None = None,
) -> np.ndarray:
    """Generate digits, or posterior samples of a noisy image, with the stochastic ancestral sampler.

    Args:
        denoiser, labels, count, guidance, callback: As in :func:`heun_sample`.
        steps: Noise levels visited (one network evaluation each).
        seed: Seed of the starting noise and of every step's noise.
        start: [-1, 1]-scale images at noise level ``sigma_start`` to start from (posterior
            sampling), or ``None`` to start from pure noise of that level.
        sigma_start: The starting noise level (``SIGMA_MAX`` to generate; the noisy image's
            level for posterior sampling, e.g. 1.0 for std 0.5 on [0, 1] images).

    Returns:
        (N, 28, 28, 1) float32 images in [0, 1].
    """
    guidance = check_guidance(guidance)
    sigma_start = float(check_sigma(sigma_start, name="sigma_start"))
    sigmas = edm_sigmas(steps, sigma_max=sigma_start, sigma_min=min(SIGMA_MIN, sigma_start))
    generator = np.random.default_rng(check_seed(seed))
    labels, x = _start(labels, count, start, sigmas[0], generator)
    for step, (sigma, next_sigma) in enumerate(itertools.pairwise(sigmas)):
        denoised = denoiser(x, sigma, labels, guidance=guidance)
        ratio = (next_sigma / sigma) ** 2
        x = denoised + ratio * (x - denoised)
        if next_sigma > 0:
            x = x + next_sigma * np.sqrt(1.0 - ratio) * generator.standard_normal(x.shape)
        if callback is not None:
            callback(step, x, denoised)
    return from_model_scale(x)
