"""The training pipelines give Keras's own batches (the same weights), and a PyDataset's in order."""

import hashlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from dae_utils._pipelines import fit_inputs
from dae_utils.models import build_paper_autoencoder
from dae_utils.training import seeded_batches, set_seed

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data pipelines: TensorFlow only")


@pytest.fixture
def pairs(rng):
    clean = (rng.uniform(size=(70, 8, 8, 1)) > 0.7).astype("float32")  # 70 = 4 batches of 16 and one of 6
    return np.clip(clean + rng.normal(0, 0.3, clean.shape), 0, 1).astype("float32"), clean


def _trained_weights(make_inputs, pairs, seed=5):
    set_seed(seed)  # before the pipeline: its shuffling takes the global seed
    fit_keywords, validation = make_inputs()
    model = build_paper_autoencoder(input_shape=(8, 8, 1), filters=4)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(validation_data=validation, epochs=3, verbose=0, **fit_keywords)
    weights = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
    return weights, history.history


def test_arrays_train_exactly_as_with_keras_own_pipeline(pairs):
    validation = (pairs[0][:20], pairs[1][:20])
    keras_weights, keras_history = _trained_weights(
        lambda: ({"x": pairs[0], "y": pairs[1], "batch_size": 16, "shuffle": True}, validation), pairs
    )
    weights, history = _trained_weights(lambda: fit_inputs(pairs, validation, batch_size=16), pairs)
    assert weights == keras_weights
    np.testing.assert_allclose(history["val_loss"], keras_history["val_loss"], rtol=1e-6)
    other_seed, _ = _trained_weights(lambda: fit_inputs(pairs, validation, batch_size=16), pairs, seed=6)
    assert other_seed != weights


def _classifier(inputs):
    flat = [keras.layers.Flatten()(tensor) for tensor in inputs]
    merged = keras.layers.Concatenate()(flat) if len(flat) > 1 else flat[0]
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(merged))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_tuple_of_inputs_and_integer_labels_train_exactly_as_with_keras(pairs):
    """Part III's shapes: several inputs (a tuple) and integer targets, float64 images cast to float32."""
    images = pairs[0].astype("float64")
    inputs = (images, images[:, :4, :4])
    labels = (np.arange(70) % 3).astype("uint8")

    def train(make_inputs):
        set_seed(2)
        fit_keywords, validation = make_inputs()
        model = _classifier([keras.Input((8, 8, 1)), keras.Input((4, 4, 1))])
        model.fit(validation_data=validation, epochs=2, verbose=0, **fit_keywords)
        return b"".join(np.asarray(w).tobytes() for w in model.get_weights())

    keras_keywords = {"x": inputs, "y": labels, "batch_size": 16, "shuffle": True}
    assert train(lambda: fit_inputs((inputs, labels), (inputs, labels), batch_size=16)) == train(
        lambda: (keras_keywords, (inputs, labels))
    )
    set_seed(2)
    batch = next(iter(fit_inputs((inputs, labels), (inputs, labels), batch_size=16)[0]["x"]))
    assert batch[0][0].dtype == tf.float32 and batch[1].dtype == tf.uint8


def test_arrays_with_different_numbers_of_rows_are_refused(pairs):
    with pytest.raises(ValueError, match=r"same number of rows.*Received: \[70, 69\]"):
        fit_inputs((pairs[0], pairs[1][:69]), pairs, batch_size=16)
    with pytest.raises(ValueError, match="validation arrays"):
        fit_inputs(pairs, (pairs[0][:5], pairs[1][:6]), batch_size=16)


def test_each_epoch_is_one_permutation_in_full_batches_and_a_last_partial_one(pairs):
    """Like Keras's own pipeline under a global seed: the same permutation every epoch (see the module)."""
    set_seed(0)
    fit_keywords, _ = fit_inputs(pairs, pairs, batch_size=16)
    dataset = fit_keywords["x"]
    assert fit_keywords["shuffle"] is False and dataset.cardinality() == 5
    assert dataset.options().autotune.enabled is False
    orders = []
    for _ in range(2):
        batches = list(dataset)
        assert [len(noisy) for noisy, _ in batches] == [16, 16, 16, 16, 6]
        noisy = np.concatenate([np.asarray(batch) for batch, _ in batches])
        clean = np.concatenate([np.asarray(batch) for _, batch in batches])
        rows = [int(np.flatnonzero((pairs[0] == row).all(axis=(1, 2, 3)))[0]) for row in noisy]
        assert sorted(rows) == list(range(70))  # every pair once, inputs still next to their targets
        np.testing.assert_array_equal(clean, pairs[1][rows])
        orders.append(rows)
    assert orders[0] == orders[1] and orders[0] != list(range(70))


