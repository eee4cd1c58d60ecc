"""The paper's corruption: additive Gaussian noise, clipped to [0, 1].

For an image :math:`x` with pixels in [0, 1] the noisy image is

.. math:: \\tilde{x} = \\operatorname{clip}(x + \\sigma\\,\\varepsilon,\\ 0,\\ 1),
   \\qquad \\varepsilon \\sim \\mathcal{N}(0, 1) \\text{ per pixel},

with :math:`\\sigma = 0.5` in the paper.
"""

from __future__ import annotations

import numpy as np

from dae_utils._validation import check_images, check_seed, check_std

__all__ = ["add_gaussian_noise"]


def add_gaussian_noise(images: np.ndarray, std: float = 0.5, *, seed: int, clip: bool = True) -> np.ndarray:
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
