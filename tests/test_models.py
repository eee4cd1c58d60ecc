import keras
import numpy as np
import pytest

from dae_utils.artifacts import load_model, save_model
from dae_utils.models import (
    build_dense_autoencoder,
    build_paper_autoencoder,
    build_residual_denoiser,
    build_unet,
    multiply_adds,
    receptive_field,
)
from dae_utils.training import set_seed


def test_the_paper_architecture_layer_by_layer():
    model = build_paper_autoencoder()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer",
        "Conv2D", "MaxPooling2D", "Dropout",
        "Conv2D", "MaxPooling2D", "Dropout",
        "Conv2D", "UpSampling2D",
        "Conv2D", "UpSampling2D",
        "Conv2D",
    ]  # fmt: skip
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convolutions] == [64, 64, 64, 64, 1]
    assert all(c.kernel_size == (3, 3) and c.padding == "same" for c in convolutions)
    assert [c.activation.__name__ for c in convolutions] == ["relu"] * 4 + ["sigmoid"]
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.1, 0.1]
    assert model.count_params() == 112_001
    assert model.output_shape == (None, 28, 28, 1)
    assert not model.compiled


def test_outputs_lie_strictly_inside_zero_one():
    set_seed(0)
    images = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    outputs = build_paper_autoencoder()(images, training=False)
    outputs = keras.ops.convert_to_numpy(outputs)
    assert outputs.shape == (3, 28, 28, 1) and outputs.min() > 0 and outputs.max() < 1


def test_same_seed_gives_the_same_weights():
    set_seed(5)
    first = build_paper_autoencoder().get_weights()
    set_seed(5)
    second = build_paper_autoencoder().get_weights()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_sizes_and_widths():
    model = build_paper_autoencoder(input_shape=(32, 48, 1), filters=8, dropout_rate=0.0)
    assert model.output_shape == (None, 32, 48, 1)
    assert model.count_params() == 9 * 8 + 8 + 3 * (9 * 64 + 8) + 9 * 8 + 1


def test_saved_model_loads_with_plain_keras_in_safe_mode(tmp_path):
    model = build_paper_autoencoder(filters=4)
    path = save_model(model, tmp_path / "model.keras")
    reloaded = keras.models.load_model(path, safe_mode=True)
    for a, b in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert load_model(path).count_params() == model.count_params()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dropout_rate": 1.0}, ValueError, "dropout_rate"),
        ({"dropout_rate": -0.1}, ValueError, "dropout_rate"),
        ({"dropout_rate": "0.2"}, TypeError, "dropout_rate"),
        ({"filters": 0}, ValueError, "filters"),
        ({"filters": 64.0}, TypeError, "filters"),
        ({"kernel_size": True}, TypeError, "kernel_size"),
        ({"padding": "valid"}, ValueError, "padding"),
        ({"input_shape": (28, 28, 3)}, ValueError, "input_shape"),
        ({"input_shape": (30, 28, 1)}, ValueError, "divisible by 4"),
        ({"input_shape": [28, 28, 1]}, ValueError, "input_shape"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_paper_autoencoder(**kwargs)


def test_multiply_adds_of_the_paper_model_by_hand():
    # conv 1->64 at 28x28, 64->64 at 14x14, 7x7, 14x14, then 64->1 at 28x28; kernels 3x3
    by_hand = 9 * (28 * 28 * 1 * 64 + 14 * 14 * 64 * 64 + 7 * 7 * 64 * 64 + 14 * 14 * 64 * 64 + 28 * 28 * 64 * 1)
    assert multiply_adds(build_paper_autoencoder()) == by_hand == 17_160_192


def test_the_unet_has_its_skip_connections_and_levels():
    model = build_unet(filters=4, depth=2)
    assert model.output_shape == (None, 28, 28, 1)
    skips = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert [layer.name for layer in skips] == ["decoder_2_skip", "decoder_1_skip"]
    widths = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert widths == [4, 4, 8, 8, 16, 16, 8, 8, 4, 4, 1]
    assert model.layers[-1].activation.__name__ == "sigmoid"


def test_the_residual_denoiser_subtracts_its_noise_estimate_and_clips():
    set_seed(0)
    model = build_residual_denoiser(filters=4, depth=3)
    noise_head = keras.Model(model.input, model.get_layer("estimated_noise").output)
    images = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    expected = np.clip(images - keras.ops.convert_to_numpy(noise_head(images)), 0.0, 1.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, atol=1e-6)
    assert multiply_adds(model) == 28 * 28 * 9 * (1 * 4 + 4 * 4 + 4 * 1)


def test_multiply_adds_count_fully_connected_layers_per_vector():
    dense = build_dense_autoencoder(code_size=3, hidden_units=8, input_shape=(4, 4, 1))
    assert multiply_adds(dense) == 16 * 8 + 8 * 3 + 3 * 8 + 8 * 16  # one flat vector per image
    image = keras.Input(shape=(2, 2, 5))
    per_pixel = keras.Model(image, keras.layers.Dense(3)(image))  # a Dense layer maps each of 2 x 2 vectors
    assert multiply_adds(per_pixel) == 2 * 2 * 5 * 3


@pytest.mark.parametrize("builder", [build_unet, build_residual_denoiser])
def test_new_models_load_with_plain_keras_in_safe_mode(builder, tmp_path):
    model = builder(filters=4)
    path = save_model(model, tmp_path / "model.keras")
    reloaded = keras.models.load_model(path, safe_mode=True)
    images = np.random.default_rng(1).uniform(size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(images)), keras.ops.convert_to_numpy(model(images)), atol=1e-6
    )


