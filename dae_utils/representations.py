"""What an autoencoder learns (chapter 6): linear baselines, codes and features.

- :func:`fit_pca`: principal component analysis of a set of images (:class:`PCA`).
- :func:`fit_linear_denoiser`: the best affine map from noisy to clean images in mean squared
  error, over the whole image (the Wiener estimator on the pixel vector); its ``with_rank(k)``, the
  best one that passes through a ``k``-number code, i.e. the best *linear* denoising autoencoder
  with a ``k``-unit bottleneck (reduced-rank regression).
- :func:`principal_angles`: how far apart two subspaces are (a linear autoencoder's against PCA's).
- :func:`layer_features`: a layer's activations, flattened (an encoder's code, a classifier's features).
- :func:`fit_linear_probe`: a softmax classifier on frozen features, the usual test of a
  representation (Alain & Bengio, 2017), here of the codes that denoising autoencoders learn.

Images are batches (N, H, W, 1) or (N, H, W) of floats in [0, 1]; the linear algebra flattens
them to (N, H * W) matrices in float64.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dae_utils._batching import predict_batched
from dae_utils._validation import _describe, check_image_batch, check_positive_int, check_same_shape

__all__ = [
    "PCA",
    "LinearDenoiser",
    "fit_linear_denoiser",
    "fit_linear_probe",
    "fit_pca",
    "layer_features",
    "principal_angles",
]

_EXTRACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _flatten(images: np.ndarray, *, name: str) -> np.ndarray:
    images = check_image_batch(images, name=name)
    return images.reshape(len(images), -1).astype(np.float64)


def _check_rank(rank: Any, *, dimension: int, name: str) -> int:
    rank = check_positive_int(rank, name=name)
    if rank > dimension:
        raise ValueError(f"Expected `{name}` to be at most {dimension}, the number of pixels. Received: {name}={rank}")
    return rank


@dataclass(frozen=True)
class PCA:
    """Principal components of a set of images.

    Attributes:
        mean: The mean image, flattened, shape (D,).
        components: Orthonormal directions as rows, by decreasing variance, shape (D, D).
        variances: The variance of the images along each direction (the covariance's
            eigenvalues), decreasing, shape (D,).
        image_shape: The shape of one image, e.g. (28, 28, 1).
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    image_shape: tuple[int, ...]

    def encode(self, images: np.ndarray, *, size: int) -> np.ndarray:
        """The coordinates of ``images`` on the first ``size`` components, shape (N, size)."""
        size = _check_rank(size, dimension=len(self.mean), name="size")
        return (_flatten(images, name="images") - self.mean) @ self.components[:size].T

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Images (N, *image_shape) from codes (N, k) on the first k components, not clipped."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or not 1 <= codes.shape[1] <= len(self.mean):
            raise ValueError(
                f"Expected codes of shape (N, k) with 1 <= k <= {len(self.mean)}. Received: {_describe(codes)}"
            )
        flat = self.mean + codes @ self.components[: codes.shape[1]]
        return flat.reshape(len(codes), *self.image_shape)

    def reconstruct(self, images: np.ndarray, *, size: int) -> np.ndarray:
        """Project ``images`` on the first ``size`` components and back, clipped to [0, 1], float32."""
        return np.clip(self.decode(self.encode(images, size=size)), 0.0, 1.0).astype(np.float32)


def fit_pca(images: np.ndarray) -> PCA:
    """Principal component analysis of ``images`` (N, H, W[, 1]), from the covariance's eigenvectors.

    Returns:
        A :class:`PCA` with all D = H * W components.
    """
    images = check_image_batch(images, name="images")
    flat = _flatten(images, name="images")
    mean = flat.mean(axis=0)
    centred = flat - mean
    variances, vectors = np.linalg.eigh(centred.T @ centred / len(flat))
    order = np.argsort(variances)[::-1]
    return PCA(
        mean=mean,
        components=vectors[:, order].T,
        variances=np.clip(variances[order], 0.0, None),
        image_shape=tuple(images.shape[1:]),
    )


