"""The models past the paper (chapters 6 and 7): one recipe each, trained and scored the same way.

Every variant changes one thing, or a few, in the paper's recipe (:data:`VARIANTS`).
They all follow one protocol, so their numbers can be compared:

- fit on MNIST's training images 0-49,999 (or Fashion-MNIST's), 15 epochs, batch 128,
  Adam, seed 42;
- validate on training images 50,000-59,999 with fixed noise (std 0.5, seed 1): this is
  the score that ranks the variants and picks the best denoiser; the test set is not used
  for any choice;
- then score once on all 10,000 test images with the book's test noise (std 0.5, seed 2).

``python -m dae_utils train-variant NAME`` trains one and writes
``dae_utils/pretrained/NAME.keras`` with a manifest (``NAME.json``) and its history;
``python -m dae_utils select-best`` then renames the variant with the best *validation*
PSNR to ``best_denoiser.keras`` (its manifest says which variant it is), so no model is
stored twice. :func:`checkpoint_path` finds a variant's file either way.
"""

from __future__ import annotations

import datetime
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dae_utils.artifacts import atomic_write_json, manifest_path, pretrained_dir, read_manifest, save_model

__all__ = [
    "BEST_DENOISER",
    "VARIANTS",
    "Variant",
    "checkpoint_path",
    "get_variant",
    "load_split",
    "select_best",
    "train_variant",
]

#: Training precisions a recipe may ask for (Keras dtype policies).
PRECISIONS = ("float32", "mixed_bfloat16")

#: File stem of the best MNIST std-0.5 denoiser among the variants (by validation PSNR).
BEST_DENOISER = "best_denoiser"

#: Images 0 to VALIDATION_START - 1 are fitted on, the rest of the training set validates.
VALIDATION_START = 50_000


@dataclass(frozen=True)
class Variant:
    """One training recipe.

    Attributes:
        name: File stem of its checkpoint, e.g. ``"unet"``.
        title: What the book calls it.
        architecture: ``"paper"`` (:func:`~dae_utils.models.build_paper_autoencoder`),
            ``"unet"`` (:func:`~dae_utils.models.build_unet`) or ``"residual"``
            (:func:`~dae_utils.models.build_residual_denoiser`).
        loss: Keras loss name: ``"binary_crossentropy"`` (the paper's) or ``"mean_squared_error"``.
        fresh_noise: Draw new noise every epoch instead of once (the paper: once).
        noise_std: Training noise std, or a ``(low, high)`` range drawn per image.
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        filters: Width of the first level (U-Net, residual net), or ``None`` for the
            builder's default; the paper's model has a fixed width.
        learning_rate: ``"constant"`` (Adam's default 0.001, the paper's) or ``"cosine"``
            (0.001 decayed along a half cosine to 0.00001 at the last step).
        precision: ``"float32"`` (the paper's) or ``"mixed_bfloat16"``: train with Keras's
            mixed-precision policy (bfloat16 arithmetic, float32 weights), which CPUs with
            bfloat16 matrix units and GPUs run several times faster. The saved model is
            always float32, so it scores the same on every machine.
        epochs, batch_size, seed: As in the paper's run.
    """

    name: str
    title: str
    architecture: str
    loss: str = "binary_crossentropy"
    fresh_noise: bool = False
    noise_std: float | tuple[float, float] = 0.5
    dataset: str = "mnist"
    filters: int | None = None
    learning_rate: str = "constant"
    precision: str = "float32"
    epochs: int = 15
    batch_size: int = 128
    seed: int = 42

    def to_dict(self) -> dict:
        """The recipe as a plain dictionary (for manifests)."""
        return asdict(self)

    def build(self, *, precision: str = "float32") -> Any:
        """Build the (uncompiled) model of this recipe.

        Args:
            precision: ``"float32"`` or ``"mixed_bfloat16"`` (for training with
                :attr:`precision`); the output layer stays float32 either way.
        """
        import keras

        from dae_utils import models

        if precision not in PRECISIONS:
            raise ValueError(f"Expected precision 'float32' or 'mixed_bfloat16'. Received: precision={precision!r}")

        builders = {
            "paper": models.build_paper_autoencoder,
            "unet": models.build_unet,
            "residual": models.build_residual_denoiser,
        }
        options = {} if self.filters is None else {"filters": self.filters}
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(precision)
        try:
            return builders[self.architecture](name=self.name, **options)
        finally:
            keras.mixed_precision.set_global_policy(previous)

    def optimizer(self, *, steps: int) -> Any:
        """Adam with this recipe's learning rate, for a run of ``steps`` batches in all."""
        import keras

        if self.learning_rate == "constant":
            return keras.optimizers.Adam()
        if self.learning_rate == "cosine":
            schedule = keras.optimizers.schedules.CosineDecay(0.001, decay_steps=steps, alpha=0.01)
            return keras.optimizers.Adam(learning_rate=schedule)
        raise ValueError(
            f"Expected learning_rate 'constant' or 'cosine'. Received: learning_rate={self.learning_rate!r}"
        )


