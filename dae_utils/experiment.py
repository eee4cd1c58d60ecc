"""The paper's experiment end to end, as one function (used by ``python -m dae_utils train``).

The notebooks walk through the same steps one by one; this function exists so
that ``make pretrained`` can make the shipped checkpoint with one command.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from dae_utils.artifacts import atomic_write_json, manifest_path, save_model
from dae_utils.config import PaperSettings
from dae_utils.data import MNIST_SHA256, load_mnist
from dae_utils.evaluation import evaluate_model, noisy_test_images
from dae_utils.models import build_paper_autoencoder
from dae_utils.noise import add_gaussian_noise
from dae_utils.training import TrainingResult, fit, set_seed

__all__ = ["environment", "run_paper_experiment", "select_dropout_rate"]

#: MNIST's own split of its 60,000 training images: the last 10,000 were its validation set.
VALIDATION_START = 50_000


def environment() -> dict:
    """Versions and machine facts recorded in every manifest."""
    import keras
    import numpy

    versions = {"python": platform.python_version(), "keras": keras.__version__, "numpy": numpy.__version__}
    if keras.backend.backend() == "tensorflow":
        import tensorflow

        versions["tensorflow"] = tensorflow.__version__
    return {"backend": keras.backend.backend(), "versions": versions, "cpu_count": os.cpu_count()}


def _train(
    settings: PaperSettings, dropout_rate: float, pairs: tuple, validation: tuple, work_dir: str | Path
) -> TrainingResult:
    """Seed, build, compile (Adam, binary cross-entropy) and fit the paper's model on (noisy, clean) pairs."""
    import keras

    set_seed(settings.seed)
    model = build_paper_autoencoder(
        filters=settings.filters, kernel_size=settings.kernel_size, dropout_rate=dropout_rate, padding=settings.padding
    )
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    return fit(
        model,
        *pairs,
        validation_data=validation,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        seed=settings.seed,
        output_dir=work_dir,
    )


def run_paper_experiment(settings: PaperSettings, *, output: str | Path, work_dir: str | Path, command: str) -> dict:
    """Train the paper's model with ``settings``, evaluate it, save it and its manifest.

    Args:
        settings: The run's settings (:data:`dae_utils.config.PAPER` for the paper).
        output: The ``.keras`` file to write; the manifest goes beside it as ``.json``.
        work_dir: Folder for checkpoints and history; an interrupted run resumes from it.
        command: The command line that started the run, recorded in the manifest.

    Returns:
        The manifest (also written to ``output`` with suffix ``.json``).
    """

    (x_train, _), (x_test, _) = load_mnist()
    x_train = x_train[: settings.train_size]
    x_train_noisy = add_gaussian_noise(x_train, settings.noise_std, seed=settings.train_noise_seed)
    x_test_noisy = noisy_test_images(x_test, noise_std=settings.noise_std, seed=settings.test_noise_seed)

    result = _train(settings, settings.dropout_rate, (x_train_noisy, x_train), (x_test_noisy, x_test), work_dir)
    model = result.model
    first = evaluate_model(model, x_test, x_test_noisy, limit=settings.eval_limit)
    full = evaluate_model(model, x_test, x_test_noisy)
    output = save_model(model, Path(output))
    atomic_write_json(output.with_name(output.stem + "_history.json"), result.history)
    manifest = {
        "model": output.name,
        "command": command,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "settings": settings.to_dict(),
        "seed": settings.seed,
        "data": {"dataset": "mnist", "sha256": MNIST_SHA256, "train_size": len(x_train)},
        "training_seconds": round(result.total_seconds, 1),
        "seconds_per_epoch": round(result.seconds_per_epoch, 1),
        "final_loss": result.history["loss"][-1],
        "final_val_loss": result.history["val_loss"][-1],
        "metrics": {
            "noise_std": settings.noise_std,
            "noise_seed": settings.test_noise_seed,
            f"first_{settings.eval_limit}": first.to_dict(),
            "all": full.to_dict(),
        },
        "environment": environment(),
    }
    atomic_write_json(manifest_path(output), manifest)
    return manifest


def select_dropout_rate(
    settings: PaperSettings, candidates: tuple[float, ...], *, output: str | Path, work_dir: str | Path, command: str
) -> dict:
    """Choose the dropout rate the paper leaves open, without looking at the test set.

    Each candidate trains the paper's model with ``settings`` on the first 50,000 training
    images (or ``settings.train_size``, if smaller) and is scored (mean PSNR and SSIM) on the
    other 10,000, MNIST's original validation
    split, with their own fixed noise. The rate with the highest validation PSNR wins.

    Returns:
        The record written to ``output`` (JSON): every candidate's scores and the choice.
    """

    (x_train, _), _ = load_mnist()
    x_noisy = add_gaussian_noise(x_train, settings.noise_std, seed=settings.train_noise_seed)
    fit_size = min(settings.train_size, VALIDATION_START)
    fit_clean, fit_noisy = x_train[:fit_size], x_noisy[:fit_size]
    val_clean, val_noisy = x_train[VALIDATION_START:], x_noisy[VALIDATION_START:]
    results = []
    for rate in candidates:
        print(f"dropout_rate={rate}: training on {len(fit_clean):,} images, validating on {len(val_clean):,}")
        run = _train(settings, rate, (fit_noisy, fit_clean), (val_noisy, val_clean), Path(work_dir) / f"dropout_{rate}")
        scores = evaluate_model(run.model, val_clean, val_noisy)
        results.append(
            {
                "dropout_rate": rate,
                "validation": scores.to_dict(),
                "final_val_loss": run.history["val_loss"][-1],
                "training_seconds": round(run.total_seconds, 1),
            }
        )
        print(f"dropout_rate={rate}: validation PSNR {scores.psnr.mean:.3f} dB, SSIM {scores.ssim.mean:.4f}")
    best = max(results, key=lambda result: result["validation"]["psnr"]["mean"])
    record = {
        "command": command,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "protocol": f"train on MNIST training images 0-{fit_size - 1:,}, score on 50,000-59,999 (noise seed "
        f"{settings.train_noise_seed}); the test set is not used",
        "settings": settings.to_dict(),
        "candidates": results,
        "chosen_dropout_rate": best["dropout_rate"],
        "environment": environment(),
    }
    atomic_write_json(output, record)
    return record
