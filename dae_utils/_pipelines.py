"""What ``model.fit`` reads under TensorFlow: tf.data pipelines with autotuning switched off.

Given NumPy arrays or a :class:`keras.utils.PyDataset`, Keras's TensorFlow backend builds a tf.data
pipeline whose autotuning runs in a background thread. With TensorFlow 2.21 on a CPU, destroying
that pipeline's iterator (Keras makes new ones at every epoch's end and start) waits for the
autotuning thread to wake up, and that thread sleeps for longer and longer periods as an epoch goes
on: the machine sits idle for up to half an epoch before the next one starts. Measured on 2 cores
(``tools/benchmark_pipelines.py``: the paper's model, 12,850 images, 4 epochs) 78.6 s with Keras's
pipeline, 56.4 s with this one, and bit-identical weights.

The pipeline for arrays batches and shuffles exactly as Keras does (the same permutation ops, so
the same seed gives the same batches and the same weights) and only switches autotuning off. A
PyDataset is read in its own order, ``dataset[0]``, ``dataset[1]``, ..., on every backend: Keras
would also shuffle the order of its batches with Python's ``random``, but the book's datasets
(:func:`dae_utils.training.seeded_batches`) shuffle their examples themselves, seeded per epoch.
JAX and PyTorch do not use tf.data: there :func:`fit_inputs` passes the arrays and datasets to
Keras as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fit_inputs"]


def fit_inputs(training: Any, validation: tuple, *, batch_size: int) -> tuple[dict[str, Any], Any]:
    """The ``model.fit`` keyword arguments for ``training`` and the ``validation_data`` to pass.

    Args:
        training: An ``(inputs, targets)`` pair of arrays (shuffled every epoch, in batches of
            ``batch_size``), or a :class:`keras.utils.PyDataset` that makes its own batches.
        validation: An ``(inputs, targets)`` pair evaluated after each epoch, in order.
        batch_size: Rows per batch of arrays.

    Returns:
        ``(fit_keywords, validation_data)``.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        if isinstance(training, tuple):
            inputs, targets = training
            return {"x": inputs, "y": targets, "batch_size": batch_size, "shuffle": True}, validation
        return {"x": training, "shuffle": False}, validation  # it shuffles its own examples
    if isinstance(training, tuple):
        data = _shuffled_batches(_as_tuples(training), batch_size=batch_size)
    else:
        data = _dataset_batches(training)
    return {"x": data, "shuffle": False}, _ordered_batches(_as_tuples(validation), batch_size=batch_size)


def _as_tuples(structure: Any) -> Any:
    """Lists become tuples (tf.data reads a list as one stacked tensor), arrays stay as they are."""
    if isinstance(structure, (tuple, list)):
        return tuple(_as_tuples(item) for item in structure)
    return structure


def _without_autotuning(dataset: Any) -> Any:
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False  # as Keras's own pipeline
    return dataset.with_options(options)


def _rows(structure: Any) -> int:
    import tensorflow as tf

    return len(tf.nest.flatten(structure)[0])


def _shuffled_batches(arrays: tuple, *, batch_size: int) -> Any:
    """Keras's shuffled batches of arrays (``keras.src.trainers.data_adapters.ArrayDataAdapter``).

    Every iterator draws one permutation (``tf.random.shuffle``), cuts it into full batches and a
    last partial one, and gathers each batch from the arrays. The number of batches is declared,
    as Keras's pipeline declares it, so that Keras makes its iterators at the same moments.

    As in Keras's pipeline (Keras 3.15, TensorFlow 2.21), once the global seed is set
    (``keras.utils.set_random_seed``) every iterator draws the *same* permutation: each epoch
    visits the batches in the same order, so ``shuffle=True`` shuffles once per run, not once
    per epoch (``tests/test_pipelines.py`` checks it). The book's array-trained checkpoints were
    trained so; the datasets of :func:`dae_utils.training.seeded_batches` draw a new order every
    epoch.
    """
    import tensorflow as tf

    count = _rows(arrays)
    full = count // batch_size

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops: nothing for AutoGraph to convert
    def permutation(_: Any) -> Any:
        return tf.random.shuffle(tf.range(count, dtype=tf.int64))

    @tf.autograph.experimental.do_not_convert
    def batches_of(indices: Any) -> Any:
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(indices[: full * batch_size], [full, batch_size]))
        if count % batch_size:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(indices[full * batch_size :]))
        return batches

    indices = tf.data.Dataset.range(1).map(permutation).prefetch(1).flat_map(batches_of)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, arrays)
    pairs = tf.data.Dataset.zip((indices, tf.data.Dataset.from_tensors(tensors).repeat()))

    @tf.autograph.experimental.do_not_convert
    def gather(chosen: Any, data: Any) -> Any:
        return tf.nest.map_structure(lambda array: tf.gather(array, chosen), data)

    batches = pairs.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return _without_autotuning(batches)


def _ordered_batches(arrays: tuple, *, batch_size: int) -> Any:
    import tensorflow as tf

    return _without_autotuning(tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size))


def _dataset_batches(dataset: Any) -> Any:
    """A :class:`keras.utils.PyDataset`'s batches, in order, one batch prefetched.

    Like Keras's own pipeline, every iterator calls ``dataset[0]``, ``dataset[1]``, ... afresh, so a
    dataset that draws new batches every epoch (``set_epoch``) is read after it has moved on.
    """
    import tensorflow as tf

    first = _as_tuples(dataset[0])
    signature = tf.nest.map_structure(
        lambda array: tf.TensorSpec((None, *np.shape(array)[1:]), tf.as_dtype(np.asarray(array).dtype)), first
    )

    def batches() -> Any:
        for index in range(len(dataset)):
            yield _as_tuples(dataset[index])

    generated = tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(1)
    return _without_autotuning(generated.apply(tf.data.experimental.assert_cardinality(len(dataset))))