@pytest.mark.parametrize(
    ("builder", "kwargs", "error", "message"),
    [
        (build_unet, {"filters": 0}, ValueError, "filters"),
        (build_unet, {"depth": 3}, ValueError, "divisible by 8"),
        (build_unet, {"depth": 1.0}, TypeError, "depth"),
        (build_residual_denoiser, {"depth": 1}, ValueError, "depth >= 2"),
        (build_residual_denoiser, {"input_shape": (28, 28, 3)}, ValueError, "input_shape"),
        (multiply_adds, {}, TypeError, "keras.Model"),
    ],
)
def test_new_builders_reject_bad_arguments(builder, kwargs, error, message):
    with pytest.raises(error, match=message):
        builder("not a model", **kwargs) if builder is multiply_adds else builder(**kwargs)


def _convolutions(*kernels, size=16):
    inputs = keras.Input((size, size, 1))
    x = inputs
    for kernel in kernels:
        x = keras.layers.Conv2D(1, kernel, padding="same", kernel_initializer="ones")(x)
    return keras.Model(inputs, x)


def test_receptive_field_of_convolutions_grows_by_the_kernel_less_one():
    assert receptive_field(_convolutions(3)) == (3, 3)
    assert receptive_field(_convolutions((5, 3))) == (5, 3)  # rows and columns are measured apart
    assert receptive_field(_convolutions(3, 3, 3)) == (7, 7)
    assert receptive_field(_convolutions(3), position=(0, 0)) == (2, 2)  # zero padding outside the image
    assert receptive_field(_convolutions(3), position=(np.int64(0), np.int64(0))) == (2, 2)  # NumPy integers


def test_receptive_field_probes_both_ways_past_a_unit_off_at_grey():
    # centre weight 1, edges -0.1, bias -0.12, ReLU: at grey the unit is just off (0.5 - 0.4 - 0.12 < 0);
    # lowering an edge pixel switches it on, raising one does not. Probes that only raise would see 1 x 1.
    inputs = keras.Input((16, 16, 1))
    convolution = keras.layers.Conv2D(1, 3, padding="same", activation="relu")
    model = keras.Model(inputs, convolution(inputs))
    kernel = np.full((3, 3, 1, 1), -0.1, "float32")
    kernel[1, 1] = 1.0
    convolution.set_weights([kernel, np.array([-0.12], "float32")])
    assert receptive_field(model) == (3, 3)


def test_receptive_field_of_the_book_models():
    set_seed(0)
    # Six 3 x 3 convolutions at full resolution: 1 + 2 * 6 pixels, as the docstring says.
    assert receptive_field(build_residual_denoiser(depth=6)) == (13, 13)
    # Chapter 2 derives 26: 3 x 3 at 28 x 28 (+2), back through an upsampling (halves), 3 x 3 at 14 x 14,
    # an upsampling, 3 x 3 at 7 x 7, two poolings (double), with the nearest-neighbour copies one row short.
    assert receptive_field(build_paper_autoencoder()) == (26, 26)


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "message"),
    [
        ("not a model", {}, TypeError, "Expected a built keras.Model"),
        (None, {"position": (16, 0)}, ValueError, "inside the 16 x 16 image"),
        ("two channels", {}, ValueError, "fixed shape \\(H, W, 1\\)"),
        ("dead", {}, ValueError, "at least one input pixel to move"),
        (None, {"position": (1, 2, 3)}, TypeError, "tuple of integers"),
        (None, {"position": (True, 2)}, TypeError, "tuple of integers"),
        ("pooled", {}, ValueError, "to the same shape"),
    ],
)
def test_receptive_field_rejects_bad_input(model, kwargs, error, message):
    if model is None:
        model = _convolutions(3)
    elif model == "two channels":
        inputs = keras.Input((16, 16, 2))
        model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))
    elif model == "pooled":
        inputs = keras.Input((16, 16, 1))
        model = keras.Model(inputs, keras.layers.MaxPooling2D(2)(inputs))
    elif model == "dead":
        inputs = keras.Input((16, 16, 1))
        model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros")(inputs))
    with pytest.raises(error, match=message):
        receptive_field(model, **kwargs)
