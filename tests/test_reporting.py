"""dae_utils.reporting: the recipes' result table and the pieces of glued prose."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dae_utils.reporting import counted, listed, recipe_record, results_markdown


def _scores(mean: float, low: float, ssim: float) -> SimpleNamespace:
    summary = {"n": 100, "psnr": {"mean": mean, "ci95_low": low}, "ssim": {"mean": ssim}}
    return SimpleNamespace(
        psnr=SimpleNamespace(mean=mean, ci95_low=low), ssim=SimpleNamespace(mean=ssim), to_dict=lambda: summary
    )


MANIFEST = {"multiply_adds": 2_500_000, "seconds_per_epoch": 41.6, "training_seconds": 900.0}


def test_a_record_takes_the_cost_from_the_manifest_and_the_quality_from_the_scores():
    record = recipe_record(
        "U-Net", MANIFEST, {"validation": _scores(21.0, 20.8, 0.9), "test": _scores(20.5, 20.2, 0.88)}
    )
    assert record["training_minutes"] == 15.0
    assert record["validation_psnr"] == 21.0
    assert record["psnr"] == 20.5
    assert record["psnr_halfwidth"] == pytest.approx(0.3)
    with pytest.raises(KeyError, match="test"):
        recipe_record("U-Net", MANIFEST, {"validation": _scores(21.0, 20.8, 0.9)})


def test_without_a_measured_validation_score_the_manifests_is_used():
    manifest = MANIFEST | {"metrics": {"validation": _scores(21.5, 21.3, 0.91).to_dict()}}
    record = recipe_record("U-Net", manifest, {"test": _scores(20.5, 20.2, 0.88)})
    assert (record["validation_psnr"], record["validation_ssim"], record["psnr"]) == (21.5, 0.91, 20.5)
    both = {"validation": _scores(21.0, 20.8, 0.9), "test": _scores(20.5, 20.2, 0.88)}
    measured = recipe_record("U-Net", manifest, both)
    assert measured["validation_psnr"] == 21.0  # a score measured in the notebook comes first
    with pytest.raises(ValueError, match="Expected a validation score"):
        recipe_record("paper", MANIFEST | {"metrics": {"validation": None}}, {"test": _scores(20.5, 20.2, 0.88)})


def test_the_table_sorts_by_validation_psnr_worst_first():
    better = recipe_record("better", MANIFEST, {"validation": _scores(22.0, 0, 0.9), "test": _scores(21.0, 20.9, 0.9)})
    worse = recipe_record("worse", MANIFEST, {"validation": _scores(20.0, 0, 0.8), "test": _scores(19.0, 18.9, 0.8)})
    table = results_markdown({"b": better, "w": worse})
    rows = table.strip().splitlines()
    assert rows[0].startswith("| recipe |")
    assert rows[2].startswith("| worse | 2.5 | 42 | 15.0 | 20.00 |")
    assert rows[3].startswith("| better |")
    assert "21.00 ± 0.10" in rows[3]
    with pytest.raises(ValueError, match="at least one record"):
        results_markdown({})


@pytest.mark.parametrize(
    "items, text",
    [(["a"], "a"), (["a", "b"], "a and b"), (("a", "b", "c"), "a, b and c")],
)
def test_listed_joins_items_for_a_sentence(items, text):
    assert listed(items) == text


@pytest.mark.parametrize(
    "items, error, match",
    [
        ([], ValueError, "at least one item"),
        ("abc", TypeError, "the string 'abc'; wrap it in a list"),
        (["a", 2], TypeError, r"Expected strings. Received: \[2\]"),
    ],
)
def test_listed_names_bad_input(items, error, match):
    with pytest.raises(error, match=match):
        listed(items)


@pytest.mark.parametrize(
    "count, text",
    [(0, "none have"), (1, "one has"), (2, "two have"), (12, "twelve have"), (13, "13 have")],
)
def test_counted_spells_small_counts(count, text):
    assert counted(count, "has", "have") == text


def test_counted_takes_numpy_integers_and_names_bad_input():
    import numpy as np

    assert counted(np.int64(3), "seed", "seeds") == "three seeds"
    with pytest.raises(TypeError, match=r"integer count. Received: 2\.0"):
        counted(2.0, "seed", "seeds")
    with pytest.raises(TypeError, match="Received: True"):
        counted(True, "seed", "seeds")
    with pytest.raises(ValueError, match="count=-1"):
        counted(-1, "seed", "seeds")
