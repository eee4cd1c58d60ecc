"""Run under one Keras backend (set KERAS_BACKEND before starting it): train, save, load and score.

Used by ``tests/test_backends.py`` in a subprocess, since Keras picks its backend once per process.
Prints one JSON object: the backend, whether two seeded runs gave the same weights, and each
shipped checkpoint's mean PSNR/SSIM on the first test images next to its manifest's.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np

from dae_utils.artifacts import PRETRAINED_DIR, read_manifest
from dae_utils.config import PAPER
from dae_utils.evaluation import evaluate_model
from dae_utils.recipes import get_recipe, load_split
from dae_utils.training import fit, set_seed


def train_twice(split: dict, folder: Path) -> tuple[bool, float]:
    """Fit the paper's model for one short epoch twice with one seed; save, load in safe mode, predict."""
    recipe = dataclasses.replace(get_recipe("paper_validation"), epochs=1)
    weights = []
    for attempt in range(2):
        set_seed(recipe.seed)
        model = recipe.build()
        model.compile(optimizer=recipe.optimizer(steps=1), loss=recipe.loss)
        images = slice(0, 512)
        fit(
            model, split["fit_noisy"][images], split["fit_clean"][images],
            validation_data=(split["val_noisy"][:128], split["val_clean"][:128]),
            epochs=1, batch_size=recipe.batch_size, seed=recipe.seed, output_dir=folder / f"run_{attempt}",
        )  # fmt: skip
        path = folder / f"model_{attempt}.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True, compile=False)
        weights.append([np.asarray(w) for w in loaded.get_weights()])
    same = all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))
    scores = evaluate_model(loaded, split["test_clean"], split["test_noisy"], limit=PAPER.eval_limit)
    return same, scores.psnr.mean


def check_part_three(models: dict, split: dict) -> dict:
    """The classifier's test accuracy, and the classes of the generator's first unconditional samples,
    alone and autoguided by the guide (the same seed must draw the same digits on every backend)."""
    from dae_utils.generative import Autoguided, Denoiser
    from dae_utils.recipes import GUIDE
    from dae_utils.sample_quality import classifier_accuracy, classify
    from dae_utils.sampling import heun_sample

    (classifier, classifier_manifest), (generator, generator_manifest) = (
        models["mnist_classifier"],
        models["edm_digits"],
    )
    settings = generator_manifest["metrics"]["settings"]
    count = 20
    images = heun_sample(Denoiser(generator), count=count, steps=settings["steps"], seed=settings["seed"])
    guide, _ = models[GUIDE]
    autoguided = generator_manifest["metrics"]["autoguided"]
    guided = Autoguided(
        Denoiser(generator), Denoiser(guide), scale=autoguided["scale"], interval=autoguided["interval"]
    )
    autoguided_images = heun_sample(guided, count=count, steps=settings["steps"], seed=settings["seed"])
    return {
        "accuracy": classifier_accuracy(classifier, split["test_clean"], split["test_labels"]),
        "manifest_accuracy": classifier_manifest["metrics"]["test"]["accuracy"],
        "classes": classify(classifier, images).argmax(axis=1).tolist(),
        "manifest_classes": generator_manifest["metrics"]["unconditional"]["first_samples"]["classes"][:count],
        "autoguided_classes": classify(classifier, autoguided_images).argmax(axis=1).tolist(),
        "manifest_autoguided_classes": autoguided["first_samples"]["classes"][:count],
    }


def main() -> int:
    splits = {dataset: load_split(dataset) for dataset in ("mnist", "fashion_mnist")}
    with tempfile.TemporaryDirectory() as folder:
        same, psnr = train_twice(splits["mnist"], Path(folder))
    checkpoints, part_three = {}, {}
    for path in sorted(PRETRAINED_DIR.glob("*.keras")):
        manifest = read_manifest(path)
        split = splits[manifest["recipe"]["dataset"]]
        model = keras.models.load_model(path, safe_mode=True, compile=False)
        if manifest["recipe"]["architecture"] in ("classifier", "edm_unet"):
            part_three[path.stem] = (model, manifest)
            continue
        scores = evaluate_model(model, split["test_clean"], split["test_noisy"], limit=PAPER.eval_limit)
        recorded = manifest["metrics"]["test_first"]
        checkpoints[path.stem] = {
            "psnr": scores.psnr.mean,
            "ssim": scores.ssim.mean,
            "manifest_psnr": recorded["psnr"]["mean"],
            "manifest_ssim": recorded["ssim"]["mean"],
        }
    result = {"backend": keras.backend.backend(), "same_seed_same_weights": same, "trained_psnr": psnr}
    print(
        json.dumps(result | {"checkpoints": checkpoints, "part_three": check_part_three(part_three, splits["mnist"])})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
