"""How much time does ``dae_utils``'s training pipeline save over Keras's own, under TensorFlow?

Usage::

    python tools/benchmark_pipelines.py                 # 12,850 images, 4 epochs, the paper's model
    python tools/benchmark_pipelines.py --images 60000 --epochs 3

Trains the paper's model twice from the same seed on the same random images, side by side in one
process, after a short warm-up run: once on the NumPy arrays (Keras builds its tf.data pipeline,
autotuning on), once on :func:`dae_utils._pipelines.fit_inputs` (the same batches, autotuning
off). Prints every epoch's seconds, the totals and their ratio, and whether the two trained models
have identical weights. TensorFlow only: JAX and PyTorch do not use tf.data.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def train(make_inputs: Callable[[], tuple[dict, Any]], *, epochs: int, seed: int) -> tuple[list[float], float, str]:
    """Seed, build the paper's model, fit on ``make_inputs()``; return epoch seconds, total and a weight hash."""
    import keras

    from dae_utils.models import build_paper_autoencoder
    from dae_utils.training import set_seed

    seconds: list[float] = []
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs=None: seconds.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs=None: seconds.append(seconds.pop() + time.perf_counter()),
    )
    set_seed(seed)  # before the pipeline is built: its shuffling takes the global seed
    fit_keywords, validation = make_inputs()
    model = build_paper_autoencoder()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    started = time.perf_counter()
    model.fit(validation_data=validation, epochs=epochs, verbose=0, callbacks=[clock], **fit_keywords)
    total = time.perf_counter() - started
    weights = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
    return seconds, total, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_850, help="random 28x28 training images")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run")
    arguments = parser.parse_args()
    backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise SystemExit(f"Expected KERAS_BACKEND=tensorflow (the only backend that uses tf.data). Received: {backend}")

    from dae_utils._pipelines import fit_inputs
    from dae_utils.config import PAPER

    rng = np.random.default_rng(0)
    noisy = rng.random((arguments.images, 28, 28, 1), dtype=np.float32)
    clean = (noisy > 0.5).astype(np.float32)
    validation = (noisy[: min(10_000, arguments.images)], clean[: min(10_000, arguments.images)])
    batch_size, seed = PAPER.batch_size, PAPER.seed
    pipelines = {
        "Keras's pipeline (autotuning on)": lambda: (
            {"x": noisy, "y": clean, "batch_size": batch_size, "shuffle": True},
            validation,
        ),
        "dae_utils pipeline (autotuning off)": lambda: fit_inputs((noisy, clean), validation, batch_size=batch_size),
    }
    warm_up = (noisy[:1280], clean[:1280])
    train(lambda: fit_inputs(warm_up, warm_up, batch_size=batch_size), epochs=1, seed=seed)  # one-off costs
    runs = {name: train(make, epochs=arguments.epochs, seed=seed) for name, make in pipelines.items()}
    print(f"The paper's model, {arguments.images:,} images, batch {batch_size}, {arguments.epochs} epochs:")
    for name, (seconds, total, _) in runs.items():
        print(f"  {name:<36} {total:6.1f} s   epochs: " + ", ".join(f"{s:.1f}" for s in seconds))
    (_, keras_total, keras_weights), (_, package_total, package_weights) = runs.values()
    print(f"  ratio: {keras_total / package_total:.2f}x; identical weights: {keras_weights == package_weights}")


if __name__ == "__main__":
    main()