#: The recipes of chapters 6 and 7, in training order.
VARIANTS: tuple[Variant, ...] = (
    Variant("unet", "U-Net, fresh noise", "unet", fresh_noise=True),
    Variant("paper_validation", "the paper's recipe", "paper"),
    Variant("paper_fresh_noise", "paper's model, fresh noise", "paper", fresh_noise=True),
    Variant("paper_mse", "paper's model, MSE loss", "paper", loss="mean_squared_error"),
    Variant("paper_mse_seed_7", "paper's model, MSE loss, seed 7", "paper", loss="mean_squared_error", seed=7),
    Variant("residual", "DnCNN-style residual, fresh noise", "residual", "mean_squared_error", fresh_noise=True),
    Variant("blind_unet", "U-Net, fresh noise, std 0.1-0.9", "unet", fresh_noise=True, noise_std=(0.1, 0.9)),
    Variant("fashion_paper", "paper's recipe on Fashion-MNIST", "paper", dataset="fashion_mnist"),
    Variant(
        "unet_wide",
        "U-Net, 32 filters, fresh noise, 30 epochs, cosine learning rate",
        "unet",
        fresh_noise=True,
        filters=32,
        learning_rate="cosine",
        epochs=30,
    ),
    Variant(
        "unet_64",
        "U-Net, 64 filters, fresh noise, 36 epochs, cosine learning rate, bfloat16",
        "unet",
        fresh_noise=True,
        filters=64,
        learning_rate="cosine",
        precision="mixed_bfloat16",
        epochs=36,
    ),
)


def get_variant(name: str) -> Variant:
    """Return the :class:`Variant` called ``name``."""
    for variant in VARIANTS:
        if variant.name == name:
            return variant
    known = ", ".join(variant.name for variant in VARIANTS)
    raise ValueError(f"Expected a variant name, one of: {known}. Received: {name!r}")


def load_split(dataset: str, *, train_size: int | None = None, noise_std: float = 0.5) -> dict[str, np.ndarray]:
    """The protocol's three sets of one dataset, with their fixed noise.

    Returns:
        A dict of float32 (N, 28, 28, 1) arrays: ``fit_clean``, ``fit_noisy`` (images
        0-49,999, or the first ``train_size``, noise seed 1), ``val_clean``, ``val_noisy``
        (images 50,000-59,999, noise seed 1), ``test_clean``, ``test_noisy`` (all 10,000 test
        images, noise seed 2), and ``test_labels``.
    """
    from dae_utils.config import PAPER
    from dae_utils.data import array_sha256, load_fashion_mnist, load_mnist
    from dae_utils.evaluation import noisy_test_images
    from dae_utils.noise import add_gaussian_noise

    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
    if dataset not in loaders:
        raise ValueError(f"Expected dataset 'mnist' or 'fashion_mnist'. Received: dataset={dataset!r}")
    (x_train, y_train), (x_test, y_test) = loaders[dataset]()
    noisy = add_gaussian_noise(x_train, noise_std, seed=PAPER.train_noise_seed)
    fit_size = VALIDATION_START if train_size is None else min(train_size, VALIDATION_START)
    return {
        "fit_clean": x_train[:fit_size],
        "fit_noisy": noisy[:fit_size],
        "val_clean": x_train[VALIDATION_START:],
        "val_noisy": noisy[VALIDATION_START:],
        "test_clean": x_test,
        "test_noisy": noisy_test_images(x_test, noise_std=noise_std, seed=PAPER.test_noise_seed),
        "test_labels": y_test,
        "sha256": array_sha256(x_train, y_train, x_test, y_test),
    }


