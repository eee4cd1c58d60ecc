"""Prediction in batches of a few fixed shapes, so that compiled predict functions are traced rarely."""

from __future__ import annotations

from typing import Any

import numpy as np

from dae_utils._validation import check_same_rows

__all__ = ["predict_batched", "predict_padded"]


def predict_padded(model: Any, batch: Any, *, limit: int) -> np.ndarray:
    """``model.predict_on_batch`` on a batch padded with zeros to a power of two (at most ``limit``).

    A compiled predict function is traced once per input shape; padding keeps the shapes to a
    dozen (1, 2, 4, ..., ``limit``) however the callers slice their batches, at most doubling the
    work. Returns float64 outputs for the real rows only.
    """
    arrays = batch if isinstance(batch, tuple) else (batch,)
    count = len(arrays[0])
    size = min(1 << max(count - 1, 0).bit_length(), max(limit, count))
    padded = tuple(np.concatenate([a, np.zeros((size - count, *a.shape[1:]), a.dtype)]) for a in arrays)
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
