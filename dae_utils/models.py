"""Denoisers in Keras's Functional API: the paper's autoencoder and two models past it.

- :func:`build_paper_autoencoder`: the paper's encoder-decoder (chapters 2-4).
- :func:`build_unet`: the same idea with skip connections between encoder and decoder.
- :func:`build_residual_denoiser`: a small residual network (DnCNN's idea, far shallower) that
  predicts the noise and subtracts it, at full resolution.
- :func:`build_dense_autoencoder`: a fully connected autoencoder with a ``code_size``-number
  bottleneck (chapter 6's bottleneck experiment).

All four map (None, H, W, 1) floats in [0, 1] to the same shape, and load with plain
``keras.models.load_model`` in safe mode: only built-in layers are used.
:func:`multiply_adds` counts the cost of one forward pass; :func:`receptive_field` measures how
far one output pixel sees.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from dae_utils._batching import predict_padded
from dae_utils._validation import check_fraction, check_positive_int
from dae_utils.config import PAPER

__all__ = [
    "CODE_LAYER",
    "FEATURES_LAYER",
    "build_classifier",
    "build_dense_autoencoder",
    "build_paper_autoencoder",
    "build_residual_denoiser",
    "build_unet",
    "multiply_adds",
    "receptive_field",
]

#: Name of the classifier's penultimate layer, whose outputs are the features of the Frechet distance.
FEATURES_LAYER = "features"
#: Name of the dense autoencoder's bottleneck layer, whose outputs are the image's code.
CODE_LAYER = "code"
#: Rows per batch of :func:`receptive_field`: a grey image and the probes compared with it.
_PROBE_BATCH = 256


def build_paper_autoencoder(
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = PAPER.filters,
    kernel_size: int = PAPER.kernel_size,
    dropout_rate: float = PAPER.dropout_rate,
    padding: str = PAPER.padding,
    name: str = "paper_autoencoder",
) -> Any:
    """Build the paper's autoencoder (uncompiled).

    Encoder: twice [Conv2D(filters, kernel, ReLU) -> MaxPooling2D(2) -> Dropout].
    Decoder, mirroring it: twice [Conv2D(filters, kernel, ReLU) -> UpSampling2D(2)],
    then Conv2D(1, kernel, sigmoid) so every output pixel lies in (0, 1).

    Args:
        input_shape: Shape of one image, (height, width, 1); height and width
            must be divisible by 4.
        filters: Filters of every convolution but the last (the paper: 64).
        kernel_size: Side of every kernel (the paper: 3).
        dropout_rate: Dropout after each pooling layer. The paper does not give
            it; the book chose 0.1 on a validation split (see ``dae_utils.config``).
        padding: ``"same"`` (the book's choice: sizes stay 28 -> 14 -> 7 -> 14 -> 28).
        name: The model's name.

    Returns:
        An uncompiled :class:`keras.Model` mapping (None, H, W, 1) to (None, H, W, 1).

    Raises:
        TypeError, ValueError: If an argument has the wrong type or value.
    """
    import keras  # no TensorFlow at import time

    filters = check_positive_int(filters, name="filters")
    kernel_size = check_positive_int(kernel_size, name="kernel_size")
    dropout_rate = check_fraction(dropout_rate, name="dropout_rate")
    if padding != "same":
        raise ValueError(
            "Expected padding='same' (the only padding that keeps 28 -> 14 -> 7 -> 14 -> 28). "
            f"Received: padding={padding!r}"
        )
    _check_input_shape(input_shape, multiple=4)

    def conv(x: Any, layer_name: str) -> Any:
        return keras.layers.Conv2D(filters, kernel_size, activation="relu", padding=padding, name=layer_name)(x)

    inputs = keras.Input(shape=input_shape, name="noisy_image")
    x = conv(inputs, "encoder_conv_1")
    x = keras.layers.MaxPooling2D(2, name="encoder_pool_1")(x)
    x = keras.layers.Dropout(dropout_rate, name="encoder_dropout_1")(x)
    x = conv(x, "encoder_conv_2")
    x = keras.layers.MaxPooling2D(2, name="encoder_pool_2")(x)
    x = keras.layers.Dropout(dropout_rate, name="encoder_dropout_2")(x)
    x = conv(x, "decoder_conv_1")
    x = keras.layers.UpSampling2D(2, name="decoder_upsample_1")(x)
    x = conv(x, "decoder_conv_2")
    x = keras.layers.UpSampling2D(2, name="decoder_upsample_2")(x)
    outputs = keras.layers.Conv2D(
        1, kernel_size, activation="sigmoid", padding=padding, name="denoised_image", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _check_input_shape(input_shape: Any, *, multiple: int) -> None:
    if (
        not isinstance(input_shape, tuple)
        or len(input_shape) != 3
        or input_shape[2] != 1
        or not all(isinstance(side, int) and side > 0 and side % multiple == 0 for side in input_shape[:2])
    ):
        raise ValueError(
            f"Expected `input_shape` to be (height, width, 1) with height and width divisible by {multiple}. "
            f"Received: input_shape={input_shape!r}"
        )


def build_unet(
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 16,
    depth: int = 2,
    name: str = "unet",
) -> Any:
    """Build a small U-Net (Ronneberger et al., 2015): the paper's model plus skip connections.

    Each encoder level is two 3x3 ReLU convolutions then 2x2 max pooling, doubling the
    filters; the bottom level has two convolutions; each decoder level upsamples,
    concatenates the encoder's features of the same size (the skip connection), and
    applies two convolutions; a 1x1 sigmoid convolution gives the image. The skips hand
    the decoder the fine detail that pooling threw away, so the bottleneck only has to
    decide *what* the digit is.

    Args:
        input_shape: (height, width, 1), height and width divisible by ``2**depth``.
        filters: Filters at full resolution; level ``k`` has ``filters * 2**k``.
        depth: Number of poolings (2 for 28 -> 14 -> 7).
        name: The model's name.

    Returns:
        An uncompiled :class:`keras.Model` mapping (None, H, W, 1) to (None, H, W, 1).
    """
    import keras

    filters = check_positive_int(filters, name="filters")
    depth = check_positive_int(depth, name="depth")
    _check_input_shape(input_shape, multiple=2**depth)

    def block(x: Any, width: int, prefix: str) -> Any:
        for index in (1, 2):
            x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{prefix}_conv_{index}")(x)
        return x

    inputs = keras.Input(shape=input_shape, name="noisy_image")
    x = inputs
    skips = []
    for level in range(depth):
        x = block(x, filters * 2**level, f"encoder_{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder_{level + 1}_pool")(x)
    x = block(x, filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        x = keras.layers.UpSampling2D(2, name=f"decoder_{level + 1}_upsample")(x)
        x = keras.layers.Concatenate(name=f"decoder_{level + 1}_skip")([x, skips[level]])
        x = block(x, filters * 2**level, f"decoder_{level + 1}")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="denoised_image", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_residual_denoiser(
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 32,
    depth: int = 6,
    name: str = "residual_denoiser",
) -> Any:
    """Build a small residual denoiser after DnCNN (Zhang et al., 2017): shallower, no batch normalization.

    ``depth`` 3x3 convolutions at full resolution (ReLU between them, linear at the end)
    estimate the noise; the model returns ``noisy - noise`` clipped to [0, 1] (a
    ``ReLU(max_value=1)`` layer). It never pools, so its receptive field is only
    ``2 * depth + 1`` pixels wide.

    Args:
        input_shape: (height, width, 1).
        filters: Filters of every convolution but the last.
        depth: Number of convolutions (at least 2).
        name: The model's name.

    Returns:
        An uncompiled :class:`keras.Model` mapping (None, H, W, 1) to (None, H, W, 1).
    """
    import keras

    filters = check_positive_int(filters, name="filters")
    depth = check_positive_int(depth, name="depth")
    if depth < 2:
        raise ValueError(f"Expected depth >= 2 (a first and a last convolution). Received: depth={depth}")
    _check_input_shape(input_shape, multiple=1)

    inputs = keras.Input(shape=input_shape, name="noisy_image")
    x = inputs
    for index in range(1, depth):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{index}")(x)
    noise = keras.layers.Conv2D(1, 3, padding="same", name="estimated_noise")(x)
    x = keras.layers.Subtract(name="subtract_noise")([inputs, noise])
    outputs = keras.layers.ReLU(max_value=1.0, name="denoised_image", dtype="float32")(x)  # clip to [0, 1]
    return keras.Model(inputs, outputs, name=name)


def build_dense_autoencoder(
    *,
    code_size: int,
    hidden_units: int = 512,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    name: str | None = None,
) -> Any:
    """Build a fully connected autoencoder with a ``code_size``-number bottleneck (uncompiled).

    Flatten -> Dense(hidden_units, ReLU) -> Dense(code_size) named :data:`CODE_LAYER` (linear, so a
    2-number code can be drawn in a plane) -> Dense(hidden_units, ReLU) -> Dense(H * W, sigmoid)
    -> Reshape. Every output pixel depends on the whole image, but only through ``code_size`` numbers.

    Returns:
        An uncompiled :class:`keras.Model` mapping (None, H, W, 1) to (None, H, W, 1), named
        ``dense_autoencoder_<code_size>`` unless ``name`` is given.
    """
    import keras

    code_size = check_positive_int(code_size, name="code_size")
    hidden_units = check_positive_int(hidden_units, name="hidden_units")
    _check_input_shape(input_shape, multiple=1)
    pixels = int(input_shape[0] * input_shape[1] * input_shape[2])
    inputs = keras.Input(shape=input_shape, name="noisy_image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(hidden_units, activation="relu", name="encoder_dense")(x)
    code = keras.layers.Dense(code_size, name=CODE_LAYER)(x)
    x = keras.layers.Dense(hidden_units, activation="relu", name="decoder_dense")(code)
    x = keras.layers.Dense(pixels, activation="sigmoid", name="decoder_pixels", dtype="float32")(x)
    outputs = keras.layers.Reshape(input_shape, name="denoised_image")(x)
    return keras.Model(inputs, outputs, name=name or f"dense_autoencoder_{code_size}")


def build_classifier(
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 32,
    dropout_rate: float = 0.25,
    name: str = "mnist_classifier",
) -> Any:
    """Build a small digit classifier (uncompiled): Part III's judge of generated digits.

    Two blocks of [3x3 conv, 3x3 conv (ReLU), 2x2 max pooling, dropout] with ``filters`` then
    ``2 * filters`` channels, a 128-unit ReLU layer named :data:`FEATURES_LAYER` (the features of
    the Frechet distance), dropout, and a 10-way softmax.

    Returns:
        An uncompiled :class:`keras.Model` mapping (None, 28, 28, 1) images in [0, 1] to (None, 10)
        class probabilities.
    """
    import keras

    filters = check_positive_int(filters, name="filters")
    dropout_rate = check_fraction(dropout_rate, name="dropout_rate")
    _check_input_shape(input_shape, multiple=4)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for level, width in enumerate((filters, 2 * filters), start=1):
        for index in (1, 2):
            x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"block_{level}_conv_{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block_{level}_pool")(x)
        x = keras.layers.Dropout(dropout_rate, name=f"block_{level}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = keras.layers.Dropout(2 * dropout_rate, name="features_dropout")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="class_probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def multiply_adds(model: Any) -> int:
    """Multiply-adds of one forward pass on one image, counted over the convolutions and the
    fully connected layers.

    A ``Conv2D`` with a ``k x k`` kernel, ``c_in`` input and ``c_out`` output channels on
    an ``h x w`` output costs ``h * w * k * k * c_in * c_out`` multiply-adds; a ``Dense`` layer
    with ``d_in`` inputs and ``d_out`` units costs ``d_in * d_out`` for each vector it maps. Pooling,
    upsampling, concatenation and activations are not counted (they are comparisons and copies, a
    few percent at most).

    Args:
        model: A built Keras model.

    Returns:
        The count, an ``int``.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: {type(model).__name__}")
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            _, height, width, _ = layer.output.shape
            total += height * width * kernel_h * kernel_w * channels_in * channels_out
        elif isinstance(layer, keras.layers.Dense):
            inputs_in, units = layer.kernel.shape
            vectors = math.prod(layer.output.shape[1:-1])  # 1 for a flat input
            total += vectors * inputs_in * units
    return int(total)


def receptive_field(model: Any, *, position: tuple[int, int] | None = None) -> tuple[int, int]:
    """Rows and columns of the input window that can move one output pixel, measured by probing.

    Starting from a grey image (every pixel 0.5), each probe sets one input pixel to 1, and another sets
    it to 0 (a ReLU that is off at grey may switch on in one direction only); the input pixels whose
    probes change the output pixel at ``position`` at all span the window. Every batch carries its own
    grey image, so each probe is compared with an output computed by the same kernels. No gradients are
    used, so the answer holds for any layer, including pooling and nearest-neighbour upsampling, whose
    windows are lopsided. The window is a property of the layers; probing measures it exactly unless a
    path through the network stays off for both probes (a unit dead around the grey image), which makes
    the measured window smaller, never larger. On a GPU, kernels that round differently from row to row
    could make it larger: the book measures on untrained models on the CPU.

    Args:
        model: A Keras model mapping (None, H, W, 1) images to (None, H, W, 1) images.
        position: ``(row, column)`` of the output pixel; default the centre ``(H // 2, W // 2)``.

    Returns:
        ``(height, width)``: the number of rows and of columns between the first and the last input
        pixel that moves the output pixel, inclusive.

    Raises:
        TypeError: If ``model`` is not a built Keras model, or ``position`` is not two integers.
        ValueError: If the model does not map one-channel images to one-channel images of the same size,
            ``position`` is outside them, or no input pixel moves the output pixel.
    """
    import keras

    if not isinstance(model, keras.Model) or not model.built:
        raise TypeError(f"Expected a built keras.Model. Received: {type(model).__name__}")
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if shape is None or len(shape) != 3 or shape[-1] != 1 or None in shape or model.output_shape != (None, *shape):
        raise ValueError(
            "Expected a model mapping images of fixed shape (H, W, 1) to the same shape. "
            f"Received: input_shape={model.input_shape}, output_shape={model.output_shape}"
        )
    height, width, _ = shape
    if position is None:
        position = (height // 2, width // 2)
    integers = isinstance(position, tuple) and len(position) == 2
    if not (integers and all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in position)):
        raise TypeError(f"Expected position as a (row, column) tuple of integers. Received: position={position!r}")
    row, column = (int(i) for i in position)
    if not (0 <= row < height and 0 <= column < width):
        raise ValueError(f"Expected a position inside the {height} x {width} image. Received: position={position!r}")
    grey = np.full((1, *shape), 0.5, dtype="float32")
    pixels = [(value, index) for value in (1.0, 0.0) for index in range(height * width)]
    moved = np.zeros(height * width, dtype=bool)
    per_batch = _PROBE_BATCH - 1  # the probes beside each batch's grey image
    for start in range(0, len(pixels), per_batch):
        chunk = pixels[start : start + per_batch]
        batch = np.repeat(grey, len(chunk) + 1, axis=0)
        for offset, (value, index) in enumerate(chunk, start=1):
            batch[offset].reshape(-1)[index] = value
        outputs = predict_padded(model, batch, limit=_PROBE_BATCH)
        changed = outputs[1:, row, column, 0] != outputs[0, row, column, 0]
        moved[[index for _, index in chunk]] |= changed
    rows, columns = np.nonzero(moved.reshape(height, width))
    if rows.size == 0:
        raise ValueError(
            f"Expected at least one input pixel to move the output pixel. Received: position={position!r}, "
            "where no probe changed the output (a dead or saturated unit); try another position or model."
        )
    return int(rows.max() - rows.min() + 1), int(columns.max() - columns.min() + 1)