@dataclass(frozen=True)
class LinearDenoiser:
    """An affine denoiser ``x_hat = clean_mean + (y - noisy_mean) @ matrix`` on flattened images.

    Attributes:
        noisy_mean, clean_mean: Mean noisy and clean images, flattened, shape (D,).
        matrix: The linear part, shape (D, D); its rank is the size of the code it passes through.
        directions: The principal directions of the full map's outputs on its training pairs, as
            columns by decreasing variance, shape (D, D): :meth:`with_rank` keeps the first ones.
        image_shape: The shape of one image.
    """

    noisy_mean: np.ndarray
    clean_mean: np.ndarray
    matrix: np.ndarray
    directions: np.ndarray
    image_shape: tuple[int, ...]

    def __call__(self, noisy_images: np.ndarray) -> np.ndarray:
        """Denoise a batch of the training images' shape; float32 estimates clipped to [0, 1]."""
        noisy_images = check_image_batch(noisy_images, name="noisy_images")
        if tuple(noisy_images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"Expected images of shape (N, {', '.join(map(str, self.image_shape))}), as fitted. "
                f"Received: {_describe(noisy_images)}"
            )
        flat = self.clean_mean + (_flatten(noisy_images, name="noisy_images") - self.noisy_mean) @ self.matrix
        return np.clip(flat, 0.0, 1.0).astype(np.float32).reshape(noisy_images.shape)

    @property
    def rank(self) -> int:
        """The rank of :attr:`matrix`: the number of values the estimate is computed from."""
        return int(np.linalg.matrix_rank(self.matrix))

    def with_rank(self, rank: int) -> LinearDenoiser:
        """The best map of rank ``rank`` on the same training pairs (reduced-rank regression).

        It is the full map followed by the projection on its outputs' first ``rank`` principal
        directions: a linear autoencoder whose encoder is ``matrix @ directions[:, :rank]`` and
        whose decoder is ``directions[:, :rank].T``, the best a ``rank``-unit linear code can do.
        """
        rank = _check_rank(rank, dimension=len(self.clean_mean), name="rank")
        top = self.directions[:, :rank]
        return replace(self, matrix=self.matrix @ top @ top.T)


def fit_linear_denoiser(clean: np.ndarray, noisy: np.ndarray) -> LinearDenoiser:
    """The affine map from noisy to clean images with the least mean squared error on the pairs.

    Least squares of every clean pixel on all noisy pixels plus a constant: ``matrix = C_yy^-1
    C_yx``, the Wiener estimator of the pixel vector with the covariances estimated from the
    pairs. :meth:`LinearDenoiser.with_rank` gives the best map through a smaller code.

    Args:
        clean: Clean images, (N, H, W[, 1]) floats in [0, 1].
        noisy: Their noisy versions, same shape; N should be well above H * W.

    Returns:
        A :class:`LinearDenoiser`.
    """
    clean = check_image_batch(clean, name="clean")
    noisy = check_image_batch(noisy, name="noisy")
    check_same_shape(noisy, clean, names=("noisy", "clean"))
    x, y = _flatten(clean, name="clean"), _flatten(noisy, name="noisy")
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    x, y = x - x_mean, y - y_mean
    matrix = np.linalg.lstsq(y, x, rcond=None)[0]  # (D, D): solves C_yy W = C_yx, stably
    fitted = y @ matrix
    _, vectors = np.linalg.eigh(fitted.T @ fitted)
    return LinearDenoiser(
        noisy_mean=y_mean,
        clean_mean=x_mean,
        matrix=matrix,
        directions=vectors[:, ::-1],
        image_shape=tuple(clean.shape[1:]),
    )