def train_variant(
    name: str,
    *,
    output_dir: str | Path,
    work_dir: str | Path,
    command: str,
    epochs: int | None = None,
    train_size: int | None = None,
) -> dict:
    """Train one variant with the protocol above, score it, save it with its manifest.

    Args:
        name: A variant's name (see :data:`VARIANTS`).
        output_dir: Folder for ``NAME.keras``, ``NAME.json`` and ``NAME_history.json``.
        work_dir: Checkpoints of the run; an interrupted run resumes from it.
        command: The command line, recorded in the manifest.
        epochs, train_size: Overrides for quick runs (tests, CI).

    Returns:
        The manifest.
    """

    from dae_utils.data import MNIST_SHA256
    from dae_utils.evaluation import evaluate_model
    from dae_utils.experiment import environment
    from dae_utils.models import multiply_adds
    from dae_utils.training import fit, fit_fresh_noise, set_seed

    variant = get_variant(name)
    epochs = variant.epochs if epochs is None else epochs
    split = load_split(variant.dataset, train_size=train_size)
    set_seed(variant.seed)
    model = variant.build(precision=variant.precision)
    steps = epochs * math.ceil(len(split["fit_clean"]) / variant.batch_size)  # batches in the whole run
    model.compile(optimizer=variant.optimizer(steps=steps), loss=variant.loss)
    common = {
        "validation_data": (split["val_noisy"], split["val_clean"]),
        "epochs": epochs,
        "batch_size": variant.batch_size,
        "seed": variant.seed,
        "output_dir": work_dir,
    }
    if variant.fresh_noise:
        result = fit_fresh_noise(model, split["fit_clean"], noise_std=variant.noise_std, **common)
    else:
        result = fit(model, split["fit_noisy"], split["fit_clean"], **common)

    if variant.precision != "float32":  # score and save a float32 copy: same weights, same numbers everywhere
        trained = model
        model = variant.build()
        model.set_weights(trained.get_weights())

    started = time.perf_counter()
    validation = evaluate_model(model, split["val_clean"], split["val_noisy"])
    test = evaluate_model(model, split["test_clean"], split["test_noisy"])
    first = evaluate_model(model, split["test_clean"], split["test_noisy"], limit=100)
    print(f"{name}: scored in {time.perf_counter() - started:.0f} s")

    output_dir = Path(output_dir)
    output = save_model(model, output_dir / f"{name}.keras")
    atomic_write_json(output_dir / f"{name}_history.json", result.history)
    manifest = {
        "model": output.name,
        "variant": variant.to_dict(),
        "command": command,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seed": variant.seed,
        "data": {
            "dataset": variant.dataset,
            "sha256": MNIST_SHA256 if variant.dataset == "mnist" else split["sha256"],
            "fit_images": len(split["fit_clean"]),
            "validation_images": f"{VALIDATION_START:,}-{VALIDATION_START + len(split['val_clean']) - 1:,}",
        },
        "parameters": int(model.count_params()),
        "multiply_adds": multiply_adds(model),
        "epochs": epochs,
        "training_seconds": round(result.total_seconds, 1),
        "seconds_per_epoch": round(result.seconds_per_epoch, 1),
        "final_loss": result.history["loss"][-1],
        "final_val_loss": result.history["val_loss"][-1],
        "metrics": {
            "noise_std": 0.5,
            "validation": validation.to_dict(),
            "test_noise_seed": 2,
            "first_100": first.to_dict(),
            "all": test.to_dict(),
        },
        "environment": environment(),
    }
    atomic_write_json(manifest_path(output), manifest)
    _retire_stale_best(output_dir, name)
    return manifest