def test_validation_is_in_order_and_lists_become_tuples(pairs):
    set_seed(0)
    inputs = [pairs[0], np.arange(70, dtype="float32").reshape(70, 1)]  # a model with two inputs
    _, validation = fit_inputs(pairs, (inputs, pairs[1]), batch_size=32)
    batches = list(validation)
    assert [len(targets) for _, targets in batches] == [32, 32, 6]
    (first_images, first_numbers), _ = batches[0]
    np.testing.assert_array_equal(first_numbers[:, 0], np.arange(32))
    np.testing.assert_array_equal(first_images, pairs[0][:32])


def test_a_py_dataset_is_read_in_order_after_it_moves_to_the_next_epoch():
    images = np.arange(10, dtype="float32").reshape(10, 1)

    def batch(chosen, generator):  # nested like Part III's (inputs..., target) batches
        return (images[chosen], [chosen.astype("int32"), generator.random(len(chosen))]), images[chosen]

    dataset = seeded_batches(10, batch, batch_size=4, seed=3)
    fit_keywords, _ = fit_inputs(dataset, (images, images), batch_size=4)
    pipeline = fit_keywords["x"]
    assert pipeline.cardinality() == 3 and pipeline.options().autotune.enabled is False
    for epoch in range(2):
        dataset.set_epoch(epoch)
        read = [np.asarray(inputs[1][0]) for inputs, _ in pipeline]
        expected = [dataset[index][0][1][0] for index in range(3)]
        for got, want in zip(read, expected, strict=True):
            np.testing.assert_array_equal(got, want)
    assert not np.array_equal(np.concatenate(read), np.arange(10))  # epoch 1 is shuffled


def test_an_iterator_made_before_set_epoch_reads_the_new_epoch():
    """Keras makes the next epoch's iterator before the callback moves the dataset on."""
    dataset = seeded_batches(12, lambda chosen, generator: (chosen[:, None], chosen[:, None]), batch_size=4, seed=1)
    pipeline = fit_inputs(dataset, (np.zeros((4, 1)), np.zeros((4, 1))), batch_size=4)[0]["x"]
    iterator = iter(pipeline)
    dataset.set_epoch(1)
    first, _ = next(iterator)
    np.testing.assert_array_equal(np.asarray(first)[:, 0], dataset.order[:4])
    assert not np.array_equal(dataset.order, np.random.default_rng([1, 0]).permutation(12))


def test_py_datasets_with_workers_or_epoch_hooks_go_to_keras_unchanged(pairs):
    class Hooked(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return pairs[0][:4], pairs[1][:4]

        def on_epoch_end(self):
            pass

    hooked = Hooked()
    threaded = seeded_batches(8, lambda chosen, generator: (pairs[0][chosen], pairs[1][chosen]), batch_size=4, seed=0)
    threaded.workers = 2
    for dataset in (hooked, threaded):
        fit_keywords, validation = fit_inputs(dataset, pairs, batch_size=4)
        assert fit_keywords["x"] is dataset and validation == pairs


def test_other_backends_get_the_arrays_and_datasets_unchanged(pairs, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    fit_keywords, validation = fit_inputs(pairs, pairs, batch_size=16)
    assert fit_keywords["x"] is pairs[0] and fit_keywords["y"] is pairs[1] and validation == pairs
    assert fit_keywords["shuffle"] is True and fit_keywords["batch_size"] == 16
    assert not any(isinstance(value, tf.data.Dataset) for value in fit_keywords.values())
    assert fit_keywords["validation_batch_size"] == 16
    dataset = seeded_batches(10, lambda chosen, generator: (chosen, chosen), batch_size=4, seed=0)
    expected = {"x": dataset, "shuffle": False, "validation_batch_size": 4}  # read in its own order
    assert fit_inputs(dataset, pairs, batch_size=4)[0] == expected


def test_keras_own_fit_visits_the_same_order_every_epoch_under_a_global_seed():
    """What chapter 3 tells its readers about ``shuffle=True`` (Keras 3.15, TensorFlow 2.21).

    If a new Keras reshuffles every epoch, this fails: then chapter 3's sentence and the module's
    docstring must change, and the pipeline for arrays must follow Keras again."""
    seen = []

    class Record(keras.layers.Layer):
        def call(self, inputs, training=None):
            if training:
                seen.append(np.asarray(inputs)[:, 0].tolist())
            return inputs

    keras.utils.set_random_seed(0)
    rows = np.arange(20, dtype="float32").reshape(20, 1)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(Record()(inputs)))
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(rows, rows, batch_size=8, epochs=2, shuffle=True, verbose=0)
    first_epoch = [row for batch in seen[:3] for row in batch]
    assert len(seen) == 6 and sorted(first_epoch) == list(range(20)) and first_epoch != list(range(20))
    assert seen[:3] == seen[3:]
