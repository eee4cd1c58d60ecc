"""How much faster is scoring a batch at once than scikit-image's one call per image?

Usage::

    python tools/benchmark_metrics.py            # 2,000 MNIST-sized pairs, best of 3
    python tools/benchmark_metrics.py --images 10000

Times :func:`dae_utils.metrics.evaluate`'s two functions against the per-image calls of
``skimage.metrics.peak_signal_noise_ratio`` and ``structural_similarity`` (the reference they
must equal), side by side on the same random pairs, and prints the largest difference between them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dae_utils.metrics import psnr_per_image, ssim_per_image


def per_image(clean: np.ndarray, denoised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = list(zip(clean[..., 0].astype(np.float64), denoised[..., 0].astype(np.float64), strict=True))
    psnr = np.array([peak_signal_noise_ratio(c, d, data_range=1.0) for c, d in pairs])
    ssim = np.array([structural_similarity(c, d, data_range=1.0) for c, d in pairs])
    return psnr, ssim


def batched(clean: np.ndarray, denoised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return psnr_per_image(clean, denoised), ssim_per_image(clean, denoised)


def best_time(function, *arguments, repeats: int) -> tuple[float, tuple]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function(*arguments)
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="random 28x28 pairs scored")
    parser.add_argument("--repeats", type=int, default=3, help="timings per method; the best is kept")
    arguments = parser.parse_args()
    rng = np.random.default_rng(0)
    clean = rng.random((arguments.images, 28, 28, 1)).astype("float32")
    denoised = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype("float32")
    reference_seconds, reference = best_time(per_image, clean, denoised, repeats=arguments.repeats)
    package_seconds, package = best_time(batched, clean, denoised, repeats=arguments.repeats)
    gap = max(float(np.abs(a - b).max()) for a, b in zip(reference, package, strict=True))
    print(f"{arguments.images:,} pairs, best of {arguments.repeats}:")
    print(f"  scikit-image, one call per image: {reference_seconds:.3f} s")
    print(
        f"  dae_utils.metrics, whole batch:   {package_seconds:.3f} s "
        f"({reference_seconds / package_seconds:.1f}x faster)"
    )
    print(f"  largest difference in PSNR or SSIM: {gap:.1e}")


if __name__ == "__main__":
    main()
