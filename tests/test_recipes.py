"""Recipes, the one training run and the one selection, on small synthetic data (the real split is `slow`)."""

import dataclasses
import io
import json
import re
import zipfile

import h5py
import keras
import numpy as np
import pytest

from dae_utils.artifacts import manifest_path, pretrained_path, read_json, read_manifest
from dae_utils.config import PAPER
from dae_utils.data import VALIDATION_START
from dae_utils.models import CODE_LAYER
from dae_utils.noise import add_gaussian_noise
from dae_utils.recipes import (
    BEST_DENOISER,
    CLASSIFIER,
    DENSE_CODE_SIZES,
    GUIDE,
    PAPER_RECIPE,
    RECIPES,
    SCHEMA_VERSION,
    candidates_of,
    dropout_candidates,
    get_recipe,
    load_split,
    run,
    select,
)
from dae_utils.sample_quality import AUTOGUIDANCE, AUTOGUIDANCE_INTERVAL, weights_sha256


def test_recipe_names_are_unique_and_every_recipe_builds_its_model():
    names = [recipe.name for recipe in (*RECIPES, *dropout_candidates())]
    assert len(set(names)) == len(names) and BEST_DENOISER not in names
    expected = {"classifier": (None, 10), "edm_unet": (None, 28, 28, 1)}
    for recipe in RECIPES:
        assert recipe.build().output_shape == expected.get(recipe.architecture, (None, 28, 28, 1)), recipe.name


def test_part_three_comes_after_the_denoisers_and_the_classifier_and_guide_before_the_generator():
    names = [recipe.name for recipe in RECIPES]
    assert names.index(CLASSIFIER) < names.index(GUIDE) < names.index("edm_digits")
    assert get_recipe(CLASSIFIER).architecture == "classifier"
    assert not set(candidates_of(BEST_DENOISER)) & {CLASSIFIER, GUIDE, "edm_digits"}


def test_the_guide_is_the_generators_recipe_at_half_the_width_and_an_eighth_of_the_epochs():
    generator, guide = get_recipe("edm_digits"), get_recipe(GUIDE)
    assert 2 * guide.filters == generator.filters and 8 * guide.epochs == generator.epochs
    same = {"name", "title", "filters", "epochs"}
    assert {k: v for k, v in guide.to_dict().items() if k not in same} == {
        k: v for k, v in generator.to_dict().items() if k not in same
    }


def test_the_paper_recipe_is_the_papers_settings():
    assert PAPER_RECIPE.protocol == "paper" and PAPER_RECIPE.architecture == "paper"
    assert (PAPER_RECIPE.noise_std, PAPER_RECIPE.epochs, PAPER_RECIPE.batch_size, PAPER_RECIPE.seed) == (
        PAPER.noise_std, PAPER.epochs, PAPER.batch_size, PAPER.seed,
    )  # fmt: skip
    dropouts = [layer for layer in PAPER_RECIPE.build().layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.rate for layer in dropouts] == [PAPER.dropout_rate] * 2


def test_dropout_candidates_differ_only_in_the_rate():
    rates = [recipe.dropout_rate for recipe in dropout_candidates()]
    assert PAPER.dropout_rate in rates and len(set(rates)) == len(rates)
    for recipe in dropout_candidates():
        assert dataclasses.replace(recipe, name="x", title="x", dropout_rate=None) == dataclasses.replace(
            get_recipe("paper_validation"), name="x", title="x"
        )


def test_a_recipe_width_reaches_the_builder():
    wide, default = get_recipe("unet_wide").build(), get_recipe("unet").build()
    assert wide.get_layer("encoder_1_conv_1").filters == 32 and default.get_layer("encoder_1_conv_1").filters == 16


def test_the_dense_recipes_are_the_papers_training_through_a_code_and_no_best_denoiser_candidates():
    dense = [recipe for recipe in RECIPES if recipe.architecture == "dense"]
    assert [recipe.code_size for recipe in dense] == list(DENSE_CODE_SIZES)
    for recipe in dense:
        model = recipe.build()
        assert model.name == recipe.name and model.get_layer(CODE_LAYER).units == recipe.code_size
        assert dataclasses.replace(recipe, name="x", title="x", architecture="paper", code_size=None) == (
            dataclasses.replace(get_recipe("paper_validation"), name="x", title="x")
        )  # the paper's loss, noise, epochs, batch size, seed and protocol
    assert not set(candidates_of(BEST_DENOISER)) & {recipe.name for recipe in dense}


