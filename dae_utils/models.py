"""The paper's convolutional denoising autoencoder, in Keras's Functional API."""

from __future__ import annotations

from typing import Any

from dae_utils._validation import check_fraction, check_positive_int
from dae_utils.config import PAPER

__all__ = ["build_paper_autoencoder"]


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
    if (
        not isinstance(input_shape, tuple)
        or len(input_shape) != 3
        or input_shape[2] != 1
        or not all(isinstance(side, int) and side > 0 and side % 4 == 0 for side in input_shape[:2])
    ):
        raise ValueError(
            "Expected `input_shape` to be (height, width, 1) with height and width divisible by 4. "
            f"Received: input_shape={input_shape!r}"
        )

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
    outputs = keras.layers.Conv2D(1, kernel_size, activation="sigmoid", padding=padding, name="denoised_image")(x)
    return keras.Model(inputs, outputs, name=name)
