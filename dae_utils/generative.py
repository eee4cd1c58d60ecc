"""A noise-conditional, class-conditional denoiser: the network of Part III.

Karras et al. (2022, "Elucidating the design space of diffusion-based generative models", EDM)
write a denoiser ``D(x; sigma)`` for every noise level ``sigma`` as a fixed *preconditioning*
around a network ``F``::

    D(x; sigma, label) = c_skip(sigma) * x + c_out(sigma) * F(c_in(sigma) * x, c_noise(sigma), label)

so that ``F``'s input and target have unit variance at every level. Training draws ``ln sigma``
from a normal distribution (mean: a recipe's ``p_mean``, by default :data:`P_MEAN`; std
:data:`P_STD`) and weights the squared error by
``1 / c_out**2``; that weighted loss is exactly the plain squared error of ``F`` against the
*effective target* ``(x - c_skip * noisy) / c_out``, which is what :func:`edm_batches` hands to
``model.fit``. The label is dropped (replaced by :data:`NULL_LABEL`) for a share of the images (a
recipe's ``label_dropout``, by default :data:`LABEL_DROPOUT`), so the same network is also an
unconditional denoiser:
classifier-free guidance (Ho & Salimans, 2022) mixes the two (:class:`Denoiser`).

Images are on [-1, 1] inside this module (:func:`to_model_scale`): noise of std 0.5 on [0, 1]
images is ``sigma = 1.0`` here. The network (:func:`build_edm_unet`) uses built-in Keras layers
only, so it loads in safe mode like every other checkpoint.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from dae_utils._batching import predict_batched
from dae_utils._validation import check_finite, check_fraction, check_image_batch, check_positive_int, check_seed

__all__ = [
    "LABEL_DROPOUT",
    "NULL_LABEL",
    "P_MEAN",
    "P_STD",
    "SIGMA_DATA",
    "SIGMA_MAX",
    "SIGMA_MIN",
    "Autoguided",
    "Denoiser",
    "build_edm_unet",
    "check_autoguidance",
    "check_guidance",
    "check_guidance_interval",
    "check_label_dropout",
    "check_labels",
    "check_p_mean",
    "check_sigma",
    "edm_batches",
    "edm_validation_set",
    "from_model_scale",
    "preconditioning",
    "to_model_scale",
]

#: Standard deviation of the data that the preconditioning assumes (EDM's value for [-1, 1] images).
SIGMA_DATA = 0.5
#: Training noise levels: ``ln sigma ~ Normal(p_mean, P_STD**2)``; ``P_MEAN`` is the default
#: ``p_mean`` of :func:`edm_batches` (a recipe records its own). EDM's values, tuned on CIFAR-10, are
#: -1.2 and 1.2 (median sigma 0.3); the mean here is 0.0 (median sigma 1.0, twice SIGMA_DATA), so more
#: of the training falls on high noise levels and less below sigma 0.1. In single GPU runs at 35
#: epochs (this recipe trains 32) it gave more confidently classified unconditional digits and a
#: lower Frechet distance than -1.2 or -0.6, at label dropout 0.3 and 0.5 alike (judged by the
#: classifier, no test image; ``tools/generator_budget.py --p-mean`` repeats it).
P_MEAN, P_STD = 0.0, 1.2
#: The sampler's noise range (EDM's values).
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0
#: Label meaning "no label": the unconditional denoiser of classifier-free guidance.
NULL_LABEL = 10
#: Share of training images whose label is replaced by :data:`NULL_LABEL` (the default of
#: :func:`edm_batches`; a recipe records its own ``label_dropout``). Ho & Salimans (2022) used 0.1
#: or 0.2; here the unconditional denoiser is the weak one. At 20 epochs 0.3 gave more confidently
#: classified unconditional digits than 0.1; in single GPU runs at 35 epochs 0.5 gave more than 0.3
#: at every P_MEAN tried, with the conditional agreement still above 98% (judged by the classifier,
#: no test image; ``tools/generator_budget.py --epochs 35 --label-dropout 0.5`` repeats it).
LABEL_DROPOUT = 0.5


# ------------------------------------------------------------------------------- validators


def check_sigma(sigma: Any, *, name: str = "sigma") -> np.ndarray:
    """Return noise levels as a float64 array after checking they are finite and > 0."""
    array = None if isinstance(sigma, (bool, str, bytes)) else np.asarray(sigma)
    if array is None or array.dtype.kind not in "fiu":
        raise TypeError(f"Expected `{name}` to be a positive number or array. Received: {name}={sigma!r}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"Expected `{name}` to be finite and > 0 (a noise level). Received: {name}={sigma!r}")
    return array.astype(np.float64)


def check_labels(labels: Any, *, allow_null: bool = True, name: str = "labels") -> np.ndarray:
    """Return digit labels as an int32 array after checking they are 0-9 (or :data:`NULL_LABEL`)."""
    array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        raise TypeError(f"Expected `{name}` to be integers 0 to 9. Received: {name} of dtype {array.dtype}")
    upper = NULL_LABEL if allow_null else 9
    if array.size and (array.min() < 0 or array.max() > upper):
        allowed = f"0 to 9 (or {NULL_LABEL} for 'no label')" if allow_null else "0 to 9"
        raise ValueError(
            f"Expected `{name}` to be digits {allowed}. Received: values from {array.min()} to {array.max()}"
        )
    return array.astype(np.int32)


def check_guidance(guidance: Any) -> float:
    """Return a guidance scale after checking it is a finite number (0 is no guidance)."""
    if isinstance(guidance, bool) or not isinstance(guidance, numbers.Real) or not math.isfinite(guidance):
        raise ValueError(
            f"Expected `guidance` to be a finite number (0 means no guidance). Received: guidance={guidance!r}"
        )
    return float(guidance)


def check_autoguidance(scale: Any) -> float:
    """Return an autoguidance scale after checking it is a finite number >= 0 (0 is no guidance)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale < 0:
        raise ValueError(
            "Expected the autoguidance `scale` to be a finite number >= 0 (0 means the main network alone). "
            f"Received: scale={scale!r}"
        )
    return float(scale)


