"""Every shipped checkpoint loads with plain Keras in safe mode and still scores what its manifest says."""

import json

import keras
import numpy as np
import pytest

from dae_utils.artifacts import PRETRAINED_DIR, read_manifest
from dae_utils.config import PAPER, PAPER_RESULTS
from dae_utils.data import MNIST_SHA256, load_mnist
from dae_utils.evaluation import evaluate_model, noisy_test_images
from dae_utils.models import multiply_adds
from dae_utils.variants import BEST_DENOISER, VARIANTS, checkpoint_path, get_variant, load_split

CHECKPOINTS = sorted(PRETRAINED_DIR.glob("*.keras"))
# The paper's run (chapter 3) and the recipes of chapters 6-7 (dae_utils.variants) keep different manifests.
VARIANT_CHECKPOINTS = [path for path in CHECKPOINTS if "variant" in read_manifest(path)]
PAPER_CHECKPOINTS = [path for path in CHECKPOINTS if path not in VARIANT_CHECKPOINTS]
pytestmark = pytest.mark.slow


def test_the_paper_checkpoint_ships():
    assert PRETRAINED_DIR / "paper_autoencoder.keras" in CHECKPOINTS


@pytest.fixture(scope="module")
def test_set():
    _, (x_test, _) = load_mnist()
    return x_test


@pytest.mark.parametrize("path", PAPER_CHECKPOINTS, ids=lambda p: p.stem)
def test_checkpoint_matches_its_manifest(path, test_set):
    manifest = read_manifest(path)
    assert manifest["command"].startswith("python -m dae_utils ")
    assert manifest["data"]["sha256"] == MNIST_SHA256
    assert manifest["training_seconds"] > 0 and isinstance(manifest["seed"], int)
    model = keras.models.load_model(path, safe_mode=True, compile=False)
    metrics = manifest["metrics"]
    noisy = noisy_test_images(test_set, noise_std=metrics["noise_std"], seed=metrics["noise_seed"])
    full = evaluate_model(model, test_set, noisy)
    first = evaluate_model(model, test_set, noisy, limit=PAPER.eval_limit)
    for recorded, measured in ((metrics["all"], full), (metrics[f"first_{PAPER.eval_limit}"], first)):
        assert measured.psnr.n == recorded["n"]
        np.testing.assert_allclose(measured.psnr.mean, recorded["psnr"]["mean"], atol=1e-3)
        np.testing.assert_allclose(measured.ssim.mean, recorded["ssim"]["mean"], atol=1e-4)


def test_the_paper_checkpoint_beats_the_papers_numbers_on_the_whole_test_set():
    metrics = read_manifest(PRETRAINED_DIR / "paper_autoencoder.keras")["metrics"]["all"]
    assert metrics["psnr"]["mean"] >= PAPER_RESULTS["psnr"]
    assert metrics["ssim"]["mean"] >= PAPER_RESULTS["ssim"]


@pytest.mark.xfail(
    strict=True,
    reason="issue 3: on the first 100 test images, with the book's one fixed noise draw (seed 2), the shipped "
    "checkpoint scores 20.25 dB / 0.8629, below the paper's 20.38 dB / 0.8655; averaged over 30 other draws "
    "it scores above both (test above; chapter 4 shows the spread)",
)
def test_the_paper_checkpoint_reaches_the_papers_numbers_on_the_first_100():
    metrics = read_manifest(PRETRAINED_DIR / "paper_autoencoder.keras")["metrics"][f"first_{PAPER.eval_limit}"]
    assert metrics["psnr"]["mean"] >= PAPER_RESULTS["psnr"]
    assert metrics["ssim"]["mean"] >= PAPER_RESULTS["ssim"]