def test_the_cosine_learning_rate_falls_from_0_001_to_0_00001():
    config = get_recipe("unet_wide").optimizer(steps=100).get_config()["learning_rate"]
    schedule = keras.optimizers.schedules.deserialize(config)
    assert [float(schedule(step)) for step in (0, 50, 100)] == pytest.approx([0.001, 0.000505, 0.00001], rel=1e-5)
    assert float(get_recipe("unet").optimizer(steps=100).learning_rate) == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rate": "linear"}, "Received: learning_rate='linear'"),
        ({"precision": "float16"}, "Received: precision='float16'"),
        ({"protocol": "test"}, "Received: protocol='test'"),
        ({"architecture": "resnet"}, "Received: architecture='resnet'"),
        ({"noise_std": (0.1, 0.9)}, "fresh_noise=True"),
        ({"architecture": "unet", "dropout_rate": 0.2}, "only the paper's model"),
        ({"architecture": "classifier"}, "Expected loss 'sparse_categorical_crossentropy'"),
        ({"architecture": "edm_unet"}, "Expected loss 'mean_squared_error'"),
        ({"loss": "sparse_categorical_crossentropy"}, "for architecture 'paper'"),
        ({"label_dropout": 0.1}, "Expected label_dropout=None for architecture 'paper'"),
        (
            {"architecture": "edm_unet", "loss": "mean_squared_error"},
            "Expected label_dropout in [0, 1) for architecture 'edm_unet'",
        ),
        (
            {"architecture": "edm_unet", "loss": "mean_squared_error", "label_dropout": 1.0},
            "Received: label_dropout=1.0",
        ),
        ({"p_mean": -1.2}, "Expected p_mean=None for architecture 'paper'"),
        ({"code_size": 32}, "Expected code_size=None for architecture 'paper'"),
        ({"architecture": "dense"}, "Expected code_size to be a positive integer for architecture 'dense'"),
        ({"architecture": "dense", "code_size": 8, "filters": 16}, "Expected filters=None for architecture 'dense'"),
        ({"architecture": "dense", "code_size": 0}, "Expected `code_size` to be a positive integer"),
        ({"architecture": "unet", "filters": 0}, "Expected `filters` to be a positive integer. Received: filters=0"),
        (
            {"architecture": "edm_unet", "loss": "mean_squared_error", "label_dropout": 0.5},
            "Expected p_mean to be a finite number for architecture 'edm_unet'",
        ),
        (
            {"architecture": "edm_unet", "loss": "mean_squared_error", "label_dropout": 0.5, "p_mean": float("inf")},
            "Received: p_mean=inf",
        ),
    ],
)
def test_a_bad_recipe_is_refused_with_what_was_received(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(get_recipe("paper_validation"), **changes)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unet"):
        get_recipe("resnet")
    with pytest.raises(ValueError, match="best_denoiser"):
        candidates_of("worst")


def test_a_bfloat16_build_computes_in_bfloat16_outputs_float32_and_restores_the_policy():
    model = get_recipe("unet").build(precision="mixed_bfloat16")
    assert model.get_layer("encoder_1_conv_1").compute_dtype == "bfloat16"
    assert model.get_layer("encoder_1_conv_1").variable_dtype == "float32"
    assert model.get_layer("denoised_image").compute_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="Received: precision='float16'"):
        get_recipe("unet").build(precision="float16")


# ------------------------------------------------------------------ run and select, synthetic data


def _tiny(name, **changes):
    return dataclasses.replace(get_recipe(name), epochs=1, batch_size=32, **changes)


def test_run_writes_a_model_a_history_and_a_manifest_of_the_schema(synthetic, tmp_path, capsys):
    manifest = run(_tiny("residual"), output_dir=tmp_path, work_dir=tmp_path / "run", command="test")
    assert read_manifest(tmp_path / "residual.keras") == manifest
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["kind"] == "checkpoint"
    assert manifest["recipe"] == _tiny("residual").to_dict() and manifest["command"] == "test"
    assert manifest["data"]["fit_images"] == 64 and manifest["data"]["validation_images"].startswith(
        f"{VALIDATION_START:,}"
    )
    metrics = manifest["metrics"]
    assert metrics["validation"]["n"] == 32 and metrics["test"]["n"] == PAPER.eval_limit + 20
    assert metrics["test_first"]["n"] == PAPER.eval_limit
    assert manifest["multiply_adds"] > 0 and manifest["training_seconds"] > 0 and manifest["epochs"] == 1
    history = read_json(tmp_path / "residual_history.json")
    assert history["loss"] == [manifest["final_loss"]]
    model = keras.models.load_model(tmp_path / "residual.keras", safe_mode=True, compile=False)
    assert model.count_params() == manifest["parameters"]
    with zipfile.ZipFile(tmp_path / "residual.keras") as archive:
        assert not json.loads(archive.read("config.json")).get("compile_config")  # saved uncompiled,
        with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
            assert "optimizer" not in weights  # without the optimiser's state
    assert sorted(path.name for path in (tmp_path / "run").iterdir()) == ["history.json"]  # no second model
    assert "epoch   1/1" in capsys.readouterr().out