def check_guidance_interval(interval: Any) -> tuple[float, float] | None:
    """Return a guidance interval ``(low, high)`` of noise levels after checking
    ``0 <= low < high``, both finite; ``None`` (guidance at every level) is returned as is."""
    if interval is None:
        return None
    numbers_given = (
        isinstance(interval, (tuple, list))
        and len(interval) == 2
        and all(isinstance(bound, numbers.Real) and not isinstance(bound, bool) for bound in interval)
    )
    if not numbers_given or not all(math.isfinite(bound) for bound in interval) or not 0 <= interval[0] < interval[1]:
        raise ValueError(
            "Expected the guidance `interval` to be two finite noise levels (low, high) with 0 <= low < high, "
            f"or None to guide at every level. Received: interval={interval!r}"
        )
    return float(interval[0]), float(interval[1])


def check_label_dropout(label_dropout: Any) -> float:
    """``label_dropout`` as a float in [0, 1): the share of labels replaced by :data:`NULL_LABEL`
    (1 would leave no labelled example)."""
    return check_fraction(label_dropout, name="label_dropout")


def check_p_mean(p_mean: Any) -> float:
    """``p_mean`` as a float: the mean of ``ln sigma`` in training, any finite number (EDM's is -1.2)."""
    return check_finite(p_mean, name="p_mean")


# ------------------------------------------------------------------------- preconditioning


def to_model_scale(images: np.ndarray) -> np.ndarray:
    """[0, 1] images -> [-1, 1] (the scale the network works on)."""
    return 2.0 * np.asarray(images, dtype=np.float32) - 1.0


def from_model_scale(images: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 1], clipped."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)


