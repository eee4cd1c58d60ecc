"""Prediction in padded batches gives what one call on all rows gives, for one input or several."""

import keras
import numpy as np
import pytest

from dae_utils._batching import predict_batched, predict_padded


class ShapeRecorder:
    """A stand-in model: sums each row of its first input and records the batch sizes it was given."""

    def __init__(self):
        self.sizes = []

    def predict_on_batch(self, batch):
        first = batch[0] if isinstance(batch, tuple) else batch
        self.sizes.append(len(first))
        return first.reshape(len(first), -1).sum(axis=1, keepdims=True)


def _two_input_model():
    image = keras.Input(shape=(3,), name="image")
    scale = keras.Input(shape=(1,), name="scale")
    return keras.Model([image, scale], keras.layers.Dense(2, kernel_initializer="ones")(image) * scale)


def test_batches_of_several_inputs_equal_one_call_on_all_rows():
    model = _two_input_model()
    rng = np.random.default_rng(0)
    images, scales = rng.standard_normal((11, 3)).astype("float32"), rng.standard_normal((11, 1)).astype("float32")
    expected = np.asarray(model.predict_on_batch((images, scales)), dtype=np.float64)
    for inputs in ((images, scales), [images, scales]):
        batched = predict_batched(model, inputs, batch_size=4)  # slices of 4, 4 and 3 (padded to 4)
        assert batched.dtype == np.float64 and batched.shape == (11, 2)
        np.testing.assert_allclose(batched, expected, rtol=1e-6)


def test_slices_are_padded_to_a_power_of_two_and_cut_back():
    model = ShapeRecorder()
    rows = np.arange(33, dtype="float32").reshape(11, 3)
    np.testing.assert_allclose(predict_batched(model, rows, batch_size=4)[:, 0], rows.sum(axis=1))
    assert model.sizes == [4, 4, 4]  # the last slice of 3 padded to 4
    model.sizes.clear()
    np.testing.assert_allclose(predict_padded(model, rows[:5], limit=8)[:, 0], rows[:5].sum(axis=1))
    assert model.sizes == [8]


@pytest.mark.parametrize(
    "inputs", [np.zeros((0, 3)), (np.zeros((3, 3)), np.zeros((2, 1)))], ids=["no rows", "rows disagree"]
)
def test_no_rows_or_disagreeing_inputs_are_refused(inputs):
    with pytest.raises(ValueError, match="same number of rows, at least one"):
        predict_batched(ShapeRecorder(), inputs, batch_size=4)