def test_the_paper_protocol_fits_on_every_training_image_and_has_no_validation_score(synthetic, tmp_path):
    manifest = run(_tiny("paper_autoencoder"), output_dir=tmp_path, work_dir=tmp_path / "run", command="test")
    assert manifest["data"]["fit_images"] == 96 and manifest["data"]["validation_images"] is None
    assert manifest["metrics"]["validation"] is None and manifest["data"]["loss_curve"].startswith("test images")
    with pytest.raises(ValueError, match="protocol 'paper'"):
        select(BEST_DENOISER, directory=tmp_path, command="test", candidates=["paper_autoencoder"])


def test_the_same_recipe_gives_the_same_weights(synthetic, tmp_path):
    for folder in ("a", "b"):
        run(_tiny("paper_fresh_noise"), output_dir=tmp_path / folder, work_dir=tmp_path / folder / "run", command="t")
    first, second = (keras.models.load_model(tmp_path / f / "paper_fresh_noise.keras") for f in ("a", "b"))
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_trains_as_run_does_and_neither_scores_nor_saves(synthetic, tmp_path):
    from dae_utils.recipes import train

    run(_tiny("paper_fresh_noise"), output_dir=tmp_path / "run", work_dir=tmp_path / "run" / "work", command="t")
    model, history = train(_tiny("paper_fresh_noise"), work_dir=tmp_path / "train")
    shipped_way = keras.models.load_model(tmp_path / "run" / "paper_fresh_noise.keras")
    for a, b in zip(shipped_way.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not model.compiled and len(history["loss"]) == 1 == len(history["seconds"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run", "train"]  # only its work folder
    with pytest.raises(TypeError, match=r"Expected a Recipe or a recipe name\. Received: int"):
        train(3, work_dir=tmp_path / "none")


def test_a_bfloat16_recipe_is_saved_as_a_float32_model(synthetic, tmp_path):
    tiny = _tiny("unet_64", filters=4)
    manifest = run(tiny, output_dir=tmp_path, work_dir=tmp_path / "run", command="test")
    assert manifest["recipe"]["precision"] == "mixed_bfloat16"
    model = keras.models.load_model(tmp_path / "unet_64.keras", safe_mode=True, compile=False)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.fixture
def two_runs(synthetic, tmp_path):
    for name in ("residual", "paper_validation"):
        run(_tiny(name), output_dir=tmp_path, work_dir=tmp_path / "runs" / name, command="test")
    return tmp_path


def test_select_points_at_the_best_validation_score_and_moves_no_file(two_runs):
    before = sorted(path.name for path in two_runs.glob("*.keras"))
    record = select(BEST_DENOISER, directory=two_runs, command="test", candidates=["residual", "paper_validation"])
    scores = {name: c["validation"]["psnr"]["mean"] for name, c in record["candidates"].items()}
    assert record["chosen"] == max(scores, key=scores.get) and record["model"] == f"{record['chosen']}.keras"
    assert record["schema_version"] == SCHEMA_VERSION and record["kind"] == "selection"
    assert sorted(path.name for path in two_runs.glob("*.keras")) == before
    assert read_json(two_runs / "best_denoiser.json") == json.loads(json.dumps(record))
    assert pretrained_path(BEST_DENOISER, directory=two_runs) == two_runs / record["model"]


def test_select_follows_the_validation_score(two_runs):
    loser = min(("residual", "paper_validation"), key=lambda n: read_manifest(two_runs / f"{n}.keras")["final_loss"])
    manifest = read_manifest(two_runs / f"{loser}.keras")
    manifest["metrics"]["validation"]["psnr"]["mean"] = 99.0
    (two_runs / f"{loser}.json").write_text(json.dumps(manifest))
    record = select(BEST_DENOISER, directory=two_runs, command="t", candidates=["residual", "paper_validation"])
    assert record["chosen"] == loser


def test_a_missing_candidate_says_how_to_train_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m dae_utils train unet"):
        select(BEST_DENOISER, directory=tmp_path, command="test")


# ------------------------------------------------------------------------------- the real split


@pytest.mark.slow
def test_the_split_is_the_books_protocol():
    split = load_split("mnist", fit_size=1000)
    assert len(split["fit_clean"]) == 1000 and len(split["val_clean"]) == 60_000 - VALIDATION_START
    np.testing.assert_array_equal(split["val_noisy"], split["train_noisy"][VALIDATION_START:])
    np.testing.assert_array_equal(
        split["train_noisy"][:10], add_gaussian_noise(split["train_clean"][:10], seed=PAPER.train_noise_seed)
    )
    assert len(split["test_clean"]) == 10_000 and split["val_labels"].dtype == np.uint8


def test_the_classifier_and_the_generator_train_and_score_on_the_one_path(synthetic, tmp_path, monkeypatch):
    """Part III's three models go through the same run: fit, score, save, one manifest schema. The
    guide's and the generator's scores need the classifier, and the generator's the guide, found where
    checkpoints are looked up."""
    monkeypatch.setenv("DAE_PRETRAINED_DIR", str(tmp_path))
    classifier = run(_tiny(CLASSIFIER), output_dir=tmp_path, work_dir=tmp_path / "c", command="test")
    assert set(classifier["metrics"]) == {"validation", "test"}
    assert 0.0 <= classifier["metrics"]["test"]["accuracy"] <= 1.0
    guide = run(_tiny(GUIDE, filters=2, fit_size=12), output_dir=tmp_path, work_dir=tmp_path / "a", command="t")
    assert "autoguided" not in guide["metrics"]  # the guide is not guided
    generator = run(
        _tiny("edm_digits", filters=4, fit_size=12), output_dir=tmp_path, work_dir=tmp_path / "g", command="t"
    )
    assert generator["schema_version"] == SCHEMA_VERSION and generator["kind"] == "checkpoint"
    scores = generator["metrics"]
    assert scores["settings"]["samples"] == 12  # a quick run generates as many digits as it fit on
    assert len(scores["unconditional"]["class_shares"]) == 10
    assert sum(scores["unconditional"]["class_shares"]) == pytest.approx(1.0)
    assert len(scores["conditional"]["first_samples"]["classes"]) == 12
    assert scores["reference"]["frechet_floor"] >= 0
    autoguided = scores["autoguided"]  # by the guide trained above, found where checkpoints are looked up
    guide_model = keras.models.load_model(tmp_path / f"{GUIDE}.keras", safe_mode=True, compile=False)
    assert autoguided["guide_weights_sha256"] == weights_sha256(guide_model)
    assert len(autoguided["first_samples"]["classes"]) == 12 and autoguided["scale"] == AUTOGUIDANCE
    assert autoguided["interval"] == list(AUTOGUIDANCE_INTERVAL)
    assert autoguided["first_samples"] != scores["unconditional"]["first_samples"]  # the guide changed them
    model = keras.models.load_model(tmp_path / "edm_digits.keras", safe_mode=True, compile=False)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"} and len(model.inputs) == 3
    # Another guide (here the generator just trained: any network of the same inputs), or none.
    other = tmp_path / "other"
    tiny = _tiny("edm_digits", filters=4, fit_size=12)
    guided = run(tiny, output_dir=other, work_dir=other / "g", command="t", guide=tmp_path / "edm_digits.keras")
    assert guided["metrics"]["autoguided"]["guide_weights_sha256"] == weights_sha256(model)
    alone = run(tiny, output_dir=other / "alone", work_dir=other / "a", command="t", guide=None)
    assert "autoguided" not in alone["metrics"]


def test_the_recipes_label_dropout_reaches_the_training_batches_and_the_loss_curve():
    from conftest import synthetic_split

    from dae_utils.generative import NULL_LABEL
    from dae_utils.recipes import _fit_examples, _loss_curve_set

    split = synthetic_split()
    for label_dropout, dropped in ((0, False), (0.9, True)):
        recipe = dataclasses.replace(get_recipe("edm_digits"), label_dropout=label_dropout)
        assert isinstance(recipe.label_dropout, float) and recipe.to_dict()["label_dropout"] == label_dropout
        (_, _, batch_labels), _ = _fit_examples(recipe, split)[0]
        (_, _, curve_labels), _ = _loss_curve_set(recipe, split)
        assert np.any(batch_labels == NULL_LABEL) == dropped and np.any(curve_labels == NULL_LABEL) == dropped


def test_the_recipes_p_mean_reaches_the_training_batches_and_the_loss_curve():
    from conftest import synthetic_split

    from dae_utils.recipes import _fit_examples, _loss_curve_set

    split = synthetic_split()
    levels = {}
    for p_mean in (-2, 2):
        recipe = dataclasses.replace(get_recipe("edm_digits"), p_mean=p_mean)
        assert isinstance(recipe.p_mean, float) and recipe.to_dict()["p_mean"] == p_mean
        (_, batch_levels, _), _ = _fit_examples(recipe, split)[0]
        (_, curve_levels, _), _ = _loss_curve_set(recipe, split)
        levels[p_mean] = 4 * batch_levels, 4 * curve_levels  # c_noise = ln(sigma) / 4
    # The same draws, shifted by the difference of the means.
    np.testing.assert_allclose(levels[2][0] - levels[-2][0], 4, atol=1e-5)
    np.testing.assert_allclose(levels[2][1] - levels[-2][1], 4, atol=1e-5)


def test_a_generators_guide_is_the_shipped_one_another_file_or_none(tmp_path):
    from dae_utils.recipes import _scoring_checkpoints

    generator, guide = get_recipe("edm_digits"), get_recipe(GUIDE)
    assert _scoring_checkpoints(generator)["guide"].name == f"{GUIDE}.keras"
    assert "guide" not in _scoring_checkpoints(guide)  # the shipped guide is not guided
    assert "guide" not in _scoring_checkpoints(generator, guide=None)
    other = tmp_path / "other_guide.keras"
    other.write_bytes(b"")
    assert _scoring_checkpoints(generator, guide=other)["guide"] == other
    for wrong in (tmp_path / "missing.keras", manifest_path(pretrained_path(GUIDE))):  # absent; not a .keras file
        with pytest.raises(
            ValueError, match=re.escape("Expected `guide` to be an existing .keras file. Received: guide=")
        ):
            _scoring_checkpoints(generator, guide=wrong)
    with pytest.raises(TypeError, match=re.escape("Expected `guide` to be 'shipped', a path to a .keras file or None")):
        _scoring_checkpoints(generator, guide=3)
    assert _scoring_checkpoints(get_recipe("unet"), guide=3) == {}  # not a generator: nothing is loaded


def test_guide_of_halves_the_width_divides_the_epochs_by_eight_and_refuses_what_is_not_a_generator():
    from dae_utils.recipes import GUIDE_EPOCH_DIVISOR, guide_of

    generator = dataclasses.replace(get_recipe("edm_digits"), batch_size=64, epochs=30, label_dropout=0.85)
    guide = guide_of(generator, name="study_guide")
    assert GUIDE_EPOCH_DIVISOR == 8
    assert (guide.name, guide.filters, guide.epochs) == ("study_guide", generator.filters // 2, 3)
    assert (guide.batch_size, guide.label_dropout, guide.p_mean) == (64, 0.85, generator.p_mean)
    assert guide_of(dataclasses.replace(generator, epochs=5), name="g").epochs == 1  # at least one epoch
    shipped = get_recipe(GUIDE)
    assert (shipped.filters, shipped.epochs) == (16, 4)  # the shipped generator's 32 filters and 32 epochs
    with pytest.raises(ValueError, match="Expected a generator recipe"):
        guide_of(get_recipe("unet"), name="no_guide")
    with pytest.raises(TypeError, match=r"Expected a Recipe\. Received: str"):
        guide_of("edm_digits", name="no_guide")


def test_a_generator_without_its_judge_or_guide_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("DAE_PRETRAINED_DIR", str(tmp_path))  # an empty folder: no classifier, no guide
    monkeypatch.setattr("dae_utils.recipes.load_split", _no_data)
    for name, missing in ((GUIDE, CLASSIFIER), ("edm_digits", CLASSIFIER)):
        with pytest.raises(ValueError, match=f"Train it with `python -m dae_utils train {missing}`"):
            run(_tiny(name, fit_size=12), output_dir=tmp_path, work_dir=tmp_path / "w", command="t")
    (tmp_path / f"{CLASSIFIER}.keras").write_bytes(b"")  # only its presence is checked before training
    with pytest.raises(ValueError, match=f"Train it with `python -m dae_utils train {GUIDE}`"):
        run(_tiny("edm_digits", fit_size=12), output_dir=tmp_path, work_dir=tmp_path / "w", command="t")


def _no_data(*_, **__):
    raise AssertionError("the data were loaded: the missing checkpoint was not noticed first")