def preconditioning(sigma: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """EDM's ``(c_skip, c_out, c_in, c_noise)`` at noise level(s) ``sigma`` (Karras et al., Table 1)."""
    sigma = check_sigma(sigma)
    total = sigma**2 + SIGMA_DATA**2
    c_skip = SIGMA_DATA**2 / total
    c_out = sigma * SIGMA_DATA / np.sqrt(total)
    c_in = 1.0 / np.sqrt(total)
    c_noise = np.log(sigma) / 4.0
    return c_skip, c_out, c_in, c_noise


# ------------------------------------------------------------------------------------ model


def build_edm_unet(
    *,
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 32,
    embedding_dim: int = 128,
    name: str = "edm_unet",
) -> Any:
    """Build ``F``: a U-Net told the noise level and the digit (uncompiled).

    Three levels (28, 14, 7 pixels; ``filters``, ``2 * filters``, ``2 * filters`` channels), one
    residual block per level on each side and two at the bottom, skip connections by
    concatenation. Each residual block is GroupNorm -> SiLU -> 3x3 conv, plus a per-channel
    shift computed from the embedding, then GroupNorm -> SiLU -> 3x3 conv, added to its input.
    The embedding is a small MLP of ``c_noise`` plus a learned vector per label (11 of them: the
    digits and :data:`NULL_LABEL`).

    Inputs: ``image`` (None, 28, 28, 1), already multiplied by ``c_in``; ``noise_level``
    (None, 1), ``c_noise``; ``label`` (None, 1) integers 0-10. Output: ``F`` (None, 28, 28, 1),
    float32. Only built-in layers: the model loads in safe mode.
    """
    import keras

    filters = check_positive_int(filters, name="filters")
    embedding_dim = check_positive_int(embedding_dim, name="embedding_dim")
    widths = (filters, 2 * filters, 2 * filters)
    groups = math.gcd(8, filters)

    image = keras.Input(shape=input_shape, name="image")
    noise_level = keras.Input(shape=(1,), name="noise_level")
    label = keras.Input(shape=(1,), dtype="int32", name="label")

    noise_embedding = keras.layers.Dense(embedding_dim, activation="silu", name="noise_mlp_1")(noise_level)
    noise_embedding = keras.layers.Dense(embedding_dim, name="noise_mlp_2")(noise_embedding)
    label_embedding = keras.layers.Flatten(name="label_flatten")(
        keras.layers.Embedding(NULL_LABEL + 1, embedding_dim, name="label_embedding")(label)
    )
    embedding = keras.layers.Add(name="embedding_sum")([noise_embedding, label_embedding])
    embedding = keras.layers.Activation("silu", name="embedding_silu")(embedding)

    def residual_block(x: Any, width: int, prefix: str) -> Any:
        shortcut = x if x.shape[-1] == width else keras.layers.Conv2D(width, 1, name=f"{prefix}_shortcut")(x)
        h = keras.layers.GroupNormalization(groups, name=f"{prefix}_norm_1")(x)
        h = keras.layers.Activation("silu", name=f"{prefix}_silu_1")(h)
        h = keras.layers.Conv2D(width, 3, padding="same", name=f"{prefix}_conv_1")(h)
        shift = keras.layers.Dense(width, name=f"{prefix}_embedding")(embedding)
        shift = keras.layers.Reshape((1, 1, width), name=f"{prefix}_embedding_reshape")(shift)
        h = keras.layers.Add(name=f"{prefix}_condition")([h, shift])
        h = keras.layers.GroupNormalization(groups, name=f"{prefix}_norm_2")(h)
        h = keras.layers.Activation("silu", name=f"{prefix}_silu_2")(h)
        h = keras.layers.Conv2D(width, 3, padding="same", name=f"{prefix}_conv_2")(h)
        return keras.layers.Add(name=f"{prefix}_residual")([shortcut, h])

    x = keras.layers.Conv2D(widths[0], 3, padding="same", name="input_conv")(image)
    skips = []
    for level, width in enumerate(widths):
        x = residual_block(x, width, f"encoder_{level + 1}")
        skips.append(x)
        if level < len(widths) - 1:
            x = keras.layers.AveragePooling2D(2, name=f"encoder_{level + 1}_pool")(x)
    x = residual_block(x, widths[-1], "middle")
    for level in reversed(range(len(widths))):
        if level < len(widths) - 1:
            x = keras.layers.UpSampling2D(2, name=f"decoder_{level + 1}_upsample")(x)
        x = keras.layers.Concatenate(name=f"decoder_{level + 1}_skip")([x, skips[level]])
        x = residual_block(x, widths[level], f"decoder_{level + 1}")
    x = keras.layers.GroupNormalization(groups, name="output_norm")(x)
    x = keras.layers.Activation("silu", name="output_silu")(x)
    outputs = keras.layers.Conv2D(1, 3, padding="same", name="output_conv", dtype="float32")(x)
    return keras.Model([image, noise_level, label], outputs, name=name)


# --------------------------------------------------------------------------------- training


def _noisy_example(
    clean: np.ndarray, labels: np.ndarray, generator: np.random.Generator, *, label_dropout: float, p_mean: float
) -> tuple:
    """One EDM training batch: ``((c_in * noisy, c_noise, label), effective_target)``."""
    x = to_model_scale(clean)
    sigma = np.exp(p_mean + P_STD * generator.standard_normal((len(x), 1, 1, 1)))
    noisy = x + sigma * generator.standard_normal(x.shape)
    c_skip, c_out, c_in, c_noise = preconditioning(sigma)
    dropped = generator.random(len(x)) < label_dropout
    label = np.where(dropped, NULL_LABEL, labels).astype(np.int32).reshape(-1, 1)
    inputs = ((c_in * noisy).astype(np.float32), c_noise.reshape(-1, 1).astype(np.float32), label)
    target = ((x - c_skip * noisy) / c_out).astype(np.float32)
    return inputs, target


def edm_batches(
    clean_images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    label_dropout: float = LABEL_DROPOUT,
    p_mean: float = P_MEAN,
) -> Any:
    """A :class:`keras.utils.PyDataset` of EDM training batches, new noise levels and noise every epoch.

    Built on :func:`dae_utils.training.seeded_batches`, like the denoisers' fresh noise: batch ``b``
    of epoch ``e`` draws from ``numpy.random.default_rng([seed, e, b])``, so a resumed run sees what
    an uninterrupted one would. Call ``set_epoch(e)`` before epoch ``e`` (:mod:`dae_utils.training` does).

    Args:
        clean_images: Floats in [0, 1], shape (N, 28, 28, 1).
        labels: Their digits, shape (N,).
        batch_size: Images per batch.
        seed: Seed of the order, the noise levels, the noise and the dropped labels.
        label_dropout: Share of the labels replaced by :data:`NULL_LABEL` (the unconditional
            denoiser learns from those examples only).
        p_mean: Mean of ``ln sigma``, the log noise level drawn for each image (std :data:`P_STD`).
    """
    from dae_utils.training import seeded_batches

    clean_images = check_image_batch(clean_images, name="clean_images")
    labels = check_labels(labels, allow_null=False)
    batch_size = check_positive_int(batch_size, name="batch_size")
    seed = check_seed(seed)
    label_dropout = check_label_dropout(label_dropout)
    p_mean = check_p_mean(p_mean)
    if len(labels) != len(clean_images):
        raise ValueError(f"Expected one label per image. Received: {len(labels)} labels for {len(clean_images)} images")

    def batch(chosen: np.ndarray, generator: np.random.Generator) -> tuple:
        return _noisy_example(
            clean_images[chosen], labels[chosen], generator, label_dropout=label_dropout, p_mean=p_mean
        )

    return seeded_batches(len(clean_images), batch, batch_size=batch_size, seed=seed)


def edm_validation_set(
    clean_images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int,
    label_dropout: float = LABEL_DROPOUT,
    p_mean: float = P_MEAN,
) -> tuple:
    """Fixed ``(inputs, target)`` for the validation loss: one draw of levels, noise and dropped labels.

    Args:
        clean_images, labels: As in :func:`edm_batches`.
        seed: Seed of the one draw.
        label_dropout: Share of the labels replaced by :data:`NULL_LABEL`, as in training.
        p_mean: Mean of ``ln sigma``, as in training.
    """
    clean_images = check_image_batch(clean_images, name="clean_images")
    labels = check_labels(labels, allow_null=False)
    generator = np.random.default_rng([seed, 2**31])
    return _noisy_example(
        clean_images,
        labels,
        generator,
        label_dropout=check_label_dropout(label_dropout),
        p_mean=check_p_mean(p_mean),
    )


# --------------------------------------------------------------------------------- denoiser


class Denoiser:
    """``D(x; sigma, label)`` of a trained ``F``, with classifier-free guidance.

    Args:
        model: The network of :func:`build_edm_unet`.
        batch_size: Images per forward pass.

    Calling it maps [-1, 1]-scale noisy images (N, 28, 28, 1) at noise levels ``sigma`` (a number
    or (N,)) to denoised images of the same scale. With ``guidance`` w > 0 the output is
    ``D_uncond + (1 + w) * (D_cond - D_uncond)``, Ho & Salimans's rule; w = 0 is the plain
    conditional denoiser, and labels :data:`NULL_LABEL` give the unconditional one.
    """

    def __init__(self, model: Any, *, batch_size: int = 1000) -> None:
        self.model = model
        self.batch_size = check_positive_int(batch_size, name="batch_size")
        self.evaluations = 0  # forward passes of F, counted per image

    def _network(self, inputs: np.ndarray, c_noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
        self.evaluations += len(inputs)
        if not len(inputs):
            return np.zeros_like(inputs, dtype=np.float64)
        return predict_batched(self.model, (inputs, c_noise, labels), batch_size=self.batch_size)

    def __call__(
        self, noisy: np.ndarray, sigma: Any, labels: Any | None = None, *, guidance: float = 0.0
    ) -> np.ndarray:
        noisy = np.asarray(noisy, dtype=np.float64)
        if noisy.ndim != 4 or noisy.shape[1:] != (28, 28, 1):
            raise ValueError(f"Expected noisy images of shape (N, 28, 28, 1). Received: shape {noisy.shape}")
        count = len(noisy)
        sigma = np.broadcast_to(check_sigma(sigma), (count,)).reshape(-1, 1, 1, 1)
        labels = np.full(count, NULL_LABEL) if labels is None else np.broadcast_to(check_labels(labels), (count,))
        guidance = check_guidance(guidance)
        c_skip, c_out, c_in, c_noise = preconditioning(sigma)
        guided = guidance != 0 and np.any(labels != NULL_LABEL)
        inputs = (c_in * noisy).astype(np.float32)
        c_noise = c_noise.reshape(-1, 1).astype(np.float32)
        labels = labels.astype(np.int32).reshape(-1, 1)
        if guided:  # the conditional and unconditional passes in one batch
            both = self._network(
                np.concatenate([inputs, inputs]),
                np.concatenate([c_noise, c_noise]),
                np.concatenate([labels, np.full_like(labels, NULL_LABEL)]),
            )
            conditional, unconditional = both[:count], both[count:]
            output = unconditional + (1.0 + guidance) * (conditional - unconditional)
        else:
            output = self._network(inputs, c_noise, labels)
        return c_skip * noisy + c_out * output


class Autoguided:
    """Autoguidance (Karras et al., 2024): a weaker network of the same kind steers the sampler.

    Args:
        denoiser: The main :class:`Denoiser`.
        guide: A :class:`Denoiser` of a smaller, shorter-trained network, trained on the same
            data the same way (its "bad version").
        scale: Guidance scale ``s >= 0``; 0 is the main network alone.
        interval: Noise levels ``(low, high)``: guide only where ``low < sigma <= high`` and use
            the main network alone elsewhere, without running the guide (Kynkaanniemi et al.,
            2024, "Applying guidance in a limited interval"); ``None`` guides at every level.

    Calling it (like a :class:`Denoiser`, and so usable by every sampler) returns
    ``D_guide + (1 + s) * (D_main - D_guide)``, both at the same labels, at the noise levels inside
    ``interval`` (``D_main`` alone elsewhere). Where the two networks
    agree, nothing changes; where the weak one is wrong, the strong one is usually wrong the same
    way but less, and the sampler is pushed further away from that error. Unlike classifier-free
    guidance, it needs no label: with :data:`NULL_LABEL` it guides an unconditional sampler.
    ``guidance`` (classifier-free) must be 0: the two are not combined here.
    """

    def __init__(
        self,
        denoiser: Denoiser,
        guide: Denoiser,
        *,
        scale: float,
        interval: tuple[float, float] | None = None,
    ) -> None:
        for name, value in (("denoiser", denoiser), ("guide", guide)):
            if not isinstance(value, Denoiser):
                raise TypeError(f"Expected `{name}` to be a Denoiser. Received: {type(value).__name__}")
        self.denoiser, self.guide = denoiser, guide
        self.scale = check_autoguidance(scale)
        self.interval = check_guidance_interval(interval)

    @property
    def evaluations(self) -> int:
        """Forward passes of both networks so far, counted per image."""
        return self.denoiser.evaluations + self.guide.evaluations

    def __call__(
        self, noisy: np.ndarray, sigma: Any, labels: Any | None = None, *, guidance: float = 0.0
    ) -> np.ndarray:
        if check_guidance(guidance) != 0:
            raise ValueError(
                "Expected guidance=0 with autoguidance (classifier-free guidance is not combined with it). "
                f"Received: guidance={guidance!r}"
            )
        main = self.denoiser(noisy, sigma, labels)
        if self.scale == 0:
            return main
        low, high = self.interval or (0.0, math.inf)  # None: every level
        count = len(main)
        sigmas = np.broadcast_to(check_sigma(sigma), (count,))
        inside = (sigmas > low) & (sigmas <= high)
        if not inside.any():
            return main
        if labels is not None:
            labels = np.broadcast_to(check_labels(labels), (count,))[inside]
        weak = self.guide(np.asarray(noisy, dtype=np.float64)[inside], sigmas[inside], labels)
        guided = main.copy()
        guided[inside] = weak + (1.0 + self.scale) * (main[inside] - weak)
        return guided
