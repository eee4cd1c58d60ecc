"""Benchmark: training speed of the U-Net in float32 and in mixed bfloat16, side by side.

Why the ``unet_64`` recipe trains with ``precision="mixed_bfloat16"``: on a CPU with bfloat16
matrix units (Intel AMX, AVX512-BF16) or a recent GPU, Keras's mixed-precision policy runs the
convolutions in bfloat16, faster by a factor that depends on the machine, while the weights stay
float32. This script
measures it on this machine: for each width it times the same training batches under both
policies, in one process, one after the other, and prints seconds per 50,000-image epoch and
the ratio. On hardware without bfloat16 units the ratio can be below 1.

    python tools/benchmark_precision.py                  # widths 16, 32, 64
    python tools/benchmark_precision.py --filters 64 --images 5120
"""

from __future__ import annotations

import argparse
import os
import time

from dae_utils.config import PAPER

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def seconds_per_epoch(filters: int, precision: str, *, images: int, batch_size: int, repeats: int) -> float:
    """Seconds one 50,000-image training epoch of a ``filters``-wide U-Net takes under ``precision``."""
    import dataclasses

    import keras
    import numpy as np

    from dae_utils.data import VALIDATION_START
    from dae_utils.recipes import get_recipe

    model = dataclasses.replace(get_recipe("unet"), filters=filters).build(precision=precision)
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    clean = np.random.default_rng(0).random((images, 28, 28, 1), dtype=np.float32)
    model.fit(clean, clean, batch_size=batch_size, epochs=1, verbose=0)  # warm-up: tracing, oneDNN kernels
    started = time.perf_counter()
    model.fit(clean, clean, batch_size=batch_size, epochs=repeats, verbose=0)
    return (time.perf_counter() - started) / repeats * VALIDATION_START / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--images", type=int, default=2560, help="images per timed epoch")
    parser.add_argument("--batch-size", type=int, default=PAPER.batch_size)
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per measurement")
    args = parser.parse_args()

    import keras

    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPUs")
    print("| U-Net filters | float32 (s / epoch) | mixed_bfloat16 (s / epoch) | speed-up |")
    print("|---|---|---|---|")
    for filters in args.filters:
        times = {
            precision: seconds_per_epoch(
                filters, precision, images=args.images, batch_size=args.batch_size, repeats=args.repeats
            )
            for precision in ("float32", "mixed_bfloat16")
        }
        ratio = times["float32"] / times["mixed_bfloat16"]
        print(f"| {filters} | {times['float32']:.0f} | {times['mixed_bfloat16']:.0f} | x{ratio:.1f} |", flush=True)


if __name__ == "__main__":
    main()
