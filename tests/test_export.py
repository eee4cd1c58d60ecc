"""ONNX export: ONNX Runtime reproduces Keras on 100 test images for every model the book's pages run."""

import json

import keras
import numpy as np
import pytest

from dae_utils.artifacts import load_model, pretrained_path
from dae_utils.export import (
    BOOK_MODELS,
    DEMO_GENERATOR,
    DEMO_GUIDE,
    export_book_models,
    export_onnx,
    onnx_session,
    write_digit_sprite,
)
from dae_utils.generative import NULL_LABEL, preconditioning, to_model_scale

pytestmark = pytest.mark.slow  # real checkpoints and MNIST

#: Issue 13 asks for 1e-5 (max absolute difference). The three denoisers meet it. The generator's raw
#: output F, unbounded (|F| up to 4) and taken here at noise levels from 0.01 to 50, differs by up to
#: 3.2e-5 (measured 2026-11-26 on the retrained generator), its guide's by 1.7e-5 (2026-11-28, the
#: 4-epoch guide): a known miss of the target, recorded in the issue; this bound only guards against
#: worse. It is float32 round-off, not an export error: Keras's own float32 output is 3.0e-5 (the
#: guide's 1.1e-5) from the same network computed in float64 (ONNX Runtime's 2.4e-5; the guide's
#: 1.2e-5), and the test below holds ONNX Runtime to twice Keras's.
TOLERANCE = {DEMO_GENERATOR: 1e-4, DEMO_GUIDE: 1e-4}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    return folder, export_book_models(folder)


@pytest.fixture(scope="module")
def test_images():
    from dae_utils.data import load_mnist
    from dae_utils.evaluation import noisy_test_images

    (_, _), (clean, labels) = load_mnist()
    return clean[:100], noisy_test_images(clean)[:100], labels[:100]


def _inputs(name, test_images):
    clean, noisy, labels = test_images
    if name not in (DEMO_GENERATOR, DEMO_GUIDE):  # the denoisers: a noisy image in
        return (noisy,)
    sigma = np.geomspace(0.01, 50, len(clean)).reshape(-1, 1, 1, 1)  # every noise level the sampler visits
    _, _, c_in, c_noise = preconditioning(sigma)
    noisy_model = to_model_scale(clean) + sigma * np.random.default_rng(0).standard_normal(clean.shape)
    label = np.where(np.arange(len(clean)) % 2, labels, NULL_LABEL).astype("int32").reshape(-1, 1)
    return (c_in * noisy_model).astype("float32"), c_noise.reshape(-1, 1).astype("float32"), label


def _both_outputs(name, exported, test_images):
    """The model's inputs, the Keras model, and its ONNX Runtime and Keras outputs on them."""
    folder, described = exported
    session = onnx_session(folder / described[name]["file"])
    inputs = _inputs(name, test_images)
    feed = {entry.name: array for entry, array in zip(session.get_inputs(), inputs, strict=True)}
    model = load_model(pretrained_path(name))
    keras_output = np.asarray(model.predict_on_batch(inputs[0] if len(inputs) == 1 else inputs))
    return inputs, model, session.run(None, feed)[0], keras_output


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_onnx_runtime_gives_what_keras_gives(name, exported, test_images):
    _, _, onnx_output, keras_output = _both_outputs(name, exported, test_images)
    assert np.max(np.abs(onnx_output - keras_output)) <= TOLERANCE.get(name, 1e-5)


def _float64_twin(model):
    """The same network and weights, computed in float64 (integer inputs stay integer)."""
    config = json.loads(json.dumps(model.get_config()).replace('"float32"', '"float64"'))
    twin = model.__class__.from_config(config)
    twin.set_weights([weights.astype("float64") for weights in model.get_weights()])
    return twin


@pytest.mark.parametrize("name", BOOK_MODELS)
def test_onnx_runtime_is_as_close_to_the_float64_network_as_keras_float32_is(name, exported, test_images):
    inputs, model, onnx_output, keras_output = _both_outputs(name, exported, test_images)
    wide = tuple(array.astype("float64") if array.dtype.kind == "f" else array for array in inputs)
    twin = _float64_twin(model)
    computing = [layer for layer in twin.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert {layer.compute_dtype for layer in computing} == {"float64"}
    assert {str(tensor.dtype) for tensor in twin.inputs} <= {"float64", "int32"}
    assert {weights.dtype for weights in twin.get_weights()} == {np.dtype("float64")}
    exact = np.asarray(twin.predict_on_batch(wide[0] if len(wide) == 1 else wide))
    assert exact.dtype == np.float64
    keras_error = np.max(np.abs(keras_output - exact))
    assert keras_error <= TOLERANCE.get(name, 1e-5)  # the twin computes the same network
    onnx_error = np.max(np.abs(onnx_output - exact))
    assert onnx_error <= max(2 * keras_error, 1e-6), f"ONNX {onnx_error:.2e} against Keras float32 {keras_error:.2e}"


def test_the_description_names_each_checkpoint_and_its_inputs(exported):
    _, described = exported
    assert set(described) == set(BOOK_MODELS)
    assert described["best_denoiser"]["checkpoint"] == pretrained_path("best_denoiser").name
    for generator in (DEMO_GENERATOR, DEMO_GUIDE):
        assert list(described[generator]["inputs"]) == ["image", "noise_level", "label"]


def test_the_samplers_settings_name_the_exported_generator_and_guide_and_the_books_scales():
    from dae_utils.export import generator_settings
    from dae_utils.sample_quality import AUTOGUIDANCE, AUTOGUIDANCE_INTERVAL, DEFAULT_GUIDANCE

    settings = generator_settings()
    assert (settings["file"], settings["guide"]) == (f"{DEMO_GENERATOR}.onnx", f"{DEMO_GUIDE}.onnx")
    assert {DEMO_GENERATOR, DEMO_GUIDE} <= set(BOOK_MODELS)
    assert (settings["guidance"], settings["autoguidance"]) == (DEFAULT_GUIDANCE, AUTOGUIDANCE)
    assert settings["autoguidanceInterval"] == list(AUTOGUIDANCE_INTERVAL)


def test_a_wrong_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"ending in `\.onnx`"):
        export_onnx(pretrained_path("unet"), tmp_path / "unet.keras")


def test_digit_sprite_holds_the_test_digits_exactly(tmp_path):
    from dae_utils.data import load_mnist
    from dae_utils.imageio import read_grey_png

    index = write_digit_sprite(tmp_path, count=45)
    sprite = read_grey_png(tmp_path / "digits.png")
    _, (images, labels) = load_mnist()
    assert sprite.shape == (3 * 28, 20 * 28) and index["labels"] == labels[:45].tolist()
    row, column = divmod(23, index["columns"])
    cell = sprite[row * 28 : (row + 1) * 28, column * 28 : (column + 1) * 28]
    np.testing.assert_array_equal(cell, images[23, ..., 0])
    with pytest.raises(ValueError, match="count=10001"):
        write_digit_sprite(tmp_path, count=10_001)
