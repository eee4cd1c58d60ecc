"""What does a smaller batch cost Part III's generator per training image on this machine?

A smaller batch gives more optimiser steps for the same epochs; on a CPU each image costs a little
more. This tool trains the shipped ``edm_digits`` recipe's network (its precision, optimiser and
loss) on EDM batches of synthetic images, each batch size side by side in one run, and prints the
milliseconds per training image and what an epoch of the book's fit set would take at that rate
(the network and Adam only: no validation pass, no data loading). It needs no dataset.

Usage::

    python tools/generator_batch_cost.py                        # 128, 64, 32: about 2 minutes on 2 cores
    python tools/generator_batch_cost.py --batch-sizes 128 64 --images 512

Measured on this book's 2-core CPU (TensorFlow, mixed bfloat16, 2026-11-27, the default 2,048
images per size, another training paused meanwhile): batch 128: 3.89 ms per image (194 s per epoch
of 50,000 images); 64: 4.00 ms (1.03 times 128's); 32: 4.13 ms (1.06 times). So 30 epochs at batch
64 cost about what 31 epochs at 128 do (the shipped recipe trains 32), while taking twice the steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def time_batch_size(batch_size: int, *, images: int, warmup_batches: int = 3) -> float:
    """Seconds per training image of the shipped generator's network at ``batch_size``.

    A fresh network (the recipe's seed) trains ``warmup_batches`` untimed batches (tracing and
    the first allocations), then ``max(1, images // batch_size)`` timed ones.
    """
    import keras

    from dae_utils.generative import edm_batches
    from dae_utils.recipes import get_recipe
    from dae_utils.training import set_seed

    recipe = get_recipe("edm_digits")
    timed = max(1, images // batch_size)
    count = batch_size * (warmup_batches + timed)
    generator = np.random.default_rng(recipe.seed)
    clean = generator.random((count, 28, 28, 1), dtype=np.float32)
    labels = generator.integers(0, 10, size=count)
    set_seed(recipe.seed)
    model = recipe.build(precision=recipe.precision)
    model.compile(optimizer=recipe.optimizer(steps=warmup_batches + timed), loss=recipe.loss)
    batches = edm_batches(
        clean,
        labels,
        batch_size=batch_size,
        seed=recipe.seed,
        label_dropout=recipe.label_dropout,
        p_mean=recipe.p_mean,
    )
    batches.set_epoch(0)
    for index in range(warmup_batches):
        model.train_on_batch(*batches[index])
    start = time.perf_counter()
    for index in range(warmup_batches, warmup_batches + timed):
        model.train_on_batch(*batches[index])
    seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return seconds / (timed * batch_size)


def main(argv: list[str] | None = None) -> int:
    from dae_utils.data import VALIDATION_START

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 64, 32], help="batch sizes to time")
    parser.add_argument("--images", type=int, default=2048, help="timed images per batch size")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if any(size < 1 for size in args.batch_sizes) or args.images < 1:
        parser.error(
            f"Expected batch sizes and --images of at least 1. Received: batch_sizes={args.batch_sizes}, "
            f"images={args.images}"
        )
    if args.output is not None and not args.output.parent.is_dir():
        parser.error(f"Expected --output in an existing folder. Received: {args.output}")
    per_image, results = {}, {}
    for batch_size in args.batch_sizes:
        per_image[batch_size] = time_batch_size(batch_size, images=args.images)
        results[batch_size] = {
            "ms_per_image": round(1000 * per_image[batch_size], 3),
            "ratio_to_first": round(per_image[batch_size] / per_image[args.batch_sizes[0]], 3),
            "seconds_per_epoch": round(per_image[batch_size] * VALIDATION_START, 1),
        }
        print(f"batch {batch_size}: {json.dumps(results[batch_size])}", flush=True)
    if args.output is not None:
        from dae_utils.artifacts import atomic_write_json

        atomic_write_json(args.output, {str(size): result for size, result in results.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
