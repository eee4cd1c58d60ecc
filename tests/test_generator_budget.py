"""tools/generator_budget.py: its summary reads the targets off a generator manifest."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import load_tool

from dae_utils.artifacts import pretrained_path, read_manifest
from dae_utils.recipes import get_recipe
from dae_utils.sample_quality import TARGETS

GENERATOR_BUDGET = load_tool("generator_budget")


class _Runs(list):
    """The recorded runs, and the ``guide`` each was given (``.guides``)."""

    guides: list


@pytest.fixture
def recorded_runs(monkeypatch):
    """``dae_utils.recipes.run`` replaced by one that trains nothing: it records (recipe, work folder's
    name, command), and the ``guide`` it was given in ``.guides``, and returns the shipped generator's
    manifest with the recipe's epochs, recipe and model file."""
    manifest = read_manifest(pretrained_path("edm_digits"))
    runs, guides = _Runs(), []

    def fake_run(recipe, *, output_dir, work_dir, command, guide="shipped"):
        runs.append((recipe, work_dir.name, command))
        guides.append(guide)
        return manifest | {"epochs": recipe.epochs, "recipe": recipe.to_dict(), "model": f"{recipe.name}.keras"}

    monkeypatch.setattr("dae_utils.recipes.run", fake_run)
    runs.guides = guides
    return runs


def test_the_summary_holds_the_shipped_generators_targets():
    manifest = read_manifest(pretrained_path("edm_digits"))
    summary, recipe = GENERATOR_BUDGET.summarize(manifest), manifest["recipe"]
    unconditional = manifest["metrics"]["unconditional"]
    assert summary["epochs"] == manifest["epochs"]
    assert (summary["label_dropout"], summary["p_mean"]) == (recipe["label_dropout"], recipe["p_mean"])
    assert summary["confident_share"] == unconditional["confident_share"]
    assert summary["class_share_range"] == [min(unconditional["class_shares"]), max(unconditional["class_shares"])]
    assert summary["agreement"] == manifest["metrics"]["conditional"]["agreement"]
    assert summary["meets"]["confident_share"] == (summary["confident_share"] >= TARGETS.confident_share)
    autoguided = manifest["metrics"]["autoguided"]
    assert summary["autoguided"]["confident_share"] == autoguided["confident_share"]
    assert summary["autoguided"]["meets"]["confident_share"] == (
        autoguided["confident_share"] >= TARGETS.confident_share
    )
    without = manifest | {"metrics": {k: v for k, v in manifest["metrics"].items() if k != "autoguided"}}
    assert "autoguided" not in GENERATOR_BUDGET.summarize(without)  # a run scored without the guide


def test_an_epoch_count_below_one_is_refused():
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "0"])


def test_a_label_dropout_outside_zero_to_one_is_refused_before_any_training(capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.recipes.run", _no_training)
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "1", "--label-dropout", "1.5"])
    assert "Received: label_dropout=1.5" in capsys.readouterr().err


def _no_training(recipe, **_):
    raise AssertionError(f"training started: {recipe}")


def test_each_run_is_the_shipped_recipe_with_the_epochs_and_label_dropout_asked_for(tmp_path, recorded_runs):
    assert GENERATOR_BUDGET.main(["--epochs", "3", "--label-dropout", "0.4", "--output-dir", str(tmp_path)]) == 0
    ((recipe, folder, command),) = recorded_runs
    shipped = get_recipe("edm_digits")
    assert (recipe.epochs, recipe.label_dropout, recipe.filters) == (3, 0.4, shipped.filters)
    assert recipe.p_mean == shipped.p_mean  # the recipe's own, since --p-mean was not given
    assert folder == recipe.name == f"edm_digits_3_epochs_label_dropout_0.4_p_mean_{shipped.p_mean}"
    assert command.endswith("--epochs 3 --label-dropout 0.4")
    assert json.loads((tmp_path / "summary.json").read_text())[recipe.name]["label_dropout"] == 0.4


