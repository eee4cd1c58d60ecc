"""What ``model.fit`` reads: under TensorFlow, tf.data pipelines with autotuning switched off.

Given NumPy arrays or a :class:`keras.utils.PyDataset`, Keras's TensorFlow backend builds a tf.data
pipeline whose autotuning runs in a background thread. With TensorFlow 2.21 on a CPU, destroying
that pipeline's iterator (Keras makes new ones at every epoch's end and start) waits for the
autotuning thread to wake up (seen in a debugger: the iterator's destructor waits on the thread's
optimisation loop), and that thread sleeps for longer and longer periods as an epoch goes on: the
machine can sit idle for tens of seconds before the next epoch starts.
``tools/benchmark_pipelines.py`` measures it side by side (Keras 3.15.1, TensorFlow 2.21.0, 2 cores,
the paper's model on 12,850 images, 4 epochs: 78.6 s with Keras's pipeline, 56.4 s with this one,
bit-identical weights).

- **Arrays** are batched and shuffled exactly as Keras does (the same permutation ops, so the same
  seed gives the same batches and the same weights); only autotuning is off, and floats are cast
  to ``keras.config.floatx()`` as Keras casts them.
- **A PyDataset** of the package's kind (finite, one worker, no epoch hooks: see
  :func:`dae_utils.training.seeded_batches`) is read in its own order, ``dataset[0]``,
  ``dataset[1]``, ..., one batch prefetched, and so is any PyDataset on JAX and PyTorch
  (``shuffle=False``). Keras's default would also shuffle the order of the batches, with Python's
  ``random``; the package's datasets shuffle their examples themselves, seeded by epoch, so that a
  resumed run reads exactly what an uninterrupted one would have. The checkpoints trained on such
  datasets before this module existed (``unet``, ``paper_fresh_noise``, ``residual``,
  ``blind_unet``, ``unet_wide``, ``unet_64``, ``edm_digits``) read their batches in Keras's
  shuffled order: ``make pretrained`` now trains them on the same batches in another order, so it
  does not reproduce their weights bit for bit. Any other PyDataset goes to Keras unchanged.
- **Validation** is read in order, in batches of ``batch_size``, on every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dae_utils._validation import check_same_rows

__all__ = ["fit_inputs"]


def fit_inputs(training: Any, validation: tuple, *, batch_size: int) -> tuple[dict[str, Any], Any]:
    """The ``model.fit`` keyword arguments for ``training`` and the ``validation_data`` to pass.

    Args:
        training: An ``(inputs, targets)`` pair of arrays, with the same number of rows (batches
            of ``batch_size`` in a shuffled order; see :func:`_shuffled_batches` for when it is
            drawn), or a :class:`keras.utils.PyDataset` that makes its own batches.
        validation: An ``(inputs, targets)`` pair evaluated after each epoch, in order, in batches
            of ``batch_size``.
        batch_size: Rows per batch of arrays, training and validation.

    Returns:
        ``(fit_keywords, validation_data)``.

    Raises:
        ValueError: If the arrays of ``training`` or of ``validation`` disagree on their number of rows.
    """
    import keras

    training = keras.tree.lists_to_tuples(training)  # tf.data would read a list as one stacked tensor
    validation = keras.tree.lists_to_tuples(validation)
    arrays = isinstance(training, tuple)
    rows = check_same_rows(training, name="the training arrays") if arrays else None
    check_same_rows(validation, name="the validation arrays")
    if keras.backend.backend() != "tensorflow" or not (arrays or _plain_dataset(training)):
        keywords = {"validation_batch_size": batch_size}
        if arrays:
            inputs, targets = training
            return keywords | {"x": inputs, "y": targets, "batch_size": batch_size, "shuffle": True}, validation
        return keywords | {"x": training, "shuffle": False}, validation  # it orders its own examples
    data = _shuffled_batches(training, rows=rows, batch_size=batch_size) if arrays else _dataset_batches(training)
    return {"x": data, "shuffle": False}, _ordered_batches(validation, batch_size=batch_size)


def _plain_dataset(dataset: Any) -> bool:
    """A finite, one-worker PyDataset without epoch hooks: the only kind this module reads itself."""
    import keras

    base = keras.utils.PyDataset
    return (
        dataset.num_batches is not None
        and dataset.workers <= 1
        and not dataset.use_multiprocessing
        and type(dataset).on_epoch_begin is base.on_epoch_begin
        and type(dataset).on_epoch_end is base.on_epoch_end
    )


def _as_floatx(structure: Any) -> Any:
    """Floating arrays cast to ``keras.config.floatx()``, as Keras's own pipeline casts them."""
    import keras
    import tensorflow as tf

    def convert(array: Any) -> Any:
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(keras.config.floatx(), copy=False)
        return tf.convert_to_tensor(array)

    return tf.nest.map_structure(convert, structure)


