"""The paper's corruption: additive Gaussian noise, clipped to [0, 1].

For an image :math:`x` with pixels in [0, 1] the noisy image is

.. math:: \\tilde{x} = \\operatorname{clip}(x + \\sigma\\,\\varepsilon,\\ 0,\\ 1),
   \\qquad \\varepsilon \\sim \\mathcal{N}(0, 1) \\text{ per pixel},

with :math:`\\sigma = 0.5` in the paper.

Chapter 9 tests denoisers on corruptions they were not trained on:
:func:`add_salt_and_pepper`, :func:`add_poisson_noise` and :func:`mask_pixels`.
All functions take an explicit ``seed`` and never modify their input.
"""

from __future__ import annotations

import numpy as np

from dae_utils._validation import check_fraction, check_images, check_seed, check_std
from dae_utils.config import PAPER

__all__ = ["add_gaussian_noise", "add_poisson_noise", "add_salt_and_pepper", "mask_pixels"]


def add_gaussian_noise(images: np.ndarray, std: float = PAPER.noise_std, *, seed: int, clip: bool = True) -> np.ndarray:
    """Add zero-mean Gaussian noise to images, then clip them to [0, 1].

    The same ``seed`` always gives the same noise; the input is never modified.

    Args:
        images: Float array with values in [0, 1], of any shape with 2 to 4
            dimensions, e.g. (N, 28, 28, 1).
        std: Standard deviation of the noise, :math:`\\sigma \\ge 0`.
        seed: Seed of NumPy's PCG64 generator that draws the noise.
        clip: Clip the result to [0, 1] (the paper does).

    Returns:
        A new array of the same shape and dtype as ``images``.

    Raises:
        TypeError: If ``images`` is not a float array, or ``std`` or ``seed``
            has the wrong type.
        ValueError: If ``images`` holds values outside [0, 1] or NaN, or if
            ``std`` or ``seed`` is negative.

    Examples:
        >>> import numpy as np
        >>> clean = np.zeros((2, 28, 28, 1), dtype="float32")
        >>> noisy = add_gaussian_noise(clean, 0.5, seed=0)
        >>> noisy.shape, noisy.dtype, float(noisy.min()) >= 0.0
        ((2, 28, 28, 1), dtype('float32'), True)
    """
    images = check_images(images, name="images")
    std = check_std(std)
    seed = check_seed(seed)
    generator = np.random.default_rng(seed)
    noise = generator.standard_normal(images.shape, dtype=np.float64)
    noisy = images.astype(np.float64) + std * noise
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    return noisy.astype(images.dtype, copy=False)


def add_salt_and_pepper(images: np.ndarray, amount: float, *, seed: int) -> np.ndarray:
    """Set a random fraction ``amount`` of the pixels to 0 or 1, each with probability one half.

    Args:
        images: Floats in [0, 1], 2 to 4 dimensions.
        amount: Fraction of pixels replaced, in [0, 1].
        seed: Seed of the generator.

    Returns:
        A new array of the same shape and dtype.
    """
    images = check_images(images, name="images")
    amount = check_fraction(amount, name="amount", upper_inclusive=True)
    generator = np.random.default_rng(check_seed(seed))
    hit = generator.random(images.shape) < amount
    salt = generator.random(images.shape) < 0.5
    return np.where(hit, salt.astype(images.dtype), images).astype(images.dtype, copy=False)


def add_poisson_noise(images: np.ndarray, peak: float, *, seed: int) -> np.ndarray:
    """Shot noise: count ``Poisson(peak * x)`` photons per pixel, divide by ``peak``, clip to [0, 1].

    A white pixel then has signal-to-noise ratio ``sqrt(peak)``; a black one stays black
    (unlike Gaussian noise, Poisson noise grows with the signal).

    Args:
        images: Floats in [0, 1], 2 to 4 dimensions.
        peak: Expected photon count of a white pixel, > 0 (smaller is noisier).
        seed: Seed of the generator.

    Returns:
        A new array of the same shape and dtype.
    """
    images = check_images(images, name="images")
    peak = check_std(peak, name="peak")
    if peak == 0:
        raise ValueError("Expected `peak` > 0 (the photon count of a white pixel). Received: peak=0.0")
    generator = np.random.default_rng(check_seed(seed))
    counts = generator.poisson(peak * images.astype(np.float64))
    return np.clip(counts / peak, 0.0, 1.0).astype(images.dtype)


def mask_pixels(images: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Set a random ``fraction`` of the pixels to 0 (black), as if they were lost.

    Args:
        images: Floats in [0, 1], 2 to 4 dimensions.
        fraction: Fraction of pixels dropped, in [0, 1].
        seed: Seed of the generator.

    Returns:
        A new array of the same shape and dtype.
    """
    images = check_images(images, name="images")
    fraction = check_fraction(fraction, name="fraction", upper_inclusive=True)
    keep = np.random.default_rng(check_seed(seed)).random(images.shape) >= fraction
    return (images * keep).astype(images.dtype, copy=False)