def test_a_p_mean_reaches_the_recipe_and_is_recorded(tmp_path, recorded_runs):
    assert GENERATOR_BUDGET.main(["--epochs", "2", "--p-mean", "0.25", "--output-dir", str(tmp_path)]) == 0
    ((recipe, folder, command),) = recorded_runs
    assert recipe.p_mean == 0.25 and recipe.label_dropout == get_recipe("edm_digits").label_dropout
    assert folder.endswith("_p_mean_0.25") and command.endswith("--epochs 2 --p-mean 0.25")
    assert json.loads((tmp_path / "summary.json").read_text())[folder]["p_mean"] == 0.25


def test_a_p_mean_that_is_not_finite_is_refused_before_any_training(capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.recipes.run", _no_training)
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "1", "--p-mean", "nan"])
    assert "Received: p_mean=nan" in capsys.readouterr().err


def test_an_ema_momentum_gives_adam_an_average_of_the_weights_and_names_the_run(tmp_path, recorded_runs):
    assert GENERATOR_BUDGET.main(["--epochs", "2", "--ema-momentum", "0.99", "--output-dir", str(tmp_path)]) == 0
    ((recipe, folder, command),) = recorded_runs
    shipped = get_recipe("edm_digits")
    assert recipe.ema_momentum == 0.99 and (recipe.epochs, recipe.p_mean) == (2, shipped.p_mean)
    assert folder.endswith("_ema_momentum_0.99") and command.endswith("--epochs 2 --ema-momentum 0.99")
    optimizer, plain = recipe.optimizer(steps=100), shipped.optimizer(steps=100)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.99 and not plain.use_ema
    config, plain_config = optimizer.get_config(), plain.get_config()
    assert config["learning_rate"] == plain_config["learning_rate"]  # the same cosine schedule
    assert json.loads((tmp_path / "summary.json").read_text())[folder]["ema_momentum"] == 0.99


@pytest.mark.parametrize("momentum", ["1.0", "0", "nan"])
def test_an_ema_momentum_outside_zero_to_one_is_refused_before_any_training(momentum, capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.recipes.run", _no_training)
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "1", "--ema-momentum", momentum])
    expected = f"Expected `ema_momentum` to be in (0, 1). Received: ema_momentum={float(momentum)}"
    assert expected in capsys.readouterr().err