def _without_autotuning(dataset: Any) -> Any:
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False  # as Keras's own pipeline
    return dataset.with_options(options)


def _batch_indices(count: int, *, batch_size: int) -> Any:
    """One shuffled permutation per iterator, as full batches of indices and a last partial one."""
    import tensorflow as tf

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

    return tf.data.Dataset.range(1).map(permutation).prefetch(1).flat_map(batches_of)


def _shuffled_batches(arrays: tuple, *, rows: int, batch_size: int) -> Any:
    """Keras's shuffled batches of arrays (``keras.src.trainers.data_adapters.ArrayDataAdapter``).

    Every iterator draws one permutation (``tf.random.shuffle``), cuts it into full batches and a
    last partial one, and gathers each batch from the arrays. The number of batches is declared
    (Keras knows it from its adapter) so that Keras makes its iterators at the same moments.

    As in Keras's pipeline (Keras 3.15, TensorFlow 2.21), once the global seed is set
    (``keras.utils.set_random_seed``) every iterator draws the *same* permutation: each epoch
    visits the batches in the same order, so ``shuffle=True`` shuffles once per run, not once
    per epoch (``tests/test_pipelines.py`` checks it). The book's array-trained checkpoints were
    trained so; the datasets of :func:`dae_utils.training.seeded_batches` draw a new order every
    epoch.
    """
    import tensorflow as tf

    pairs = tf.data.Dataset.zip(
        (_batch_indices(rows, batch_size=batch_size), tf.data.Dataset.from_tensors(_as_floatx(arrays)).repeat())
    )

    @tf.autograph.experimental.do_not_convert
    def gather(chosen: Any, data: Any) -> Any:
        return tf.nest.map_structure(lambda array: tf.gather(array, chosen), data)

    batches = pairs.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.apply(tf.data.experimental.assert_cardinality(-(-rows // batch_size)))
    return _without_autotuning(batches)


def _ordered_batches(arrays: tuple, *, batch_size: int) -> Any:
    import tensorflow as tf

    return _without_autotuning(tf.data.Dataset.from_tensor_slices(_as_floatx(arrays)).batch(batch_size))


def _dataset_batches(dataset: Any) -> Any:
    """A PyDataset's batches, ``dataset[0]``, ``dataset[1]``, ..., one batch prefetched.

    Every iterator calls ``dataset[0]``, ``dataset[1]``, ... afresh, from its first ``next()``
    (tf.data starts prefetching then, not when the iterator is made): Keras makes an iterator at
    an epoch's end and another at the next epoch's start, after the callbacks' ``on_epoch_begin``,
    so a dataset moved on by ``set_epoch`` in that callback is read at its new epoch.
    """
    import keras
    import tensorflow as tf

    first = keras.tree.lists_to_tuples(dataset[0])
    signature = tf.nest.map_structure(
        lambda array: tf.TensorSpec((None, *np.shape(array)[1:]), tf.as_dtype(np.asarray(array).dtype)), first
    )

    def batches() -> Any:
        for index in range(len(dataset)):
            yield keras.tree.lists_to_tuples(dataset[index])

    generated = tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(1)
    return _without_autotuning(generated.apply(tf.data.experimental.assert_cardinality(len(dataset))))
