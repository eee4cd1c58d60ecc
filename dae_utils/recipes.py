"""Every trained model of the book: one recipe type, one way to run it, one manifest, one way to choose.

A :class:`Recipe` says everything a training run needs: the architecture, the loss, the noise,
the data, the schedule, the precision, the seeds and the protocol. :func:`run` turns one into a
checkpoint: it loads the data, draws the noise, seeds, builds, fits, scores and saves
``NAME.keras`` with its history (``NAME_history.json``) and its manifest (``NAME.json``); a study
that only needs the trained network calls :func:`train`, the same training without scoring or saving.
:func:`select` ranks trained recipes by their *validation* score and writes a selection record
that points at the winner; no file is renamed or copied.

Two protocols (:data:`PROTOCOLS`):

- ``"validation"`` (chapter 6's dense autoencoders, chapters 7 to 9, and the dropout selection):
  fit on training images 0-49,999, follow the loss on training images 50,000-59,999 with fixed noise (std
  :data:`~dae_utils.config.PAPER` ``.noise_std``, seed ``train_noise_seed``), and rank on them;
  then score once on all 10,000 test images (seed ``test_noise_seed``).
- ``"paper"`` (chapter 3, the paper's run): fit on all 60,000 training images; the loss curve
  is drawn on the noisy test images, as in the paper's figure, and nothing is chosen on it (the
  model kept is the last epoch's). Such a run has no validation score and is never a candidate.

Three recipes are not denoisers of the paper's task: ``mnist_classifier`` (architecture
``"classifier"``), the judge of Part III's generated digits, scored by its accuracy;
``edm_digits`` (architecture ``"edm_unet"``), Part III's noise- and class-conditional denoiser,
trained on EDM's batches (:func:`~dae_utils.generative.edm_batches`) and scored by the digits it
generates (:func:`~dae_utils.sample_quality.score_generator`, which needs the classifier); and
``edm_digits_guide`` (:data:`GUIDE`), a smaller, shorter-trained ``edm_digits`` that autoguides
the other generators' unconditional samples when they are scored (by default: :func:`run` takes
another guide, or none).

``python -m dae_utils train NAME`` runs a recipe of :data:`RECIPES` into
``dae_utils/pretrained/``; ``python -m dae_utils select best_denoiser`` chooses among them.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dae_utils._validation import check_positive_int, check_seed
from dae_utils.artifacts import atomic_write_json, history_path, manifest_path, read_json, save_model
from dae_utils.config import PAPER
from dae_utils.generative import (
    LABEL_DROPOUT,
    P_MEAN,
    build_edm_unet,
    check_label_dropout,
    check_p_mean,
    edm_batches,
    edm_validation_set,
)

__all__ = [
    "BEST_DENOISER",
    "CODE_ARCHITECTURES",
    "DENSE_CODE_SIZES",
    "DROPOUT_SELECTION",
    "GUIDE_EPOCH_DIVISOR",
    "PAPER_TASK_ARCHITECTURES",
    "PRECISIONS",
    "PROTOCOLS",
    "RECIPES",
    "SCHEMA_VERSION",
    "SELECTIONS",
    "Recipe",
    "candidates_of",
    "dropout_candidates",
    "environment",
    "get_recipe",
    "guide_of",
    "load_split",
    "run",
    "select",
    "train",
]

#: Version of the manifest and selection-record format written by :func:`run` and :func:`select`.
SCHEMA_VERSION = 5
#: Training precisions a recipe may ask for (Keras dtype policies).
PRECISIONS = ("float32", "mixed_bfloat16")
#: Where a recipe fits, follows its loss and is ranked (see the module docstring).
PROTOCOLS = ("validation", "paper")
#: Architectures of the paper's task (noisy image in, clean image out), ranked for the best denoiser.
DENOISER_ARCHITECTURES = ("paper", "unet", "residual")
#: Fully connected denoising autoencoders with a narrow code (chapter 6's bottleneck experiment):
#: denoisers of the paper's task too, but not candidates for the best denoiser.
CODE_ARCHITECTURES = ("dense",)
#: Every architecture of the paper's task: the checkpoints that are scored by PSNR and SSIM.
PAPER_TASK_ARCHITECTURES = (*DENOISER_ARCHITECTURES, *CODE_ARCHITECTURES)
ARCHITECTURES = (*PAPER_TASK_ARCHITECTURES, "classifier", "edm_unet")
#: Code sizes of the shipped dense autoencoders (chapter 6); 2 can be drawn in a plane.
DENSE_CODE_SIZES = (2, 8, 32, 128)
LOSSES = ("binary_crossentropy", "mean_squared_error", "sparse_categorical_crossentropy")
#: The only loss that each architecture past the paper's task trains with.
_FIXED_LOSS = {"classifier": "sparse_categorical_crossentropy", "edm_unet": "mean_squared_error"}
LEARNING_RATES = ("constant", "cosine")
DATASETS = ("mnist", "fashion_mnist")
#: The recipe whose checkpoint judges generated digits (Part III).
CLASSIFIER = "mnist_classifier"
#: The recipe whose checkpoint autoguides the generators' unconditional samples when they are scored
#: (:func:`~dae_utils.sample_quality.score_autoguided`; :func:`run`'s default guide): Part III's
#: generator made worse on purpose.
GUIDE = "edm_digits_guide"
#: A guide trains for its generator's epochs divided by this (:func:`guide_of`).
GUIDE_EPOCH_DIVISOR = 8
#: Selection records (``NAME.json``) that :func:`select` writes.
BEST_DENOISER = "best_denoiser"
DROPOUT_SELECTION = "dropout_selection"


@dataclass(frozen=True)
class Recipe:
    """One training run, completely described.

    Attributes:
        name: File stem of its checkpoint, e.g. ``"unet"``.
        title: What the book calls it.
        architecture: ``"paper"`` (:func:`~dae_utils.models.build_paper_autoencoder`),
            ``"unet"`` (:func:`~dae_utils.models.build_unet`), ``"residual"``
            (:func:`~dae_utils.models.build_residual_denoiser`), ``"dense"``
            (:func:`~dae_utils.models.build_dense_autoencoder`), ``"classifier"``
            (:func:`~dae_utils.models.build_classifier`) or ``"edm_unet"``
            (:func:`~dae_utils.generative.build_edm_unet`).
        loss: Keras loss name: ``"binary_crossentropy"`` (the paper's) or ``"mean_squared_error"``;
            the classifier's is ``"sparse_categorical_crossentropy"``, EDM's ``"mean_squared_error"``
            (of the effective target, which is EDM's weighted loss).
        fresh_noise: Draw new noise for every batch instead of once (the paper: once).
        noise_std: Training noise std, or a ``(low, high)`` range drawn per image (fresh noise only).
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        filters: Width of the first level (U-Net, residual net), or ``None`` for the builder's default.
        dropout_rate: Dropout of the paper's model, or ``None`` for the book's choice
            (:data:`~dae_utils.config.PAPER` ``.dropout_rate``); other architectures have none.
        learning_rate: ``"constant"`` (Adam's default 0.001, the paper's) or ``"cosine"``
            (0.001 decayed along a half cosine to 0.00001 at the last step).
        precision: ``"float32"`` (the paper's) or ``"mixed_bfloat16"`` (bfloat16 arithmetic,
            float32 weights). The saved model is always float32.
        epochs, batch_size, seed: As in the paper's run (:data:`~dae_utils.config.PAPER`).
        fit_size: Fit on only the first ``fit_size`` images of the protocol's fit set (quick
            runs), or ``None`` for all of them.
        protocol: ``"validation"`` or ``"paper"`` (see the module docstring).
        label_dropout: Share of the labels dropped in training (``"edm_unet"`` only, where it is
            required: the unconditional denoiser learns from those examples); ``None`` elsewhere.
        p_mean: Mean of ``ln sigma``, the log noise level of EDM's training examples (``"edm_unet"``
            only, where it is required); ``None`` elsewhere.
        code_size: Numbers in the code of a ``"dense"`` autoencoder (required there); ``None``
            elsewhere.
    """

    name: str
    title: str
    architecture: str = "paper"
    loss: str = "binary_crossentropy"
    fresh_noise: bool = False
    noise_std: float | tuple[float, float] = PAPER.noise_std
    dataset: str = "mnist"
    filters: int | None = None
    dropout_rate: float | None = None
    learning_rate: str = "constant"
    precision: str = "float32"
    epochs: int = PAPER.epochs
    batch_size: int = PAPER.batch_size
    seed: int = PAPER.seed
    fit_size: int | None = None
    protocol: str = "validation"
    label_dropout: float | None = None
    p_mean: float | None = None
    code_size: int | None = None

    def __post_init__(self) -> None:
        for field, allowed in (
            ("architecture", ARCHITECTURES),
            ("loss", LOSSES),
            ("dataset", DATASETS),
            ("learning_rate", LEARNING_RATES),
            ("precision", PRECISIONS),
            ("protocol", PROTOCOLS),
        ):
            value = getattr(self, field)
            if value not in allowed:
                expected = " or ".join(repr(option) for option in allowed)
                raise ValueError(f"Expected {field} {expected}. Received: {field}={value!r}")
        optional = tuple(field for field in ("fit_size", "filters") if getattr(self, field) is not None)
        for field in ("epochs", "batch_size", *optional):
            check_positive_int(getattr(self, field), name=field)
        check_seed(self.seed)
        fixed_loss = _FIXED_LOSS.get(self.architecture)
        if (fixed_loss and self.loss != fixed_loss) or (not fixed_loss and self.loss == LOSSES[2]):
            expected = repr(fixed_loss) if fixed_loss else "'binary_crossentropy' or 'mean_squared_error'"
            raise ValueError(
                f"Expected loss {expected} for architecture {self.architecture!r}. Received: loss={self.loss!r}"
            )
        if isinstance(self.noise_std, tuple) and not self.fresh_noise:
            raise ValueError(
                "Expected a single noise_std for noise drawn once (a range needs fresh_noise=True). "
                f"Received: noise_std={self.noise_std!r}"
            )
        for field, check, meaning, role in (
            ("label_dropout", check_label_dropout, " in [0, 1)", "drops labels"),
            ("p_mean", check_p_mean, " to be a finite number", "draws noise levels"),
        ):
            value = getattr(self, field)
            if (value is None) == (self.architecture == "edm_unet"):
                expected = meaning if self.architecture == "edm_unet" else "=None"
                raise ValueError(
                    f"Expected {field}{expected} for architecture {self.architecture!r} (only the EDM "
                    f"denoiser {role}). Received: {field}={value!r}"
                )
            if value is not None:  # stored as the float the manifest records
                object.__setattr__(self, field, check(value))
        if (self.code_size is None) == (self.architecture == "dense"):
            expected = " to be a positive integer" if self.architecture == "dense" else "=None"
            raise ValueError(
                f"Expected code_size{expected} for architecture {self.architecture!r} (the width of the "
                f"dense autoencoder's code, which no other architecture has). Received: code_size={self.code_size!r}"
            )
        if self.code_size is not None:
            check_positive_int(self.code_size, name="code_size")
        if self.filters is not None and self.architecture == "dense":
            raise ValueError(
                "Expected filters=None for architecture 'dense' (a fully connected network has no filters; "
                f"its width is code_size). Received: filters={self.filters!r}"
            )
        if self.dropout_rate is not None and self.architecture != "paper":
            raise ValueError(
                f"Expected dropout_rate=None for architecture {self.architecture!r} (only the paper's model "
                f"has dropout). Received: dropout_rate={self.dropout_rate!r}"
            )

    def to_dict(self) -> dict:
        """The recipe as JSON stores it (tuples become lists), for manifests."""
        recipe = asdict(self)
        if isinstance(self.noise_std, tuple):
            recipe["noise_std"] = list(self.noise_std)
        return recipe

    def build(self, *, precision: str = "float32") -> Any:
        """Build the (uncompiled) model of this recipe.

        Args:
            precision: ``"float32"`` or ``"mixed_bfloat16"`` (to train with :attr:`precision`);
                the output layer stays float32 either way, and the global policy is restored.
        """
        import keras

        from dae_utils import models

        if precision not in PRECISIONS:
            raise ValueError(f"Expected precision 'float32' or 'mixed_bfloat16'. Received: precision={precision!r}")
        builders = {
            "paper": models.build_paper_autoencoder,
            "unet": models.build_unet,
            "residual": models.build_residual_denoiser,
            "dense": models.build_dense_autoencoder,
            "classifier": models.build_classifier,
            "edm_unet": build_edm_unet,
        }
        options: dict[str, Any] = {} if self.filters is None else {"filters": self.filters}
        if self.dropout_rate is not None:
            options["dropout_rate"] = self.dropout_rate
        if self.code_size is not None:
            options["code_size"] = self.code_size
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(precision)
        try:
            return builders[self.architecture](name=self.name, **options)
        finally:
            keras.mixed_precision.set_global_policy(previous)

    def optimizer(self, *, steps: int) -> Any:
        """Adam with this recipe's learning rate, for a run of ``steps`` batches in all."""
        import keras

        if self.learning_rate == "cosine":
            schedule = keras.optimizers.schedules.CosineDecay(0.001, decay_steps=steps, alpha=0.01)
            return keras.optimizers.Adam(learning_rate=schedule)
        return keras.optimizers.Adam()


