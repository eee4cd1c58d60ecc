"""A thin wrapper over ``model.fit``: seeds, one log line per epoch, resumable runs.

:func:`fit` writes into ``output_dir``:

- ``history.json``: the losses and seconds of every finished epoch, rewritten
  atomically after each epoch;
- ``backup/``: Keras's :class:`~keras.callbacks.BackupAndRestore` state, so a
  run that is interrupted resumes at its last finished epoch when started
  again with the same ``output_dir``; it is deleted when training ends.

The model kept is the last epoch's: nothing is chosen by the validation loss. Saving the
trained model is the caller's job (:func:`dae_utils.recipes.run` saves it with its manifest).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dae_utils._pipelines import fit_inputs
from dae_utils._validation import (
    check_image_batch,
    check_positive_int,
    check_same_shape,
    check_seed,
    check_std,
)
from dae_utils.artifacts import atomic_write_json

__all__ = [
    "TrainingResult",
    "fit",
    "fit_examples",
    "fit_fresh_noise",
    "fresh_noise_batches",
    "seeded_batches",
    "set_seed",
]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, and make the backend's ops deterministic.

    Call it before building a model: the seed fixes the initial weights too. TensorFlow and
    PyTorch are switched to their deterministic kernels; JAX on a CPU is deterministic already
    (on a GPU, set ``XLA_FLAGS=--xla_gpu_deterministic_ops=true`` before starting Python).
    """
    import keras

    keras.utils.set_random_seed(check_seed(seed))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class TrainingResult:
    """What :func:`fit` returns.

    Attributes:
        model: The trained model (its final weights).
        history: Per-epoch lists: ``loss``, ``val_loss`` and ``seconds``.
    """

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds of the epochs trained."""
        return float(np.mean(self.history["seconds"]))

    @property
    def total_seconds(self) -> float:
        """Wall-clock seconds of all epochs, including those before a resume."""
        return float(np.sum(self.history["seconds"]))


def _make_callbacks(output_dir: Path, epochs: int) -> list[Any]:
    import keras

    class EpochLog(keras.callbacks.Callback):
        """Prints one line per epoch and keeps ``history.json`` up to date."""

        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float]] | None = None

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            if self.history is None:  # first epoch of this call: keep what a resumed run had done
                self.history = _read_history(output_dir / "history.json", keep=epoch)
                if epoch:
                    print(f"Resuming from the backup in {output_dir / 'backup'} at epoch {epoch + 1}/{epochs}")
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds = time.perf_counter() - self.started
            logs = dict(logs or {})
            for key, value in logs.items():
                self.history.setdefault(key, []).append(float(value))
            self.history.setdefault("seconds", []).append(seconds)
            atomic_write_json(output_dir / "history.json", self.history)
            shown = "  ".join(f"{key} {value:.4f}" for key, value in logs.items())
            print(f"epoch {epoch + 1:>3}/{epochs}  {shown}  {seconds:.1f} s", flush=True)

    backup = keras.callbacks.BackupAndRestore(str(output_dir / "backup"), double_checkpoint=True)
    return [backup, EpochLog()]


def _read_history(path: Path, *, keep: int) -> dict[str, list[float]]:
    if not path.exists() or keep == 0:
        return {}
    history = json.loads(path.read_text(encoding="utf-8"))
    return {key: values[:keep] for key, values in history.items()}


def fit(
    model: Any,
    noisy_images: np.ndarray,
    clean_images: np.ndarray,
    *,
    validation_data: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
    seed: int,
    output_dir: str | Path,
    callbacks: list[Any] | None = None,
) -> TrainingResult:
    """Train a compiled denoiser with ``model.fit``, checkpointing into ``output_dir``.

    Runs ``model.fit(noisy_images, clean_images, validation_data=..., shuffle=True,
    verbose=0)`` after seeding (under TensorFlow on the same batches through a pipeline without
    autotuning: see :mod:`dae_utils._pipelines`), prints one line per epoch, and resumes an
    interrupted run found in ``output_dir``.

    Args:
        model: A compiled :class:`keras.Model`.
        noisy_images: Inputs, floats in [0, 1], shape (N, H, W, 1).
        clean_images: Targets of the same shape.
        validation_data: ``(noisy, clean)`` pair evaluated after each epoch.
        epochs: Number of epochs (in total, counting those before a resume).
        batch_size: Mini-batch size.
        seed: Seed of shuffling and dropout (see :func:`set_seed`).
        output_dir: Folder for ``history.json`` and the backup of an interrupted run.
        callbacks: Extra Keras callbacks, run before the backup and the epoch log.

    Returns:
        A :class:`TrainingResult`.

    Raises:
        TypeError, ValueError: On images of the wrong type, shape or range, a
            model that is not compiled, or a non-positive ``epochs``/``batch_size``.
    """
    noisy_images = check_image_batch(noisy_images, name="noisy_images")
    clean_images = check_image_batch(clean_images, name="clean_images")
    check_same_shape(noisy_images, clean_images, names=("noisy_images", "clean_images"))
    validation, epochs, batch_size = _check_fit_arguments(model, validation_data, epochs, batch_size)
    return _fit(
        model,
        (noisy_images, clean_images),
        validation=validation,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        output_dir=output_dir,
        callbacks=callbacks,
    )


def _check_fit_arguments(model: Any, validation_data: Any, epochs: Any, batch_size: Any) -> tuple:
    if not (isinstance(validation_data, tuple) and len(validation_data) == 2):
        raise TypeError(f"Expected `validation_data` to be a (noisy, clean) tuple. Received: {type(validation_data)}")
    val_noisy = check_image_batch(validation_data[0], name="validation_data[0]")
    val_clean = check_image_batch(validation_data[1], name="validation_data[1]")
    check_same_shape(val_noisy, val_clean, names=("validation_data[0]", "validation_data[1]"))
    epochs = check_positive_int(epochs, name="epochs")
    batch_size = check_positive_int(batch_size, name="batch_size")
    if not getattr(model, "compiled", False):
        raise ValueError("Expected a compiled model. Call `model.compile(optimizer=..., loss=...)` first.")
    return (val_noisy, val_clean), epochs, batch_size


def _fit(
    model: Any,
    training: Any,
    *,
    validation: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
    seed: int,
    output_dir: str | Path,
    callbacks: list[Any] | None = None,
) -> TrainingResult:
    import keras

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    callbacks = list(callbacks or [])
    if hasattr(training, "set_epoch"):  # a dataset that draws new examples every epoch
        callbacks.append(
            keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: training.set_epoch(epoch))
        )
    all_callbacks = callbacks + _make_callbacks(output_dir, epochs)
    # Arrays are batched and shuffled as Keras does; a PyDataset makes its own batches.
    options, validation = fit_inputs(training, validation, batch_size=batch_size)
    model.fit(validation_data=validation, epochs=epochs, verbose=0, callbacks=all_callbacks, **options)
    return TrainingResult(model=model, history=all_callbacks[-1].history or {})


def fresh_noise_batches(
    clean_images: np.ndarray, *, noise_std: float | tuple[float, float], batch_size: int, seed: int
) -> Any:
    """A :class:`keras.utils.PyDataset` of (noisy, clean) batches with new noise every epoch.

    Batch ``b`` of epoch ``e`` holds the images ``permutation_e[b * batch_size : (b + 1) * batch_size]``
    and its noise is drawn from ``numpy.random.default_rng([seed, e, b])``: the same seed gives
    the same batches, a resumed run draws exactly what an uninterrupted one would have, and
    no noisy copy of the training set is ever stored. Call ``set_epoch(e)`` before epoch ``e``
    (:func:`fit_fresh_noise` does it with a callback).

    Args:
        clean_images: Floats in [0, 1], shape (N, H, W, 1).
        noise_std: The noise's standard deviation, or ``(low, high)``: then each image draws
            its own standard deviation uniformly from that range (a "blind" denoiser).
        batch_size: Images per batch.
        seed: Seed of the shuffling and the noise.

    Returns:
        The dataset; ``len(dataset)`` is the number of batches per epoch.
    """
    clean_images = check_image_batch(clean_images, name="clean_images")
    batch_size = check_positive_int(batch_size, name="batch_size")
    seed = check_seed(seed)
    if isinstance(noise_std, tuple):
        if len(noise_std) != 2:
            raise ValueError(f"Expected `noise_std` to be a float or a (low, high) pair. Received: {noise_std!r}")
        low, high = (check_std(value, name="noise_std") for value in noise_std)
        if low > high:
            raise ValueError(f"Expected noise_std=(low, high) with low <= high. Received: noise_std={noise_std!r}")
    else:
        low = high = check_std(noise_std, name="noise_std")

    def noisy_batch(chosen: np.ndarray, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        clean = clean_images[chosen]
        std = generator.uniform(low, high, size=(len(clean), 1, 1, 1)) if high > low else low
        noise = generator.standard_normal(clean.shape)
        return np.clip(clean + std * noise, 0.0, 1.0).astype(clean.dtype), clean

    return seeded_batches(len(clean_images), noisy_batch, batch_size=batch_size, seed=seed)


def seeded_batches(
    count: int, make_batch: Callable[[np.ndarray, np.random.Generator], Any], *, batch_size: int, seed: int
) -> Any:
    """A :class:`keras.utils.PyDataset` over ``count`` examples, shuffled anew and seeded every epoch.

    Batch ``b`` of epoch ``e`` is ``make_batch(indices, generator)``: ``indices`` are
    ``permutation_e[b * batch_size : (b + 1) * batch_size]`` with ``permutation_e`` drawn from
    ``numpy.random.default_rng([seed, e])``, and ``generator`` is ``numpy.random.default_rng([seed,
    e, b])`` for whatever the batch draws (noise, noise levels, dropped labels). So the same seed
    gives the same batches, and a resumed run draws exactly what an uninterrupted one would have.
    Call ``set_epoch(e)`` before epoch ``e`` (:func:`fit` and :func:`fit_examples` do it with a callback).
    """
    import keras

    count = check_positive_int(count, name="count")
    batch_size = check_positive_int(batch_size, name="batch_size")
    seed = check_seed(seed)

    class SeededBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            self.order = np.random.default_rng([seed, epoch]).permutation(count)

        def __len__(self) -> int:
            return (count + batch_size - 1) // batch_size

        def __getitem__(self, index: int) -> Any:
            chosen = self.order[index * batch_size : (index + 1) * batch_size]
            return make_batch(chosen, np.random.default_rng([seed, self.epoch, index]))

    return SeededBatches()


def fit_fresh_noise(
    model: Any,
    clean_images: np.ndarray,
    *,
    noise_std: float | tuple[float, float],
    validation_data: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
    seed: int,
    output_dir: str | Path,
) -> TrainingResult:
    """Like :func:`fit`, but every epoch sees new noise (see :func:`fresh_noise_batches`).

    The paper draws the training noise once, so its model sees each noisy image 15 times
    and can start to memorise the noise; here no noisy image is ever seen twice.

    Args:
        model: A compiled :class:`keras.Model`.
        clean_images: Training targets, floats in [0, 1], shape (N, H, W, 1).
        noise_std: Standard deviation, or a ``(low, high)`` range drawn per image.
        validation_data: ``(noisy, clean)`` pair with fixed noise, evaluated after each epoch.
        epochs, batch_size, seed, output_dir: As in :func:`fit`.

    Returns:
        A :class:`TrainingResult`.
    """

    validation, epochs, batch_size = _check_fit_arguments(model, validation_data, epochs, batch_size)
    batches = fresh_noise_batches(clean_images, noise_std=noise_std, batch_size=batch_size, seed=seed)
    return _fit(
        model, batches, validation=validation, epochs=epochs, batch_size=batch_size, seed=seed, output_dir=output_dir
    )


def fit_examples(
    model: Any,
    examples: Any,
    *,
    validation_data: tuple,
    epochs: int,
    batch_size: int,
    seed: int,
    output_dir: str | Path,
) -> TrainingResult:
    """Like :func:`fit`, for models that are not (noisy, clean) denoisers: Part III's classifier and EDM.

    Args:
        model: A compiled :class:`keras.Model`.
        examples: An ``(inputs, targets)`` pair of arrays, or a :class:`keras.utils.PyDataset`
            that makes its own batches (with ``set_epoch(e)`` if it draws new ones every epoch,
            like :func:`dae_utils.generative.edm_batches`).
        validation_data: ``(inputs, targets)`` evaluated after each epoch.
        epochs, batch_size, seed, output_dir: As in :func:`fit`.
    """
    import keras

    if not (isinstance(validation_data, tuple) and len(validation_data) == 2):
        raise TypeError(
            f"Expected `validation_data` to be an (inputs, targets) tuple. Received: {type(validation_data)}"
        )
    if not (isinstance(examples, keras.utils.PyDataset) or (isinstance(examples, tuple) and len(examples) == 2)):
        raise TypeError(f"Expected an (inputs, targets) tuple or a keras.utils.PyDataset. Received: {type(examples)}")
    epochs = check_positive_int(epochs, name="epochs")
    batch_size = check_positive_int(batch_size, name="batch_size")
    if not getattr(model, "compiled", False):
        raise ValueError("Expected a compiled model. Call `model.compile(optimizer=..., loss=...)` first.")
    return _fit(
        model,
        examples,
        validation=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        output_dir=output_dir,
    )
