"""Reading and writing single grey images as PNG files (for ``python -m dae_utils denoise``)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from dae_utils._validation import check_images
from dae_utils.artifacts import atomic_write_bytes

__all__ = ["read_grey_png", "write_grey_png"]


def read_grey_png(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as one grey float32 image in [0, 1], shape (H, W).

    Colour images are converted to grey (ITU-R 601 luma); height and width
    must be multiples of 4 for the book's models (MNIST's 28x28 is).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a readable image, or its sides are not multiples of 4.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {path}")
    try:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"Could not read {path} as an image: {error}") from error
    if grey.shape[0] % 4 or grey.shape[1] % 4:
        raise ValueError(
            f"Expected an image whose height and width are multiples of 4 (e.g. 28x28). "
            f"Received: {grey.shape[0]}x{grey.shape[1]} pixels in {path}"
        )
    return grey


def write_grey_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write one grey image, floats in [0, 1] of shape (H, W), as an 8-bit PNG (atomically)."""
    from PIL import Image

    image = check_images(image, name="image", ndims=(2,))
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
