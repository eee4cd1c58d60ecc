"""The recipes past the paper: registry, one tiny training run per kind, and the best-model selection."""

import dataclasses
import json

import keras
import pytest

from dae_utils.artifacts import read_manifest
from dae_utils.variants import BEST_DENOISER, VARIANTS, checkpoint_path, get_variant, select_best, train_variant


def test_every_variant_builds_a_denoiser_of_the_right_shape():
    names = [variant.name for variant in VARIANTS]
    assert len(set(names)) == len(names) and BEST_DENOISER not in names
    for variant in VARIANTS:
        assert variant.build().output_shape == (None, 28, 28, 1)
        assert variant.loss in {"binary_crossentropy", "mean_squared_error"}


def test_the_paper_recipe_is_the_paper_recipe():
    paper = get_variant("paper_validation")
    assert (paper.architecture, paper.loss, paper.fresh_noise, paper.noise_std) == (
        "paper", "binary_crossentropy", False, 0.5,
    )  # fmt: skip
    assert (paper.epochs, paper.batch_size, paper.seed) == (15, 128, 42)


def test_a_recipe_width_reaches_the_builder():
    wide, default = get_variant("unet_wide").build(), get_variant("unet").build()
    assert wide.get_layer("encoder_1_conv_1").filters == 32 and default.get_layer("encoder_1_conv_1").filters == 16


def test_the_cosine_learning_rate_falls_from_0_001_to_0_00001():
    config = get_variant("unet_wide").optimizer(steps=100).get_config()["learning_rate"]
    schedule = keras.optimizers.schedules.deserialize(config)
    rates = [float(schedule(step)) for step in (0, 50, 100)]
    assert rates == pytest.approx([0.001, 0.000505, 0.00001], rel=1e-5)
    assert float(get_variant("unet").optimizer(steps=100).learning_rate) == pytest.approx(0.001)


def test_an_unknown_learning_rate_is_refused():
    recipe = dataclasses.replace(get_variant("unet"), learning_rate="linear")
    with pytest.raises(ValueError, match="Received: learning_rate='linear'"):
        recipe.optimizer(steps=10)


def test_a_bfloat16_build_computes_in_bfloat16_outputs_float32_and_restores_the_policy():
    model = get_variant("unet").build(precision="mixed_bfloat16")
    assert model.get_layer("encoder_1_conv_1").compute_dtype == "bfloat16"
    assert model.get_layer("encoder_1_conv_1").variable_dtype == "float32"
    assert model.get_layer("denoised_image").compute_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
    assert {layer.compute_dtype for layer in get_variant("unet").build().layers} == {"float32"}


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="Received: precision='float16'"):
        get_variant("unet").build(precision="float16")


def test_a_bfloat16_recipe_is_saved_as_a_float32_model(tmp_path, monkeypatch):
    tiny = dataclasses.replace(get_variant("unet"), name="tiny_bfloat16", filters=4, precision="mixed_bfloat16")
    monkeypatch.setattr("dae_utils.variants.VARIANTS", (*VARIANTS, tiny))
    manifest = train_variant(
        "tiny_bfloat16", output_dir=tmp_path, work_dir=tmp_path / "runs", command="test", epochs=1, train_size=128
    )
    assert manifest["variant"]["precision"] == "mixed_bfloat16"
    model = keras.models.load_model(tmp_path / "tiny_bfloat16.keras", safe_mode=True, compile=False)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    assert keras.mixed_precision.global_policy().name == "float32"


