"""Every shipped checkpoint loads with plain Keras in safe mode and still scores what its manifest says."""

import keras
import numpy as np
import pytest

from dae_utils.artifacts import PRETRAINED_DIR, read_manifest
from dae_utils.config import PAPER, PAPER_RESULTS
from dae_utils.data import MNIST_SHA256, load_mnist
from dae_utils.evaluation import evaluate_model, noisy_test_images

CHECKPOINTS = sorted(PRETRAINED_DIR.glob("*.keras"))
pytestmark = pytest.mark.slow


def test_the_paper_checkpoint_ships():
    assert PRETRAINED_DIR / "paper_autoencoder.keras" in CHECKPOINTS


@pytest.fixture(scope="module")
def test_set():
    _, (x_test, _) = load_mnist()
    return x_test


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
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
    reason="open (issue 3): on the first 100 test images, with the book's fixed noise draw, the shipped "
    "checkpoint scores below the paper's 20.38 dB / 0.8655 (the 95% interval there is about +-0.37 dB)",
)
def test_the_paper_checkpoint_reaches_the_papers_numbers_on_the_first_100():
    metrics = read_manifest(PRETRAINED_DIR / "paper_autoencoder.keras")["metrics"][f"first_{PAPER.eval_limit}"]
    assert metrics["psnr"]["mean"] >= PAPER_RESULTS["psnr"]
    assert metrics["ssim"]["mean"] >= PAPER_RESULTS["ssim"]