#: The paper's run (chapter 3): all 60,000 training images, the loss curve on the test images.
PAPER_RECIPE = Recipe("paper_autoencoder", "the paper's model", protocol="paper")


def guide_of(generator: Recipe, *, name: str) -> Recipe:
    """The autoguidance guide of ``generator``: its recipe at half the width and an eighth of the
    epochs (Karras et al., 2024: a smaller, shorter-trained version of the model), named ``name``
    (:data:`GUIDE` for the shipped generator's). An eighth: of the shipped generator's guides trained
    for a sixteenth, an eighth and a quarter of its epochs, the eighth's autoguided digits came
    closest to the validation images (``tools/autoguidance_scale.py --guide-epochs``; the best of
    that sweep, by a margin within its noise)."""
    if not isinstance(generator, Recipe):
        raise TypeError(f"Expected a Recipe. Received: {type(generator).__name__}")
    if generator.architecture != "edm_unet":
        raise ValueError(
            f"Expected a generator recipe (architecture 'edm_unet'). Received: {generator.name!r}, "
            f"architecture {generator.architecture!r}"
        )
    return replace(
        generator,
        name=name,
        title="autoguidance's guide: the EDM denoiser at half the width, an eighth of the epochs",
        filters=max(1, generator.filters // 2),
        epochs=max(1, generator.epochs // GUIDE_EPOCH_DIVISOR),
    )


def _guide_and_generator() -> tuple[Recipe, Recipe]:
    """Part III's autoguidance guide and its generator, in training order."""
    generator = Recipe(
        "edm_digits",
        "class-conditional EDM denoiser, all noise levels, bfloat16",
        "edm_unet",
        "mean_squared_error",
        fresh_noise=True,
        filters=32,
        learning_rate="cosine",
        precision="mixed_bfloat16",
        epochs=32,
        label_dropout=LABEL_DROPOUT,
        p_mean=P_MEAN,
    )
    return guide_of(generator, name=GUIDE), generator


#: Every shipped checkpoint, in training order (``make pretrained``).
RECIPES: tuple[Recipe, ...] = (
    PAPER_RECIPE,
    Recipe("unet", "U-Net, fresh noise", "unet", fresh_noise=True),
    Recipe("paper_validation", "the paper's recipe"),
    Recipe("paper_fresh_noise", "paper's model, fresh noise", fresh_noise=True),
    Recipe("paper_mse", "paper's model, MSE loss", loss="mean_squared_error"),
    Recipe("paper_mse_seed_7", "paper's model, MSE loss, seed 7", loss="mean_squared_error", seed=7),
    Recipe("residual", "small residual network, fresh noise", "residual", "mean_squared_error", fresh_noise=True),
    Recipe("blind_unet", "U-Net, fresh noise, std 0.1-0.9", "unet", fresh_noise=True, noise_std=(0.1, 0.9)),
    Recipe("fashion_paper", "paper's recipe on Fashion-MNIST", dataset="fashion_mnist"),
    Recipe(
        "unet_wide",
        "U-Net, 32 filters, fresh noise, 30 epochs, cosine learning rate",
        "unet",
        fresh_noise=True,
        filters=32,
        learning_rate="cosine",
        epochs=2 * PAPER.epochs,
    ),
    Recipe(
        "unet_64",
        "U-Net, 64 filters, fresh noise, 36 epochs, cosine learning rate, bfloat16",
        "unet",
        fresh_noise=True,
        filters=64,
        learning_rate="cosine",
        precision="mixed_bfloat16",
        epochs=36,
    ),
    # Chapter 6: the paper's loss, optimiser, batch size, epochs and noise, through a code of k numbers.
    *(
        Recipe(f"dense_{size}", f"dense autoencoder, code of {size}", "dense", code_size=size)
        for size in DENSE_CODE_SIZES
    ),
    # Part III. The classifier comes first: scoring the generator needs it.
    Recipe(
        "mnist_classifier",
        "digit classifier (Part III's judge)",
        "classifier",
        "sparse_categorical_crossentropy",
        learning_rate="cosine",
        epochs=8,
    ),
    # The guide is trained before the generator: scoring the generator needs it.
    *_guide_and_generator(),
)

#: The dropout rates tried for the paper's model (the paper gives none).
DROPOUT_RATES = (0.0, 0.1, 0.2, 0.3)


def dropout_candidates() -> tuple[Recipe, ...]:
    """The paper's recipe under the validation protocol, once per rate of :data:`DROPOUT_RATES`."""
    return tuple(
        Recipe(f"paper_dropout_{rate}", f"the paper's recipe, dropout {rate}", dropout_rate=rate)
        for rate in DROPOUT_RATES
    )


def get_recipe(name: str) -> Recipe:
    """Return the recipe called ``name`` (a shipped one, or a dropout candidate)."""
    known = (*RECIPES, *dropout_candidates())
    for recipe in known:
        if recipe.name == name:
            return recipe
    names = ", ".join(recipe.name for recipe in known)
    raise ValueError(f"Expected a recipe name, one of: {names}. Received: {name!r}")


#: Selection records and the candidates each one ranks (by validation PSNR).
SELECTIONS = {
    BEST_DENOISER: lambda: tuple(
        r.name
        for r in RECIPES
        if r.dataset == "mnist" and r.protocol == "validation" and r.architecture in DENOISER_ARCHITECTURES
    ),
    DROPOUT_SELECTION: lambda: tuple(r.name for r in dropout_candidates()),
}


def candidates_of(selection: str) -> tuple[str, ...]:
    """The recipe names that the selection ``selection`` ranks."""
    if selection not in SELECTIONS:
        raise ValueError(f"Expected a selection, one of: {', '.join(SELECTIONS)}. Received: {selection!r}")
    return SELECTIONS[selection]()


# --------------------------------------------------------------------------------------- data


def load_split(dataset: str = "mnist", *, fit_size: int | None = None) -> dict[str, np.ndarray]:
    """The protocol's images of one dataset, with the book's fixed noise.

    Noise of std ``PAPER.noise_std`` is drawn once on the 60,000 training images (seed
    ``PAPER.train_noise_seed``) and once on the 10,000 test images (seed ``PAPER.test_noise_seed``).

    Returns:
        A dict of float32 (N, 28, 28, 1) arrays and uint8 labels: ``train_clean``,
        ``train_noisy``, ``train_labels`` (all 60,000), ``fit_clean``, ``fit_noisy``,
        ``fit_labels`` (images 0-49,999, or the first ``fit_size``), ``val_clean``,
        ``val_noisy``, ``val_labels`` (images 50,000-59,999), ``test_clean``, ``test_noisy``,
        ``test_labels``; and ``sha256``, the hash of the dataset's arrays (for MNIST,
        :data:`~dae_utils.data.MNIST_SHA256`).
    """
    from dae_utils.data import MNIST_SHA256, array_sha256, load_fashion_mnist, load_mnist, split_training_set
    from dae_utils.evaluation import noisy_test_images
    from dae_utils.noise import add_gaussian_noise

    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
    if dataset not in loaders:
        raise ValueError(f"Expected dataset 'mnist' or 'fashion_mnist'. Received: dataset={dataset!r}")
    (x_train, y_train), (x_test, y_test) = loaders[dataset]()
    split = {
        "train_clean": x_train,
        "train_noisy": add_gaussian_noise(x_train, PAPER.noise_std, seed=PAPER.train_noise_seed),
        "train_labels": y_train,
        "test_clean": x_test,
        "test_noisy": noisy_test_images(x_test),
        "test_labels": y_test,
        # MNIST's hash is that of its uint8 arrays (verified on every load); another dataset's is
        # that of the float arrays loaded here.
        "sha256": MNIST_SHA256 if dataset == "mnist" else array_sha256(x_train, y_train, x_test, y_test),
    }
    for kind in ("clean", "noisy", "labels"):
        split[f"fit_{kind}"], split[f"val_{kind}"] = split_training_set(split[f"train_{kind}"], fit_size=fit_size)
    return split


def _fit_set(recipe: Recipe, split: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) images the recipe fits on."""
    if recipe.protocol == "paper":
        end = len(split["train_clean"]) if recipe.fit_size is None else recipe.fit_size
        clean, noisy = split["train_clean"][:end], split["train_noisy"][:end]
    else:
        clean, noisy = split["fit_clean"], split["fit_noisy"]
    if not recipe.fresh_noise and recipe.noise_std != PAPER.noise_std:
        from dae_utils.noise import add_gaussian_noise

        noisy = add_gaussian_noise(clean, recipe.noise_std, seed=PAPER.train_noise_seed)
    return noisy, clean


def _fit_examples(recipe: Recipe, split: dict[str, np.ndarray]) -> Any:
    """What the classifier (images, labels) and EDM (:func:`~dae_utils.generative.edm_batches`) fit on."""
    if recipe.architecture == "classifier":
        return split["fit_clean"], split["fit_labels"]
    return edm_batches(
        split["fit_clean"],
        split["fit_labels"],
        batch_size=recipe.batch_size,
        seed=recipe.seed,
        label_dropout=recipe.label_dropout,
        p_mean=recipe.p_mean,
    )


def _loss_curve_set(recipe: Recipe, split: dict[str, np.ndarray]) -> tuple:
    """(input, target) whose loss is followed after every epoch: the noisy and clean images, the
    classifier's validation images and labels, or one fixed EDM draw on the validation images."""
    if recipe.architecture == "classifier":
        return split["val_clean"], split["val_labels"]
    if recipe.architecture == "edm_unet":
        return edm_validation_set(
            split["val_clean"],
            split["val_labels"],
            seed=recipe.seed,
            label_dropout=recipe.label_dropout,
            p_mean=recipe.p_mean,
        )
    if recipe.protocol == "paper":
        return split["test_noisy"], split["test_clean"]
    return split["val_noisy"], split["val_clean"]


# ---------------------------------------------------------------------------------------- run


def environment() -> dict:
    """Versions and machine facts recorded in every manifest."""
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__}
    backend = keras.backend.backend()
    if backend in ("tensorflow", "jax", "torch"):
        module = __import__(backend)
        versions[backend] = module.__version__
    return {"backend": backend, "versions": versions, "cpu_count": os.cpu_count()}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def run(
    recipe: Recipe | str,
    *,
    output_dir: str | Path,
    work_dir: str | Path,
    command: str,
    guide: str | Path | None = "shipped",
) -> dict:
    """Train ``recipe``, score it, save it with its history and manifest.

    Steps: train (:func:`train`); score the float32 copy on the validation images (``"validation"``
    protocol) and on the test images; save.

    Args:
        recipe: A :class:`Recipe`, or the name of one in :data:`RECIPES`.
        output_dir: Folder for ``NAME.keras``, ``NAME_history.json`` and ``NAME.json``.
        work_dir: The run's backup and history; an interrupted run resumes from it.
        command: The command line or notebook that started the run, recorded in the manifest.
        guide: What autoguides a generator's scored "no label" samples: ``"shipped"`` (the default)
            for the shipped :data:`GUIDE` (none when ``recipe`` is the guide itself), the path of
            another guide's ``.keras`` file (a study that trains its own, ``tools/generator_budget.py
            --own-guide``), or None for no autoguided block. Ignored for other architectures.

    Returns:
        The manifest (also written to ``output_dir / NAME.json``).
    """
    recipe = _as_recipe(recipe)
    checkpoints = _scoring_checkpoints(recipe, guide=guide)  # before training: a long run must not fail at its end
    split = load_split(recipe.dataset, fit_size=recipe.fit_size)
    model, history, fit_images = _train(recipe, split, work_dir=work_dir)
    return _save(
        recipe,
        model,
        history,
        split,
        fit_images,
        output_dir=Path(output_dir),
        command=command,
        checkpoints=checkpoints,
    )


def train(recipe: Recipe | str, *, work_dir: str | Path) -> tuple[Any, dict]:
    """Train ``recipe`` as :func:`run` does, without scoring or saving it: for studies that only need
    the trained network (``tools/autoguidance_scale.py --guide-epochs`` trains guides this way).

    Steps: load the dataset and the book's fixed noise (:func:`load_split`); seed; build under the
    recipe's precision; compile with Adam and the recipe's loss; fit (noise drawn once, or fresh for
    every batch).

    Args:
        recipe: A :class:`Recipe`, or the name of one in :data:`RECIPES`.
        work_dir: The run's backup and history; an interrupted run resumes from it.

    Returns:
        An uncompiled float32 copy of the trained model, and its history (``loss``, ``val_loss``,
        ``seconds`` per epoch, and the classifier's ``accuracy`` and ``val_accuracy``).
    """
    recipe = _as_recipe(recipe)
    model, history, _ = _train(recipe, load_split(recipe.dataset, fit_size=recipe.fit_size), work_dir=work_dir)
    return model, history


def _as_recipe(recipe: Recipe | str) -> Recipe:
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if not isinstance(recipe, Recipe):
        raise TypeError(f"Expected a Recipe or a recipe name. Received: {type(recipe).__name__}")
    return recipe


def _train(recipe: Recipe, split: dict[str, np.ndarray], *, work_dir: str | Path) -> tuple[Any, dict, int]:
    """The trained float32 copy, its history and the number of images it fit on."""
    from dae_utils.training import fit, fit_examples, fit_fresh_noise, set_seed

    noisy, clean = _fit_set(recipe, split)
    set_seed(recipe.seed)
    model = recipe.build(precision=recipe.precision)
    steps = recipe.epochs * math.ceil(len(clean) / recipe.batch_size)  # batches in the whole run
    metrics = ["accuracy"] if recipe.architecture == "classifier" else None
    model.compile(optimizer=recipe.optimizer(steps=steps), loss=recipe.loss, metrics=metrics)
    options = {
        "validation_data": _loss_curve_set(recipe, split),
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "seed": recipe.seed,
        "output_dir": work_dir,
    }
    if recipe.architecture in _FIXED_LOSS:  # the classifier and EDM: not (noisy, clean) pairs
        result = fit_examples(model, _fit_examples(recipe, split), **options)
    elif recipe.fresh_noise:
        result = fit_fresh_noise(model, clean, noise_std=recipe.noise_std, **options)
    else:
        result = fit(model, noisy, clean, **options)
    # Score and save an uncompiled float32 copy: the same weights and numbers, in a file without the
    # optimiser's state, which nothing that loads a finished checkpoint reads (it would triple the file).
    trained, model = model, recipe.build()
    model.set_weights(trained.get_weights())
    return model, result.history, len(clean)


def _scoring_checkpoints(recipe: Recipe, *, guide: str | Path | None = "shipped") -> dict[str, Path]:
    """The checkpoints that scoring ``recipe`` loads: a generator's judge and guide (see :func:`run`'s
    ``guide``). Raises ValueError, saying how to train it, for one that is missing."""
    if recipe.architecture != "edm_unet":
        return {}
    from dae_utils.artifacts import pretrained_path

    needed = {"classifier": pretrained_path(CLASSIFIER)}
    if guide == "shipped":
        if recipe.name != GUIDE:
            needed["guide"] = pretrained_path(GUIDE)
    elif guide is not None:
        if not isinstance(guide, (str, Path)):
            raise TypeError(
                f"Expected `guide` to be 'shipped', a path to a .keras file or None. Received: {type(guide).__name__}"
            )
        path = Path(guide)
        if path.suffix != ".keras" or not path.is_file():
            raise ValueError(f"Expected `guide` to be an existing .keras file. Received: guide={str(path)!r}")
        needed["guide"] = path
    return needed


def _scores(recipe: Recipe, model: Any, split: dict[str, np.ndarray], checkpoints: dict[str, Path]) -> dict:
    if recipe.architecture == "classifier":
        from dae_utils.sample_quality import classifier_accuracy

        return {
            "validation": {"accuracy": classifier_accuracy(model, split["val_clean"], split["val_labels"])},
            "test": {"accuracy": classifier_accuracy(model, split["test_clean"], split["test_labels"])},
        }
    if recipe.architecture == "edm_unet":
        from dae_utils.artifacts import load_model
        from dae_utils.sample_quality import GENERATION_SAMPLES, score_generator

        classifier = load_model(checkpoints["classifier"])
        guide = load_model(checkpoints["guide"]) if "guide" in checkpoints else None
        # A quick run (``fit_size``) generates as many digits as it fit on, at most GENERATION_SAMPLES.
        samples = GENERATION_SAMPLES if recipe.fit_size is None else min(GENERATION_SAMPLES, recipe.fit_size)
        return score_generator(model, classifier, split, seed=recipe.seed, samples=samples, guide=guide)
    from dae_utils.evaluation import evaluate_model

    test = evaluate_model(model, split["test_clean"], split["test_noisy"])
    validation = None
    if recipe.protocol == "validation":
        validation = evaluate_model(model, split["val_clean"], split["val_noisy"]).to_dict()
    return {
        "noise_std": PAPER.noise_std,
        "validation_noise_seed": PAPER.train_noise_seed if validation else None,
        "test_noise_seed": PAPER.test_noise_seed,
        "validation": validation,
        "test": test.to_dict(),
        "test_first": test.first(PAPER.eval_limit).to_dict(),
    }


def _save(
    recipe: Recipe,
    model: Any,
    history: dict,
    split: dict[str, np.ndarray],
    fit_images: int,
    *,
    output_dir: Path,
    command: str,
    checkpoints: dict[str, Path],
) -> dict:
    from dae_utils.data import VALIDATION_START
    from dae_utils.models import multiply_adds

    output = save_model(model, output_dir / f"{recipe.name}.keras")
    atomic_write_json(history_path(output), history)
    validated = recipe.protocol == "validation"
    last_validation = VALIDATION_START + len(split["val_clean"]) - 1
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": "checkpoint",
        "name": recipe.name,
        "model": output.name,
        "recipe": recipe.to_dict(),
        "command": command,
        "created": _now(),
        "data": {
            "dataset": recipe.dataset,
            "sha256": split["sha256"],
            "fit_images": fit_images,
            "validation_images": f"{VALIDATION_START:,}-{last_validation:,}" if validated else None,
            "loss_curve": "validation images" if validated else "test images (nothing is chosen on them)",
        },
        "parameters": int(model.count_params()),
        "multiply_adds": multiply_adds(model),
        "epochs": len(history["loss"]),
        "training_seconds": round(float(np.sum(history["seconds"])), 1),
        "seconds_per_epoch": round(float(np.mean(history["seconds"])), 1),
        "final_loss": history["loss"][-1],
        "final_val_loss": history["val_loss"][-1],
        "metrics": _scores(recipe, model, split, checkpoints),
        "environment": environment(),
    }
    atomic_write_json(manifest_path(output), manifest)
    return manifest


