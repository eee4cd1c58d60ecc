import json

import numpy as np
import pytest

from dae_utils.artifacts import pretrained_path, read_manifest
from dae_utils.cli import main
from dae_utils.data import load_mnist
from dae_utils.imageio import read_grey_png, write_grey_png
from dae_utils.noise import add_gaussian_noise

pytestmark = pytest.mark.slow  # uses the real (offline) MNIST and the shipped checkpoint


def test_evaluate_prints_json_for_the_paper_protocol(capsys):
    assert main(["evaluate", str(pretrained_path("paper_autoencoder")), "--limit", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 20 and result["noise_std"] == 0.5
    assert 15 < result["psnr"]["mean"] < 30 and 0.5 < result["ssim"]["mean"] <= 1


def test_evaluate_prints_text_with_intervals(capsys):
    assert main(["evaluate", str(pretrained_path("paper_autoencoder")), "--limit", "10", "--noise-std", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "PSNR:" in out and "95% CI" in out and "n=10" in out


def test_denoise_a_png(tmp_path, capsys):
    _, (x_test, _) = load_mnist()
    noisy = add_gaussian_noise(x_test[0, ..., 0], 0.5, seed=0)
    write_grey_png(tmp_path / "noisy.png", noisy)
    assert (
        main(
            [
                "denoise",
                str(pretrained_path("paper_autoencoder")),
                str(tmp_path / "noisy.png"),
                str(tmp_path / "clean.png"),
            ]
        )
        == 0
    )
    clean = read_grey_png(tmp_path / "clean.png")
    assert clean.shape == (28, 28)
    error_before = np.mean((read_grey_png(tmp_path / "noisy.png") - x_test[0, ..., 0]) ** 2)
    assert np.mean((clean - x_test[0, ..., 0]) ** 2) < error_before / 4


def test_train_and_select_write_a_manifest_and_a_record(synthetic, tmp_path, capsys, monkeypatch):
    arguments = ["train", "paper_mse", "--epochs", "1", "--fit-size", "32", "--output-dir", str(tmp_path)]
    assert main([*arguments, "--work-dir", str(tmp_path / "run")]) == 0
    assert "validation: PSNR" in capsys.readouterr().out
    manifest = read_manifest(tmp_path / "paper_mse.keras")
    assert manifest["command"] == "python -m dae_utils train paper_mse --epochs 1 --fit-size 32 --output-dir " + str(
        tmp_path
    )  # no --work-dir: a local scratch folder changes no result
    assert manifest["recipe"]["epochs"] == 1 and manifest["recipe"]["fit_size"] == 32
    monkeypatch.setattr("dae_utils.recipes.SELECTIONS", {"best_denoiser": lambda: ("paper_mse",)})
    assert main(["select", "best_denoiser", "--directory", str(tmp_path)]) == 0
    assert "best_denoiser: paper_mse" in capsys.readouterr().out
    assert main(["train", "resnet", "--output-dir", str(tmp_path)]) == 2
    assert "Expected a recipe name" in capsys.readouterr().err


def test_recipes_lists_the_shipped_ones_and_a_selections_candidates(capsys):
    from dae_utils.recipes import RECIPES, candidates_of

    assert main(["recipes"]) == 0
    assert capsys.readouterr().out.split() == [recipe.name for recipe in RECIPES]
    assert main(["recipes", "--candidates-of", "dropout_selection"]) == 0
    assert capsys.readouterr().out.split() == list(candidates_of("dropout_selection"))


def test_errors_exit_with_status_2_and_a_message(tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert (
        main(["denoise", str(pretrained_path("paper_autoencoder")), str(tmp_path / "bad.png"), str(tmp_path / "o.png")])
        == 2
    )
    assert "Could not read" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.keras")]) == 2
    assert "No model file" in capsys.readouterr().err
    assert main(["train", "paper_mse", "--epochs", "0", "--output-dir", str(tmp_path)]) == 2
    assert "epochs" in capsys.readouterr().err
