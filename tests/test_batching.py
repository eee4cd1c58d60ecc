"""Prediction in padded batches gives what one call on all rows gives, for one input or several."""

import keras
import numpy as np

from dae_utils._batching import predict_batched, predict_padded


def _two_input_model():
    image = keras.Input(shape=(3,), name="image")
    scale = keras.Input(shape=(1,), name="scale")
    return keras.Model([image, scale], keras.layers.Dense(2, kernel_initializer="ones")(image) * scale)


def test_batches_of_several_inputs_equal_one_call_on_all_rows():
    model = _two_input_model()
    rng = np.random.default_rng(0)
    images, scales = rng.standard_normal((11, 3)).astype("float32"), rng.standard_normal((11, 1)).astype("float32")
    expected = np.asarray(model.predict_on_batch((images, scales)), dtype=np.float64)
    batched = predict_batched(model, (images, scales), batch_size=4)  # slices of 4, 4 and 3 (padded to 4)
    assert batched.dtype == np.float64 and batched.shape == (11, 2)
    np.testing.assert_allclose(batched, expected, rtol=1e-6)


def test_one_input_is_padded_to_a_power_of_two_and_cut_back():
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1, kernel_initializer="ones")])
    rows = np.arange(15, dtype="float32").reshape(5, 3)
    np.testing.assert_allclose(predict_padded(model, rows, limit=8)[:, 0], rows.sum(axis=1))
    assert predict_batched(model, rows[:0], batch_size=4).shape == (0,)