def test_an_unknown_variant_names_the_known_ones():
    with pytest.raises(ValueError, match="unet"):
        get_variant("resnet")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny runs (one fresh-noise, one fixed-noise) into one folder."""
    directory = tmp_path_factory.mktemp("pretrained")
    manifests = {
        name: train_variant(
            name, output_dir=directory, work_dir=directory / "runs" / name, command="test", epochs=1, train_size=256
        )
        for name in ("residual", "paper_mse")
    }
    return directory, manifests


def test_train_variant_writes_a_model_a_history_and_a_manifest(trained):
    directory, manifests = trained
    manifest = manifests["residual"]
    assert read_manifest(directory / "residual.keras") == json.loads(json.dumps(manifest))
    assert manifest["variant"]["name"] == "residual" and manifest["data"]["fit_images"] == 256
    assert manifest["data"]["validation_images"] == "50,000-59,999"
    assert (
        manifest["metrics"]["validation"]["psnr"]["n"] == 10_000 and manifest["metrics"]["all"]["psnr"]["n"] == 10_000
    )
    assert manifest["multiply_adds"] > 0 and manifest["parameters"] > 0 and manifest["training_seconds"] > 0
    history = json.loads((directory / "residual_history.json").read_text())
    assert len(history["loss"]) == 1
    model = keras.models.load_model(directory / "residual.keras", safe_mode=True, compile=False)
    assert model.count_params() == manifest["parameters"]


def test_select_best_renames_the_winner_and_keeps_every_model_once(trained):
    directory, manifests = trained
    scores = {name: m["metrics"]["validation"]["psnr"]["mean"] for name, m in manifests.items()}
    winner, loser = sorted(scores, key=scores.get, reverse=True)
    manifest = select_best(directory=directory, command="test")
    assert manifest["selection"]["chosen"] == winner and manifest["model"] == "best_denoiser.keras"
    assert not (directory / f"{winner}.keras").exists() and (directory / f"{loser}.keras").exists()
    assert checkpoint_path(winner, directory=directory) == directory / "best_denoiser.keras"
    assert checkpoint_path(loser, directory=directory) == directory / f"{loser}.keras"
    # a second selection finds the same winner and changes nothing
    again = select_best(directory=directory, command="test")
    assert again["selection"]["chosen"] == winner
    assert sorted(p.name for p in directory.glob("*.keras")) == sorted(["best_denoiser.keras", f"{loser}.keras"])


def test_select_best_gives_a_dethroned_winner_its_name_back(trained):
    directory, _ = trained
    winner = select_best(directory=directory, command="test")["selection"]["chosen"]
    loser = next(name for name in ("residual", "paper_mse") if name != winner)
    record = read_manifest(directory / f"{loser}.keras")
    record["metrics"]["validation"]["psnr"]["mean"] = 99.0  # the loser now wins
    (directory / f"{loser}.json").write_text(json.dumps(record))
    assert select_best(directory=directory, command="test")["selection"]["chosen"] == loser
    assert (directory / f"{winner}.keras").exists() and "selection" not in read_manifest(directory / f"{winner}.keras")
    assert checkpoint_path(loser, directory=directory).name == "best_denoiser.keras"


def test_a_missing_checkpoint_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-variant unet"):
        checkpoint_path("unet", directory=tmp_path)
    with pytest.raises(FileNotFoundError, match="train-variant"):
        select_best(directory=tmp_path, command="test")


def test_retraining_the_winner_retires_the_stale_best(tmp_path):
    manifest = train_variant(
        "paper_mse", output_dir=tmp_path, work_dir=tmp_path / "runs" / "a", command="test", epochs=1, train_size=128
    )
    select_best(directory=tmp_path, command="test")
    assert (tmp_path / "best_denoiser.keras").exists() and not (tmp_path / "paper_mse.keras").exists()
    again = train_variant(
        "paper_mse", output_dir=tmp_path, work_dir=tmp_path / "runs" / "b", command="test", epochs=1, train_size=128
    )
    assert not (tmp_path / "best_denoiser.keras").exists()  # the old run is gone, the new one is kept
    assert read_manifest(tmp_path / "paper_mse.keras")["created"] == again["created"] >= manifest["created"]
    assert select_best(directory=tmp_path, command="test")["selection"]["chosen"] == "paper_mse"
