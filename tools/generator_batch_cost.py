"""What does a smaller batch cost Part III's generator per training image on this machine?

A smaller batch gives more optimiser steps for the same epochs; on a CPU each image costs a little
more. This tool trains the shipped ``edm_digits`` recipe's network (its precision, optimiser and
loss) on EDM batches of synthetic images, each batch size side by side in one run (``--repeats``
passes, alternating the order; the fastest pass counts, as ``timeit`` advises), and prints the
milliseconds per training image and what an epoch of the book's fit set would take at that rate
(the network and Adam only: no validation pass, batches drawn before the clock starts).
``--filters`` times a wider or narrower network instead, to price a width before training it. It
needs no dataset.

Usage::

    python tools/generator_batch_cost.py                        # 128, 64, 32, twice: about 4 minutes on 2 cores
    python tools/generator_batch_cost.py --batch-sizes 128 64 --images 512 --repeats 1
    python tools/generator_batch_cost.py --batch-sizes 128 --filters 40     # a wider network's cost

Measured on this book's 2-core CPU (TensorFlow, mixed bfloat16, 2026-11-27, the defaults, another
training paused meanwhile): batch 128: 4.17 ms per image (208 s per epoch of 50,000 images); 64:
4.18 ms (1.00 times 128's: ``ratio_to_first``); 32: 4.52 ms (1.09 times). An earlier run that
day, with this tool's first version (one pass, batches drawn inside the clock), gave 64 at 1.03
times 128's. So 30 epochs at batch 64 cost what 30 to 31 epochs at 128 do (the shipped recipe
trains 32), in about twice the optimiser steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dae_utils.recipes import Recipe


def time_batch_size(batch_size: int, *, images: int, recipe: Recipe, warmup_batches: int = 3) -> float:
    """Seconds per training image of a generator recipe's network at ``batch_size``.

    A fresh network of ``recipe`` (a generator recipe, such as the shipped ``edm_digits``; seeded
    by the recipe's seed) trains ``warmup_batches`` untimed batches (tracing and the first
    allocations), then ``max(1, images // batch_size)`` timed ones. The batches are drawn before
    the clock starts, so only the network and Adam are timed. The optimiser's schedule spans these
    few steps, not a whole run's: its learning rate does not change the time a step takes.
    """
    import keras

    from dae_utils.generative import edm_batches
    from dae_utils.training import set_seed

    timed = max(1, images // batch_size)
    count = batch_size * (warmup_batches + timed)
    generator = np.random.default_rng(recipe.seed)
    clean = generator.random((count, 28, 28, 1), dtype=np.float32)
    labels = generator.integers(0, 10, size=count)
    batches = edm_batches(
        clean,
        labels,
        batch_size=batch_size,
        seed=recipe.seed,
        label_dropout=recipe.label_dropout,
        p_mean=recipe.p_mean,
    )
    batches.set_epoch(0)
    drawn = [batches[index] for index in range(warmup_batches + timed)]
    keras.backend.clear_session()
    set_seed(recipe.seed)
    model = recipe.build(precision=recipe.precision)
    model.compile(optimizer=recipe.optimizer(steps=warmup_batches + timed), loss=recipe.loss)
    for inputs, targets in drawn[:warmup_batches]:
        model.train_on_batch(inputs, targets)
    start = time.perf_counter()
    for inputs, targets in drawn[warmup_batches:]:
        model.train_on_batch(inputs, targets)
    return (time.perf_counter() - start) / (timed * batch_size)


def main(argv: list[str] | None = None) -> int:
    from dae_utils.data import VALIDATION_START

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 64, 32], help="batch sizes to time")
    parser.add_argument("--images", type=int, default=2048, help="timed images per batch size and repeat")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the sizes (the fastest counts)")
    parser.add_argument("--filters", type=int, help="channels of the U-Net's first level (default: the recipe's)")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if min(*args.batch_sizes, args.images, args.repeats) < 1:
        parser.error(
            "Expected batch sizes, --images and --repeats of at least 1. "
            f"Received: batch_sizes={args.batch_sizes}, images={args.images}, repeats={args.repeats}"
        )
    if len(set(args.batch_sizes)) != len(args.batch_sizes):
        parser.error(f"Expected different batch sizes. Received: batch_sizes={args.batch_sizes}")
    if args.output is not None and not args.output.parent.is_dir():
        parser.error(f"Expected --output in an existing folder. Received: output={args.output}")
    from dae_utils.recipes import get_recipe

    recipe = get_recipe("edm_digits")
    try:
        recipe = recipe if args.filters is None else dataclasses.replace(recipe, filters=args.filters)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    # Every pass times every size; odd passes go in reverse order, so no size is always timed first.
    seconds = {size: [] for size in args.batch_sizes}
    for repeat in range(args.repeats):
        for size in args.batch_sizes if repeat % 2 == 0 else reversed(args.batch_sizes):
            seconds[size].append(time_batch_size(size, images=args.images, recipe=recipe))
    fastest = {size: min(times) for size, times in seconds.items()}
    first = fastest[args.batch_sizes[0]]
    results = {}
    for size in args.batch_sizes:
        results[size] = {
            "ms_per_image": round(1000 * fastest[size], 3),
            "ratio_to_first": round(fastest[size] / first, 3),
            "seconds_per_epoch": round(fastest[size] * VALIDATION_START, 1),
            "ms_per_image_each_repeat": [round(1000 * value, 3) for value in seconds[size]],
            "filters": recipe.filters,
        }
        print(f"batch {size}: {json.dumps(results[size])}", flush=True)
    if args.output is not None:
        from dae_utils.artifacts import atomic_write_json

        atomic_write_json(args.output, {str(size): result for size, result in results.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
