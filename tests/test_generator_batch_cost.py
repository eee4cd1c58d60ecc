"""tools/generator_batch_cost.py: seconds per training image of the generator at several batch sizes."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import load_tool

from dae_utils.data import VALIDATION_START
from dae_utils.recipes import Recipe, get_recipe

GENERATOR_BATCH_COST = load_tool("generator_batch_cost")


def _no_timing(*_, **__):
    pytest.fail("a batch size was timed")


def test_a_batch_size_is_timed_on_the_recipes_network(monkeypatch):
    small = dataclasses.replace(get_recipe("edm_digits"), filters=8)  # the shipped recipe, a narrow network
    build, built = Recipe.build, []

    def recorded_build(recipe, **options):
        built.append((recipe.filters, options))
        return build(recipe, **options)

    monkeypatch.setattr(Recipe, "build", recorded_build)
    seconds = GENERATOR_BATCH_COST.time_batch_size(2, images=4, recipe=small, warmup_batches=1)
    assert 0 < seconds < 60
    assert built == [(8, {"precision": small.precision})]  # the recipe's width, in its precision


def test_each_batch_size_is_timed_on_every_repeat_and_the_fastest_is_written(tmp_path, capsys, monkeypatch):
    calls = []

    def timed(batch_size, *, images, recipe):  # 1 ms per image at the first call of each size, 0.5 ms after
        calls.append(batch_size)
        return 0.001 / (1 + calls[:-1].count(batch_size)) * (1 + (batch_size == 2))

    monkeypatch.setattr(GENERATOR_BATCH_COST, "time_batch_size", timed)
    output = tmp_path / "cost.json"
    argv = ["--batch-sizes", "4", "2", "--images", "4", "--repeats", "2", "--output", str(output)]
    assert GENERATOR_BATCH_COST.main(argv) == 0
    assert calls == [4, 2, 2, 4]  # the second pass in reverse order
    results = json.loads(output.read_text())
    assert results["4"] == {
        "ms_per_image": 0.5,
        "ms_per_image_each_repeat": [1.0, 0.5],
        "ratio_to_first": 1.0,
        "seconds_per_epoch": 0.0005 * VALIDATION_START,
        "filters": get_recipe("edm_digits").filters,
    }
    assert results["2"]["ms_per_image"] == 1.0 and results["2"]["ratio_to_first"] == 2.0
    assert capsys.readouterr().out.count("batch ") == 2


@pytest.mark.parametrize("argv", [["--batch-sizes", "0"], ["--images", "0"], ["--repeats", "0"]])
def test_a_count_below_one_is_refused_before_any_training(argv, capsys, monkeypatch):
    monkeypatch.setattr(GENERATOR_BATCH_COST, "time_batch_size", _no_timing)
    with pytest.raises(SystemExit):
        GENERATOR_BATCH_COST.main(argv)
    assert "Expected batch sizes, --images and --repeats of at least 1" in capsys.readouterr().err


def test_a_batch_size_asked_for_twice_is_refused(capsys, monkeypatch):
    monkeypatch.setattr(GENERATOR_BATCH_COST, "time_batch_size", _no_timing)
    with pytest.raises(SystemExit):
        GENERATOR_BATCH_COST.main(["--batch-sizes", "64", "64"])
    assert "Expected different batch sizes. Received: batch_sizes=[64, 64]" in capsys.readouterr().err


def test_an_output_in_a_missing_folder_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(GENERATOR_BATCH_COST, "time_batch_size", _no_timing)
    with pytest.raises(SystemExit):
        GENERATOR_BATCH_COST.main(["--output", str(tmp_path / "missing" / "cost.json")])
    assert "Expected --output in an existing folder" in capsys.readouterr().err


def test_a_width_reaches_the_timed_recipe_and_a_bad_one_is_refused(tmp_path, capsys, monkeypatch):
    widths = []
    monkeypatch.setattr(
        GENERATOR_BATCH_COST, "time_batch_size", lambda size, *, images, recipe: widths.append(recipe.filters) or 0.001
    )
    output = tmp_path / "cost.json"
    argv = ["--batch-sizes", "8", "--repeats", "1", "--filters", "40", "--output", str(output)]
    assert GENERATOR_BATCH_COST.main(argv) == 0
    assert widths == [40] and json.loads(output.read_text())["8"]["filters"] == 40
    monkeypatch.setattr(GENERATOR_BATCH_COST, "time_batch_size", _no_timing)
    with pytest.raises(SystemExit):
        GENERATOR_BATCH_COST.main(["--filters", "0"])
    assert "Expected `filters` to be a positive integer. Received: filters=0" in capsys.readouterr().err