def principal_angles(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The principal angles, in degrees, between the subspaces spanned by two sets of vectors.

    Args:
        first, second: Matrices (k, D) and (m, D) whose *rows* span the two subspaces (PCA
            components, a linear autoencoder's decoder weights), with k, m <= D.

    Returns:
        min(k, m) angles in increasing order; all 0 when one subspace contains the other.
    """
    bases = []
    for name, given in (("first", first), ("second", second)):
        vectors = np.asarray(given, dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] > vectors.shape[1]:
            raise ValueError(f"Expected `{name}` of shape (k, D) with k <= D. Received: {_describe(vectors)}")
        bases.append(np.linalg.qr(vectors.T)[0])
    if bases[0].shape[0] != bases[1].shape[0]:
        raise ValueError(f"Expected vectors of the same length. Received: {bases[0].shape[0]} and {bases[1].shape[0]}")
    cosines = np.linalg.svd(bases[0].T @ bases[1], compute_uv=False)
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def layer_features(model: Any, images: np.ndarray, *, layer: str, batch_size: int = 1000) -> np.ndarray:
    """The activations of ``model``'s layer named ``layer`` on ``images``, flattened to (N, F) float32.

    Works for any functional Keras model: an encoder's code, a classifier's penultimate layer.
    """
    import keras

    images = check_image_batch(images, name="images")
    batch_size = check_positive_int(batch_size, name="batch_size")
    names = [each.name for each in model.layers]
    if layer not in names:
        raise ValueError(f"Expected the name of one of {model.name}'s layers {names}. Received: layer={layer!r}")
    extractors = _EXTRACTORS.setdefault(model, {})
    if layer not in extractors:  # one extractor per layer: its predict function is traced once
        extractors[layer] = keras.Model(model.inputs, model.get_layer(layer).output)
    outputs = predict_batched(extractors[layer], images.astype(np.float32), batch_size=batch_size)
    return outputs.reshape(len(images), -1).astype(np.float32)


@dataclass(frozen=True)
class LinearProbe:
    """A softmax classifier on standardised frozen features.

    Attributes:
        model: The Keras model, one ``Dense(classes, softmax)`` layer.
        mean, scale: The standardisation fitted on the training features.
        history: Per-epoch loss and accuracy (training and validation).
    """

    model: Any
    mean: np.ndarray
    scale: np.ndarray
    history: dict

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The most probable class of each row of ``features``, shape (N,)."""
        inputs = ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale).astype(np.float32)
        scores = predict_batched(self.model, inputs, batch_size=4096)  # a few traced shapes, whatever N
        return np.argmax(scores, axis=1)

    def accuracy(self, features: np.ndarray, labels: np.ndarray) -> float:
        """The share of rows whose predicted class is the label."""
        return float(np.mean(self.predict(features) == np.asarray(labels)))


def _check_features(features: Any, labels: Any, *, name: str) -> tuple[np.ndarray, np.ndarray]:
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number) or not np.all(np.isfinite(features)):
        raise ValueError(f"Expected `{name}` features as a finite (N, F) array. Received: {_describe(features)}")
    if labels.shape != (len(features),) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(
            f"Expected one non-negative integer label per row of `{name}` features, shape ({len(features)},). "
            f"Received: {_describe(labels)}"
        )
    return features, labels


def fit_linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    validation: tuple[np.ndarray, np.ndarray],
    epochs: int,
    seed: int,
    output_dir: str | Path,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
) -> LinearProbe:
    """Train a softmax classifier on frozen features (a linear probe), on the book's one fit path.

    The features are standardised with the training features' mean and standard deviation, then
    one ``Dense`` layer is fitted with Adam and cross-entropy by :func:`dae_utils.training.fit_examples`
    (seeded, resumable, with a history in ``output_dir``). Nothing is chosen on ``validation``: it
    is only reported.

    Args:
        features: Training features (N, F); labels: their integer classes (N,).
        validation: ``(features, labels)`` scored after every epoch.
        epochs, seed, output_dir, batch_size, learning_rate: As in :func:`~dae_utils.training.fit_examples`.

    Returns:
        A :class:`LinearProbe`.
    """
    import keras

    from dae_utils.training import fit_examples, set_seed

    features, labels = _check_features(features, labels, name="training")
    validation_features, validation_labels = _check_features(*validation, name="validation")
    if validation_features.shape[1] != features.shape[1]:
        raise ValueError(
            f"Expected validation features with {features.shape[1]} columns, like the training features. "
            f"Received: {validation_features.shape[1]}"
        )
    mean = features.mean(axis=0)
    scale = np.where(features.std(axis=0) > 0, features.std(axis=0), 1.0)

    def standardise(values: np.ndarray) -> np.ndarray:
        return ((values - mean) / scale).astype(np.float32)

    set_seed(seed)  # the same initial weights for the same seed
    classes = int(max(labels.max(), validation_labels.max())) + 1
    inputs = keras.Input(shape=(features.shape[1],), name="features")
    outputs = keras.layers.Dense(classes, activation="softmax", name="class_probabilities")(inputs)
    model = keras.Model(inputs, outputs, name="linear_probe")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    result = fit_examples(
        model,
        (standardise(features), labels),
        validation_data=(standardise(validation_features), validation_labels),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        output_dir=output_dir,
    )
    return LinearProbe(model=result.model, mean=mean, scale=scale, history=result.history)
