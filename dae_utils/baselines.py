"""Classical denoisers as honest baselines, tuned on validation images, never on the test set.

Every method maps one noisy (H, W) image in [0, 1] to an estimate, with one tunable parameter.
Clipped Gaussian noise is biased (a black pixel gets brighter by about 0.2 at sigma = 0.5), so
every method can also be *debiased*: a filter estimates the local mean of the noisy image,
which is :math:`f(x) = \\mathbb{E}[\\operatorname{clip}(x + \\sigma\\varepsilon, 0, 1)]` rather than
:math:`x`; applying :math:`f^{-1}` to its output (:func:`clipped_mean_inverse`) removes the bias.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from dae_utils._validation import check_image_batch, check_std
from dae_utils.metrics import psnr_per_image, summarize

__all__ = [
    "METHODS",
    "Method",
    "apply_method",
    "clipped_mean",
    "clipped_mean_inverse",
    "debias",
    "fit_linear_filter",
    "tune",
]


@dataclass(frozen=True)
class Method:
    """A classical denoiser: ``function(image, value)`` with ``parameter`` swept over ``grid``."""

    name: str
    parameter: str
    grid: tuple[float, ...]
    function: Callable[[np.ndarray, float], np.ndarray]


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(image, sigma=sigma, mode="nearest")


def _median(image: np.ndarray, size: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.median_filter(image, size=int(size), mode="nearest")


def _total_variation(image: np.ndarray, weight: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(image, weight=weight)


def _wavelet(image: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(image, sigma=sigma, mode="soft", method="BayesShrink", wavelet="db2", rescale_sigma=False)


def _nl_means(image: np.ndarray, h: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(image, h=h, patch_size=3, patch_distance=5, fast_mode=True)


def _bm3d(image: np.ndarray, sigma_psd: float) -> np.ndarray:
    import bm3d

    # One thread: the library's default starts a thread per core whose pool waits by spinning, which
    # on a 28 x 28 image doubles the CPU time for the same wall time and leaves the outputs depending
    # on the thread count (the library says so); tools/benchmark_baselines.py measures both.
    profile = bm3d.BM3DProfile()
    profile.num_threads = 1
    return np.asarray(bm3d.bm3d(image, sigma_psd=sigma_psd, profile=profile), dtype=np.float64)


#: The classical methods, each with the grid its parameter is tuned over.
METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("Gaussian filter", "sigma", (0.5, 0.75, 1.0, 1.25, 1.5, 2.0), _gaussian),
        Method("median filter", "size", (3, 5), _median),
        Method("total variation", "weight", (0.1, 0.2, 0.3, 0.5, 0.8), _total_variation),
        Method("wavelet shrinkage", "sigma", (0.2, 0.3, 0.4, 0.5, 0.6), _wavelet),
        Method("non-local means", "h", (0.1, 0.2, 0.3, 0.4, 0.5), _nl_means),
        Method("BM3D", "sigma_psd", (0.2, 0.25, 0.3, 0.4), _bm3d),
    )
}


def clipped_mean(x: np.ndarray, std: float) -> np.ndarray:
    """:math:`f(x) = \\mathbb{E}[\\operatorname{clip}(x + \\sigma Z, 0, 1)]` for clean values x in [0, 1].

    Uses :math:`\\mathbb{E}[\\operatorname{clip}(Y, 0, 1)] = \\int_0^1 P(Y > t)\\,dt` with
    :math:`Y \\sim \\mathcal{N}(x, \\sigma^2)`, integrated numerically (exact to about 1e-6).
    """
    from scipy.special import ndtr

    std = check_std(std)
    x = np.asarray(x, dtype=np.float64)
    if std == 0:
        return np.clip(x, 0.0, 1.0)
    t = np.linspace(0.0, 1.0, 401)
    survival = ndtr((x[..., np.newaxis] - t) / std)  # P(Y > t)
    return np.trapezoid(survival, t, axis=-1)


def clipped_mean_inverse(values: np.ndarray, std: float) -> np.ndarray:
    """Invert :func:`clipped_mean`: the clean value whose clipped noisy mean is ``values``.

    Values outside the range of f (below f(0), above f(1)) map to 0 and 1.
    """
    grid = np.linspace(0.0, 1.0, 1001)
    means = clipped_mean(grid, std)
    return np.interp(np.asarray(values, dtype=np.float64), means, grid)


def debias(estimates: np.ndarray, noise_std: float) -> np.ndarray:
    """Undo the clipping bias in a filter's output: :func:`clipped_mean_inverse`, as float32 in [0, 1]."""
    return np.clip(clipped_mean_inverse(estimates, noise_std), 0.0, 1.0).astype(np.float32)


