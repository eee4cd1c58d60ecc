"""Prediction in padded batches gives what one call on all rows gives, for one input or several."""

import logging

import keras
import numpy as np
import pytest

from dae_utils._batching import padded_size, predict_batched, predict_padded


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
        batched = predict_batched(model, inputs, batch_size=4)  # slices of 4, 4 and 3
        assert batched.dtype == np.float64 and batched.shape == (11, 2)
        np.testing.assert_allclose(batched, expected, rtol=1e-6)


def test_slices_are_padded_and_cut_back():
    model = ShapeRecorder()
    rows = np.arange(33, dtype="float32").reshape(11, 3)
    np.testing.assert_allclose(predict_batched(model, rows, batch_size=4)[:, 0], rows.sum(axis=1))
    assert model.sizes == [4, 4, 3]  # up to 4 rows are not padded
    model.sizes.clear()
    np.testing.assert_allclose(predict_batched(model, rows, batch_size=8)[:, 0], rows.sum(axis=1))
    assert model.sizes == [8, 3]
    model.sizes.clear()
    np.testing.assert_allclose(predict_padded(model, rows[:9], limit=16)[:, 0], rows[:9].sum(axis=1))
    assert model.sizes == [10]


def test_padding_adds_less_than_a_quarter_with_four_sizes_per_doubling():
    sizes = {count: padded_size(count, limit=1024) for count in range(1, 1025)}
    for count, size in sizes.items():
        assert count <= size < count + max(count / 4, 1), count
    assert [sizes[count] for count in (5, 9, 40, 100, 129, 244)] == [5, 10, 40, 112, 160, 256]
    assert len({size for size in sizes.values() if 64 < size <= 128}) == 4  # 80, 96, 112, 128
    assert padded_size(9, limit=9) == 9 and padded_size(300, limit=256) == 300  # never padded past the limit


@pytest.mark.parametrize(
    "inputs", [np.zeros((0, 3)), (np.zeros((3, 3)), np.zeros((2, 1)))], ids=["no rows", "rows disagree"]
)
def test_no_rows_or_disagreeing_inputs_are_refused(inputs):
    with pytest.raises(ValueError, match="same number of rows, at least one"):
        predict_batched(ShapeRecorder(), inputs, batch_size=4)


def test_predicting_with_many_models_prints_no_retracing_warning(caplog):
    rows = np.ones((3, 3), dtype="float32")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for _ in range(7):  # seven models, one trace each: TensorFlow would warn from the fifth on
            predict_batched(_two_input_model(), (rows, rows[:, :1]), batch_size=4)
    assert not [record for record in caplog.records if "retracing" in record.getMessage()]
    assert not logging.getLogger("tensorflow").filters  # the filter is removed after each call
