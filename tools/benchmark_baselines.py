"""What does each classical denoiser of chapter 5 cost per image, and what does BM3D's thread pool cost?

Usage::

    python tools/benchmark_baselines.py              # 20 MNIST-sized noisy images
    python tools/benchmark_baselines.py --images 50

Prints, for every method of :data:`dae_utils.baselines.METHODS` at the first value of its grid, the
wall time and the CPU time (all threads of the process) per image. Then BM3D side by side on the same
images: the ``bm3d`` library's default profile (one thread per core) against the one-thread profile
that :mod:`dae_utils.baselines` uses, with the largest difference between their outputs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from dae_utils.baselines import METHODS
from dae_utils.noise import add_gaussian_noise


def per_image_cost(function: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> tuple[float, float, list]:
    """(wall seconds, CPU seconds, outputs) per image, after one warm-up call."""
    function(images[0])
    wall, cpu = time.perf_counter(), time.process_time()
    outputs = [function(image) for image in images]
    return (time.perf_counter() - wall) / len(images), (time.process_time() - cpu) / len(images), outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="noisy test images timed (default 20, at least 1)")
    args = parser.parse_args()
    if args.images < 1:
        parser.error(f"Expected --images of at least 1. Received: {args.images}")

    from dae_utils.data import load_mnist

    _, (x_test, _) = load_mnist()
    images = add_gaussian_noise(x_test[: args.images], seed=0)[..., 0].astype(np.float64)
    print(f"{len(images)} noisy test images, 28 x 28; milliseconds per image")
    print(f"{'method':<20} {'value':>6} {'wall':>8} {'CPU':>8}")
    for method in METHODS.values():
        value = method.grid[0]
        wall, cpu, _ = per_image_cost(lambda image, m=method, v=value: m.function(image, v), images)
        print(f"{method.name:<20} {value:>6} {1000 * wall:>8.1f} {1000 * cpu:>8.1f}")

    import bm3d

    sigma = METHODS["BM3D"].grid[0]
    default_wall, default_cpu, default_out = per_image_cost(lambda image: bm3d.bm3d(image, sigma_psd=sigma), images)
    wall, cpu, out = per_image_cost(lambda image: METHODS["BM3D"].function(image, sigma), images)
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(default_out, out, strict=True))
    print(f"\nBM3D (sigma_psd={sigma}), milliseconds per image")
    print(f"the library's default profile: wall {1000 * default_wall:.1f}, CPU {1000 * default_cpu:.1f}")
    print(f"one thread (the book's):       wall {1000 * wall:.1f}, CPU {1000 * cpu:.1f}")
    print(f"CPU ratio default / one thread: {default_cpu / cpu:.2f}x; wall ratio: {default_wall / wall:.2f}x")
    print(f"largest difference between the outputs: {difference:.2e}")


if __name__ == "__main__":
    main()