def apply_method(method: Method, noisy: np.ndarray, value: float, *, debias_std: float | None = None) -> np.ndarray:
    """Denoise every image of a batch with one method and parameter value.

    Args:
        method: One of :data:`METHODS`.
        noisy: (N, H, W, 1) or (N, H, W) floats in [0, 1].
        value: The method's parameter.
        debias_std: If given, the noise level used to undo the clipping bias.

    Returns:
        (N, H, W, 1) float32 estimates in [0, 1].
    """
    noisy = check_image_batch(noisy, name="noisy")
    images = noisy[..., 0] if noisy.ndim == 4 else noisy
    output = np.clip(np.stack([method.function(image.astype(np.float64), value) for image in images]), 0.0, 1.0)
    output = output.astype(np.float32)[..., np.newaxis]
    return output if debias_std is None else debias(output, debias_std)


def tune(method: Method, clean: np.ndarray, noisy: np.ndarray, *, noise_std: float) -> dict[str, dict]:
    """Tune a method's parameter on (validation) images, with and without debiasing.

    Each parameter value is run once; its output is scored as it is and after
    :func:`clipped_mean_inverse`. Whether the images are enough to tell the winner from the
    runner-up is measured on the same images, paired: the per-image PSNR differences between the
    two, summarised with a 95% interval (:func:`~dae_utils.metrics.summarize`).

    Args:
        method: One of :data:`METHODS`.
        clean, noisy: Validation pairs, (N, H, W, 1) floats in [0, 1]. Never the test set.
        noise_std: The noise level, for debiasing.

    Returns:
        ``{"raw": {"best": value, "scores": {value: mean PSNR}, "runner_up": value,
        "margin": {"mean", "std", "ci95_low", "ci95_high", "n"}}, "debiased": {...}}``; the margin
        is the best value's PSNR minus the runner-up's (dB), image by image. With a one-value grid,
        ``runner_up`` and ``margin`` are ``None``.
    """
    clean = check_image_batch(clean, name="clean")
    per_image: dict[str, dict[float, np.ndarray]] = {"raw": {}, "debiased": {}}
    for value in method.grid:
        raw = apply_method(method, noisy, value)
        per_image["raw"][value] = psnr_per_image(clean, raw)
        per_image["debiased"][value] = psnr_per_image(clean, debias(raw, noise_std))
    tuned = {}
    for kind, table in per_image.items():
        scores = {value: float(np.mean(values)) for value, values in table.items()}
        ranked = sorted(scores, key=scores.get, reverse=True)
        best, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        margin = None if runner_up is None else asdict(summarize(table[best] - table[runner_up]))
        tuned[kind] = {"best": best, "scores": scores, "runner_up": runner_up, "margin": margin}
    return tuned


def fit_linear_filter(clean: np.ndarray, noisy: np.ndarray, *, size: int = 7) -> Callable[[np.ndarray], np.ndarray]:
    """The best linear shift-invariant estimator: a ``size`` x ``size`` filter plus a constant,
    fitted by least squares on (noisy, clean) training pairs.

    Returns:
        A function mapping a batch (N, H, W, 1) of noisy images to estimates clipped to [0, 1].
    """
    clean = check_image_batch(clean, name="clean")
    noisy = check_image_batch(noisy, name="noisy")
    if size % 2 != 1 or size < 1:
        raise ValueError(f"Expected an odd positive filter size. Received: size={size}")

    def patches(images: np.ndarray) -> np.ndarray:
        images = images[..., 0] if images.ndim == 4 else images
        pad = size // 2
        padded = np.pad(images.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)), mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(1, 2))
        flat = windows.reshape(-1, size * size)
        return np.hstack([flat, np.ones((len(flat), 1))])

    design = patches(noisy)
    target = (clean[..., 0] if clean.ndim == 4 else clean).reshape(-1).astype(np.float64)
    weights, *_ = np.linalg.lstsq(design, target, rcond=None)

    def apply(images: np.ndarray) -> np.ndarray:
        images = check_image_batch(images, name="images")
        shape = images.shape[:3]
        return np.clip(patches(images) @ weights, 0.0, 1.0).reshape(shape).astype(np.float32)[..., np.newaxis]

    apply.weights = weights  # type: ignore[attr-defined]
    return apply
