"""Running a denoiser on the test set and measuring it with the paper's protocol.

The test noise is drawn once on all 10,000 test images with a fixed seed; the
paper's metric is the mean over the first 100 of them, and the book also
reports all 10,000. Both therefore see the same noisy images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dae_utils._batching import predict_batched
from dae_utils._validation import check_image_batch, check_positive_int
from dae_utils.config import PAPER
from dae_utils.metrics import Evaluation, evaluate
from dae_utils.noise import add_gaussian_noise

__all__ = ["denoise", "evaluate_model", "noisy_test_images"]


def noisy_test_images(
    clean_test: np.ndarray, *, noise_std: float = PAPER.noise_std, seed: int = PAPER.test_noise_seed
) -> np.ndarray:
    """Draw the test noise once, on the whole test set, with the book's fixed seed."""
    return add_gaussian_noise(check_image_batch(clean_test, name="clean_test"), noise_std, seed=seed)


def denoise(model: Any, noisy_images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Denoise in batches (``model.predict_on_batch``) and return float32 images clipped to [0, 1].

    ``model.predict`` computes the same thing (equal up to float rounding; the shipped checkpoints
    re-score their manifests either way), but under TensorFlow it builds a tf.data pipeline on
    every call, whose teardown can leave the machine idle for seconds (see
    :mod:`dae_utils._pipelines`); batches of a few fixed shapes are traced once.

    Args:
        model: A Keras model mapping (N, H, W, 1) to (N, H, W, 1).
        noisy_images: Floats in [0, 1], shape (N, H, W, 1).
        batch_size: Images per forward pass.

    Returns:
        Float32 array of the same shape as ``noisy_images``.
    """
    noisy_images = check_image_batch(noisy_images, name="noisy_images")
    if noisy_images.ndim == 3:
        noisy_images = noisy_images[..., np.newaxis]
    batch_size = check_positive_int(batch_size, name="batch_size")
    output = predict_batched(model, noisy_images.astype(np.float32), batch_size=batch_size)
    if output.shape != noisy_images.shape:
        raise ValueError(
            f"Expected the model to return images of shape {noisy_images.shape}. Received: shape {output.shape}"
        )
    return np.clip(output, 0.0, 1.0).astype(np.float32)


def evaluate_model(
    model: Any, clean_images: np.ndarray, noisy_images: np.ndarray, *, limit: int | None = None
) -> Evaluation:
    """Denoise ``noisy_images`` with ``model`` and score the result against ``clean_images``.

    Args:
        model: A Keras denoiser.
        clean_images: References, (N, H, W, 1) floats in [0, 1].
        noisy_images: Their noisy versions, same shape.
        limit: Score only the first ``limit`` images (the paper: 100).

    Returns:
        The :class:`~dae_utils.metrics.Evaluation`.
    """
    if limit is not None:
        limit = check_positive_int(limit, name="limit")
        clean_images, noisy_images = clean_images[:limit], noisy_images[:limit]
    return evaluate(clean_images, denoise(model, noisy_images))
