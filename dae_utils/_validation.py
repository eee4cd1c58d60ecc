"""Validators shared by the public functions of :mod:`dae_utils`.

Each raises :class:`TypeError` or :class:`ValueError` with a message that says
what was received, what is expected and, where it helps, what to do next.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return f"{value!r} of type {type(value).__name__}"


def check_seed(seed: Any, *, name: str = "seed") -> int:
    """Return ``seed`` as an ``int`` after checking it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Expected `{name}` to be a non-negative integer. Received: {name}={_describe(seed)}")
    if seed < 0:
        raise ValueError(f"Expected `{name}` to be a non-negative integer. Received: {name}={seed}")
    return int(seed)


def check_positive_int(value: Any, *, name: str) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected `{name}` to be a positive integer. Received: {name}={_describe(value)}")
    if value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value}")
    return int(value)


def check_fraction(value: Any, *, name: str, upper_inclusive: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (or [0, 1] with ``upper_inclusive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected `{name}` to be a number in [0, 1). Received: {name}={_describe(value)}")
    value = float(value)
    upper_ok = value <= 1.0 if upper_inclusive else value < 1.0
    if not (np.isfinite(value) and value >= 0.0 and upper_ok):
        interval = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ValueError(f"Expected `{name}` to be in {interval}. Received: {name}={value}")
    return value


def check_finite(value: Any, *, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite real number (of any sign)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected `{name}` to be a finite number. Received: {name}={_describe(value)}")
    if not np.isfinite(value):
        raise ValueError(f"Expected `{name}` to be a finite number. Received: {name}={value}")
    return float(value)


def check_std(std: Any, *, name: str = "std") -> float:
    """Return a noise standard deviation as a float after checking it is finite and >= 0."""
    if isinstance(std, bool) or not isinstance(std, numbers.Real):
        raise TypeError(f"Expected `{name}` to be a non-negative number. Received: {name}={_describe(std)}")
    std = float(std)
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"Expected `{name}` to be a finite number >= 0. Received: {name}={std}")
    return std


def check_images(
    images: Any,
    *,
    name: str = "images",
    ndims: tuple[int, ...] = (2, 3, 4),
    unit_range: bool = True,
) -> np.ndarray:
    """Check an image or a batch of images and return it as a floating NumPy array.

    Args:
        images: Array-like of floats.
        name: The argument's name, used in error messages.
        ndims: Accepted numbers of dimensions.
        unit_range: Require every value to lie in [0, 1].

    Returns:
        The images as a NumPy array with their own floating dtype (not copied
        when already an array).

    Raises:
        TypeError: If ``images`` is not numeric or has an integer or boolean dtype.
        ValueError: If it has the wrong number of dimensions, is empty, holds
            NaN or infinity, or (with ``unit_range``) values outside [0, 1].
    """
    if not isinstance(images, np.ndarray):
        if hasattr(images, "numpy"):  # a tensor from any Keras backend
            images = images.numpy()
        try:
            images = np.asarray(images)
        except (TypeError, ValueError) as error:
            raise TypeError(f"Expected `{name}` to be an array of floats. Received: {_describe(images)}") from error
    if images.dtype == object or not np.issubdtype(images.dtype, np.number):
        raise TypeError(f"Expected `{name}` to be an array of floats. Received: {_describe(images)}")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(
            f"Expected `{name}` to hold floats in [0, 1]. Received: {_describe(images)}. "
            "Convert 8-bit images first, e.g. `images.astype('float32') / 255`."
        )
    if images.ndim not in ndims:
        raise ValueError(
            f"Expected `{name}` to have {' or '.join(map(str, ndims))} dimensions. "
            f"Received: {name} with shape {images.shape}"
        )
    if images.size == 0:
        raise ValueError(f"Expected `{name}` to hold at least one pixel. Received: {name} with shape {images.shape}")
    if not np.all(np.isfinite(images)):
        count = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
        raise ValueError(f"Expected `{name}` to be finite. Received: {count} NaN or infinite values")
    if unit_range:
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"Expected `{name}` to lie in [0, 1]. Received: values from {low:g} to {high:g}. "
                "Scale the images to [0, 1] first."
            )
    return images


def check_image_batch(images: Any, *, name: str = "images") -> np.ndarray:
    """Check a batch of grey images of shape (N, H, W) or (N, H, W, 1)."""
    images = check_images(images, name=name, ndims=(3, 4))
    if images.ndim == 4 and images.shape[-1] != 1:
        raise ValueError(
            f"Expected `{name}` to have shape (N, H, W, 1) or (N, H, W), one grey channel. "
            f"Received: {name} with shape {images.shape}"
        )
    return images


def check_same_shape(first: np.ndarray, second: np.ndarray, *, names: tuple[str, str]) -> None:
    """Raise ``ValueError`` unless two arrays have the same shape."""
    if first.shape != second.shape:
        raise ValueError(
            f"Expected `{names[0]}` and `{names[1]}` to have the same shape. Received: {first.shape} and {second.shape}"
        )


def check_same_rows(arrays: Any, *, name: str) -> int:
    """The number of rows shared by every array of a (nested) tuple, list or dict; at least one.

    Raises ``ValueError`` naming ``name`` and the rows received when they disagree or are zero.
    """
    import keras

    rows = [len(array) for array in keras.tree.flatten(arrays)]
    if not rows or min(rows) != max(rows) or rows[0] == 0:
        raise ValueError(f"Expected {name} to have the same number of rows, at least one. Received: {rows}")
    return rows[0]