def test_the_paper_checkpoint_reaches_the_papers_numbers_on_the_first_100_averaged_over_noise_draws(test_set):
    # Chapter 4's 30 extra draws (seeds 100-129): the protocol's expected score, not one draw's.
    model = keras.models.load_model(PRETRAINED_DIR / "paper_autoencoder.keras", safe_mode=True, compile=False)
    first = test_set[: PAPER.eval_limit]
    draws = [
        evaluate_model(model, first, noisy_test_images(first, noise_std=PAPER.noise_std, seed=seed))
        for seed in range(100, 130)
    ]
    assert np.mean([draw.psnr.mean for draw in draws]) >= PAPER_RESULTS["psnr"]
    assert np.mean([draw.ssim.mean for draw in draws]) >= PAPER_RESULTS["ssim"]


def test_every_recipe_of_chapters_6_and_7_ships():
    for variant in VARIANTS:
        assert checkpoint_path(variant.name) in VARIANT_CHECKPOINTS
    assert PRETRAINED_DIR / f"{BEST_DENOISER}.keras" in VARIANT_CHECKPOINTS


@pytest.fixture(scope="module")
def splits():
    return {dataset: load_split(dataset) for dataset in ("mnist", "fashion_mnist")}


@pytest.mark.parametrize("path", VARIANT_CHECKPOINTS, ids=lambda p: p.stem)
def test_variant_checkpoint_matches_its_manifest(path, splits):
    manifest = read_manifest(path)
    variant = get_variant(manifest["variant"]["name"])
    recipe = json.loads(json.dumps(variant.to_dict()))  # as JSON stores it: tuples become lists
    assert manifest["variant"] == recipe, "the recipe changed since this checkpoint was trained"
    assert manifest["command"] == f"python -m dae_utils train-variant {variant.name}"
    assert manifest["epochs"] == variant.epochs and manifest["data"]["fit_images"] == 50_000
    split = splits[variant.dataset]
    if variant.dataset == "mnist":
        assert manifest["data"]["sha256"] == MNIST_SHA256
    else:
        assert manifest["data"]["sha256"] == split["sha256"]
    model = keras.models.load_model(path, safe_mode=True, compile=False)
    assert model.count_params() == manifest["parameters"] and multiply_adds(model) == manifest["multiply_adds"]
    measured = {
        "validation": evaluate_model(model, split["val_clean"], split["val_noisy"]),
        "all": evaluate_model(model, split["test_clean"], split["test_noisy"]),
        "first_100": evaluate_model(model, split["test_clean"], split["test_noisy"], limit=100),
    }
    for key, result in measured.items():
        recorded = manifest["metrics"][key]
        assert result.psnr.n == recorded["psnr"]["n"]
        np.testing.assert_allclose(result.psnr.mean, recorded["psnr"]["mean"], atol=1e-3)
        np.testing.assert_allclose(result.ssim.mean, recorded["ssim"]["mean"], atol=1e-4)


def test_the_best_denoiser_was_chosen_on_validation_scores():
    selection = read_manifest(PRETRAINED_DIR / f"{BEST_DENOISER}.keras")["selection"]
    assert set(selection["validation"]) == {v.name for v in VARIANTS if v.dataset == "mnist"}
    assert selection["chosen"] == max(selection["validation"], key=lambda name: selection["validation"][name]["psnr"])


@pytest.mark.xfail(
    strict=True,
    reason="issue 5 (blocked, target not reached): the best recipe trained so far, the 64-filter U-Net "
    "(64-128-256 filters, 36 epochs, cosine learning rate, mixed bfloat16; 71 min on 2 CPU cores), reaches "
    "21.70 dB / 0.9080 on all 10,000 test images, below the 22.0 dB / 0.91 target",
)
def test_the_best_denoiser_reaches_22_db_and_ssim_0_91_on_all_test_images():
    metrics = read_manifest(PRETRAINED_DIR / f"{BEST_DENOISER}.keras")["metrics"]["all"]
    assert metrics["psnr"]["n"] == 10_000
    assert metrics["psnr"]["mean"] >= 22.0
    assert metrics["ssim"]["mean"] >= 0.91