def _retire_stale_best(directory: Path, name: str) -> None:
    """Delete ``best_denoiser.*`` if it holds an older run of ``name`` (just retrained beside it)."""
    best = directory / f"{BEST_DENOISER}.keras"
    if best.exists() and read_manifest(best).get("variant", {}).get("name") == name:
        for path in (best, manifest_path(best), directory / f"{BEST_DENOISER}_history.json"):
            path.unlink(missing_ok=True)
        print(f"{best.name} held an older run of {name}: removed; run `python -m dae_utils select-best` again")


def checkpoint_path(name: str, *, directory: str | Path | None = None) -> Path:
    """The checkpoint of variant ``name``: ``NAME.keras``, or ``best_denoiser.keras`` if it won.

    Raises:
        FileNotFoundError: If neither holds the variant.
    """
    get_variant(name)
    directory = pretrained_dir() if directory is None else Path(directory)
    own = directory / f"{name}.keras"
    if own.exists():
        return own
    best = directory / f"{BEST_DENOISER}.keras"
    if best.exists() and read_manifest(best).get("variant", {}).get("name") == name:
        return best
    raise FileNotFoundError(
        f"No checkpoint of variant {name!r} in {directory}: run `python -m dae_utils train-variant {name}`."
    )


def select_best(*, directory: str | Path, command: str) -> dict:
    """Rename the MNIST variant with the highest validation PSNR to ``best_denoiser.keras``.

    Only MNIST variants are candidates; a ``best_denoiser`` from an earlier selection
    competes again under its own variant name. The test set plays no part.

    Returns:
        The winner's manifest, with a ``selection`` entry listing every candidate's
        validation PSNR and SSIM.
    """
    directory = Path(directory)
    candidates = {}
    for variant in VARIANTS:
        if variant.dataset != "mnist":
            continue
        try:
            path = checkpoint_path(variant.name, directory=directory)
        except FileNotFoundError:
            continue
        scores = read_manifest(path)["metrics"]["validation"]
        candidates[variant.name] = {"path": path, "psnr": scores["psnr"]["mean"], "ssim": scores["ssim"]["mean"]}
    if not candidates:
        raise FileNotFoundError(f"No trained MNIST variant in {directory}: run `python -m dae_utils train-variant`.")
    winner = max(candidates, key=lambda name: candidates[name]["psnr"])
    best = directory / f"{BEST_DENOISER}.keras"
    source = candidates[winner]["path"]
    manifest = read_manifest(source)
    manifest["model"] = best.name
    manifest["selection"] = {
        "command": command,
        "rule": "highest mean PSNR on MNIST training images 50,000-59,999 (std 0.5, noise seed 1)",
        "validation": {name: {"psnr": c["psnr"], "ssim": c["ssim"]} for name, c in candidates.items()},
        "chosen": winner,
    }
    if source != best:
        if best.exists():  # give the previous winner its own name back before replacing it
            previous = read_manifest(best)
            name = previous["variant"]["name"]
            previous["model"] = f"{name}.keras"
            previous.pop("selection", None)
            os.replace(best, directory / f"{name}.keras")
            os.replace(directory / f"{BEST_DENOISER}_history.json", directory / f"{name}_history.json")
            atomic_write_json(directory / f"{name}.json", previous)
        os.replace(source, best)
        os.replace(source.with_name(f"{winner}_history.json"), directory / f"{BEST_DENOISER}_history.json")
        manifest_path(source).unlink()
    atomic_write_json(manifest_path(best), manifest)
    return manifest
