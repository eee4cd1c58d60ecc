"""Prediction in batches of a few fixed shapes, so that compiled predict functions are traced rarely."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from dae_utils._validation import check_same_rows

__all__ = ["padded_size", "predict_batched", "predict_padded"]


def padded_size(count: int, *, limit: int) -> int:
    """The batch size that ``count`` rows are padded to: the smallest ``m * 2**e`` with ``m`` in 4 to 8
    (1 to 4 rows stay as they are) that holds them, at most ``max(limit, count)``.

    Four sizes per doubling (..., 32, 40, 48, 56, 64, ...) keep the traced shapes few however callers
    slice their batches, while padding adds less than a quarter of the rows (a power of two could
    nearly double them: 40 rows would become 64).
    """
    if count <= 4:
        return min(count, max(limit, count))
    shift = count.bit_length() - 3  # count >> shift is 4 to 7
    return min(-(-count >> shift) << shift, max(limit, count))  # ceil(count / 2**shift) * 2**shift


class _RetracingWarning(logging.Filter):
    """Drops TensorFlow's "N out of the last N calls ... triggered tf.function retracing" warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_retracing() -> Iterator[None]:
    """Silence TensorFlow's frequent-retracing warning while the package predicts, and only then.

    TensorFlow counts traces per Python code object, and the predict function of every Keras model
    shares one, so predicting with five models in a row (one trace each, by design) or with a few
    padded shapes prints that warning into a notebook, with memory addresses that change per run.
    """
    if "tensorflow" not in sys.modules:  # another backend: no such warning
        yield
        return
    logger, quiet = logging.getLogger("tensorflow"), _RetracingWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def predict_padded(model: Any, batch: Any, *, limit: int) -> np.ndarray:
    """``model.predict_on_batch`` on a batch padded with zeros to :func:`padded_size` rows.

    A compiled predict function is traced once per input shape; padding keeps the shapes to a few
    per doubling however the callers slice their batches, at the cost of less than a quarter more
    work. TensorFlow's warning about frequent retracing is silenced during the call (see
    :func:`_quiet_retracing`). Returns float64 outputs for the real rows only.
    """
    arrays = batch if isinstance(batch, tuple) else (batch,)
    count = len(arrays[0])
    size = padded_size(count, limit=limit)
    padded = tuple(np.concatenate([a, np.zeros((size - count, *a.shape[1:]), a.dtype)]) for a in arrays)
    with _quiet_retracing():
        output = model.predict_on_batch(padded if isinstance(batch, tuple) else padded[0])
    return np.asarray(output, dtype=np.float64)[:count]


def predict_batched(model: Any, inputs: Any, *, batch_size: int) -> np.ndarray:
    """:func:`predict_padded` over ``inputs`` in slices of ``batch_size`` rows, concatenated (float64).

    ``inputs`` is one array, or a tuple or list of arrays with the same number of rows (at least
    one) for a model with several inputs.

    Raises:
        ValueError: If there are no rows, or the arrays disagree on the number of rows.
    """
    several = isinstance(inputs, (tuple, list))
    arrays = tuple(inputs) if several else (inputs,)
    rows = check_same_rows(arrays, name="the inputs")
    parts = []
    for start in range(0, rows, batch_size):
        batch = tuple(array[start : start + batch_size] for array in arrays)
        parts.append(predict_padded(model, batch if several else batch[0], limit=batch_size))
    return np.concatenate(parts)