def test_own_guide_trains_the_runs_guide_first_and_autoguides_the_run_with_it(tmp_path, recorded_runs):
    arguments = ["--epochs", "24", "--batch-size", "64", "--own-guide", "--output-dir", str(tmp_path)]
    assert GENERATOR_BUDGET.main(arguments) == 0
    (guide, guide_folder, guide_command), (generator, folder, command) = recorded_runs
    assert (guide.filters, guide.epochs, guide.batch_size) == (generator.filters // 2, 3, 64)  # 24 // 8
    assert guide_folder == guide.name == generator.name.removesuffix("_own_guide") + "_guide"
    assert folder == generator.name and generator.name.endswith("_batch_size_64_own_guide")
    assert recorded_runs.guides == [None, tmp_path / f"{guide.name}.keras"]  # the guide is not itself guided
    assert command == guide_command and command.endswith("--epochs 24 --batch-size 64 --own-guide")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == {guide.name, generator.name}


def test_without_own_guide_the_shipped_guide_autoguides(tmp_path, recorded_runs):
    assert GENERATOR_BUDGET.main(["--epochs", "3", "--output-dir", str(tmp_path)]) == 0
    assert recorded_runs.guides == ["shipped"]


def test_the_summary_keeps_the_runs_of_earlier_calls(tmp_path, recorded_runs):
    (tmp_path / "summary.json").write_text(json.dumps({"an earlier run": {"epochs": 7}}))
    assert GENERATOR_BUDGET.main(["--epochs", "3", "--output-dir", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["an earlier run"] == {"epochs": 7} and len(summary) == 2


def test_fit_leaves_the_average_of_the_weights_in_the_model_by_hand():
    import keras
    import numpy as np

    shipped = get_recipe("edm_digits")
    fields = {field.name: getattr(shipped, field.name) for field in dataclasses.fields(shipped)}
    recipe = GENERATOR_BUDGET.AveragedRecipe(**fields, ema_momentum=0.5)
    raw = []  # the raw weights after every step
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=recipe.optimizer(steps=2), loss="mean_squared_error")
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: raw.append(model.get_weights()))
    inputs = np.ones((4, 1), "float32")
    model.fit(inputs, 3 * inputs, batch_size=2, epochs=1, verbose=0, shuffle=False, callbacks=[record])
    # Keras's average starts at the first step's weights, then moves by (1 - momentum) towards each new step's.
    by_hand = [0.5 * first + 0.5 * second for first, second in zip(*raw, strict=True)]
    for kept, expected, last in zip(model.get_weights(), by_hand, raw[-1], strict=True):
        np.testing.assert_allclose(kept, expected, rtol=1e-6)
        assert not np.allclose(kept, last)  # the model holds the average, not the last step's weights


def test_a_fit_size_reaches_the_recipe_and_names_the_run(tmp_path, recorded_runs):
    assert GENERATOR_BUDGET.main(["--epochs", "1", "--fit-size", "256", "--output-dir", str(tmp_path)]) == 0
    ((recipe, folder, command),) = recorded_runs
    assert recipe.fit_size == 256 and folder.endswith("_fit_size_256") and command.endswith("--fit-size 256")


def test_a_batch_size_reaches_the_recipe_names_the_run_and_is_recorded(tmp_path, recorded_runs):
    assert GENERATOR_BUDGET.main(["--epochs", "2", "--batch-size", "64", "--output-dir", str(tmp_path)]) == 0
    ((recipe, folder, command),) = recorded_runs
    shipped = get_recipe("edm_digits")
    assert recipe.batch_size == 64 and (recipe.p_mean, recipe.label_dropout) == (shipped.p_mean, shipped.label_dropout)
    assert folder.endswith("_batch_size_64") and command.endswith("--epochs 2 --batch-size 64")
    assert json.loads((tmp_path / "summary.json").read_text())[folder]["batch_size"] == 64


def test_settings_equal_to_the_shipped_ones_name_the_shipped_recipes_run(tmp_path, recorded_runs):
    shipped = get_recipe("edm_digits")
    for asked in ([], ["--batch-size", str(shipped.batch_size)], ["--filters", str(shipped.filters)]):
        assert GENERATOR_BUDGET.main(["--epochs", "2", *asked, "--output-dir", str(tmp_path)]) == 0
    for p_mean in ("0.0", "-0.0"):
        assert GENERATOR_BUDGET.main(["--epochs", "2", "--p-mean", p_mean, "--output-dir", str(tmp_path)]) == 0
    plain, batch, width, zero, negative_zero = (recipe for recipe, _, _ in recorded_runs)
    assert batch == width == plain  # the same recipe, so the same work folder: a second run resumes the first
    assert negative_zero.name == zero.name  # -0.0 is the same mean
    assert set(json.loads((tmp_path / "summary.json").read_text())) == {plain.name, zero.name}


def test_a_batch_size_below_one_is_refused_before_any_training(capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.recipes.run", _no_training)
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "1", "--batch-size", "0"])
    assert "Expected `batch_size` to be a positive integer. Received: batch_size=0" in capsys.readouterr().err


def test_a_width_reaches_the_recipe_names_the_run_and_a_bad_one_is_refused(tmp_path, recorded_runs, capsys):
    assert GENERATOR_BUDGET.main(["--epochs", "2", "--filters", "40", "--output-dir", str(tmp_path)]) == 0
    ((recipe, folder, command),) = recorded_runs
    assert recipe.filters == 40 and folder.endswith("_filters_40") and command.endswith("--filters 40")
    assert json.loads((tmp_path / "summary.json").read_text())[folder]["filters"] == 40
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "2", "--filters", "0", "--output-dir", str(tmp_path)])
    assert "Expected `filters` to be a positive integer. Received: filters=0" in capsys.readouterr().err
    assert len(recorded_runs) == 1  # the refused width trained nothing