# ------------------------------------------------------------------------------------- select


def select(
    selection: str,
    *,
    directory: str | Path,
    command: str,
    output_dir: str | Path | None = None,
    candidates: Sequence[str] | None = None,
) -> dict:
    """Rank trained recipes by mean validation PSNR and record the winner.

    The record, ``output_dir / SELECTION.json``, lists every candidate's validation scores and
    recipe, names the winner (``chosen``) and points at its checkpoint (``model``); nothing is
    renamed or copied. The test set plays no part.

    Args:
        selection: A name of :data:`SELECTIONS`, e.g. ``"best_denoiser"``.
        directory: Folder holding the candidates' manifests (``NAME.json``).
        command: Recorded in the record.
        output_dir: Where the record goes (default: ``directory``).
        candidates: Recipe names to rank instead of the selection's own (tests).

    Returns:
        The record.

    Raises:
        FileNotFoundError: If a candidate has no manifest in ``directory``.
        ValueError: If a candidate was trained without a validation score.
    """
    from dae_utils.data import VALIDATION_START

    directory = Path(directory)
    names = candidates_of(selection) if candidates is None else tuple(candidates)
    ranked = {}
    for name in names:
        path = directory / f"{name}.json"
        if not path.is_file():
            raise FileNotFoundError(f"No manifest of {name!r} in {directory}: run `python -m dae_utils train {name}`.")
        manifest = read_json(path)
        if not manifest["metrics"]["validation"]:
            raise ValueError(f"Expected candidates with a validation score. Received: {name!r} (protocol 'paper')")
        ranked[name] = {
            "validation": manifest["metrics"]["validation"],
            "final_val_loss": manifest["final_val_loss"],
            "training_seconds": manifest["training_seconds"],
            "recipe": manifest["recipe"],
        }
    chosen = max(ranked, key=lambda name: ranked[name]["validation"]["psnr"]["mean"])
    record = {
        "schema_version": SCHEMA_VERSION,
        "kind": "selection",
        "name": selection,
        "command": command,
        "created": _now(),
        "rule": f"highest mean PSNR on the validation images (training images {VALIDATION_START:,} onwards, noise "
        f"std {PAPER.noise_std}, seed {PAPER.train_noise_seed}); the test set plays no part",
        "candidates": ranked,
        "chosen": chosen,
        "model": f"{chosen}.keras",
    }
    atomic_write_json(Path(output_dir or directory) / f"{selection}.json", record)
    return record
