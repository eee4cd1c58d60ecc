"""tools/generator_budget.py: its summary reads the targets off a generator manifest."""

from __future__ import annotations

import pytest
from conftest import load_tool

from dae_utils.artifacts import pretrained_path, read_manifest

GENERATOR_BUDGET = load_tool("generator_budget")


def test_the_summary_holds_the_shipped_generators_targets():
    manifest = read_manifest(pretrained_path("edm_digits"))
    summary = GENERATOR_BUDGET.summarize(manifest)
    unconditional = manifest["metrics"]["unconditional"]
    assert summary["epochs"] == manifest["epochs"] and summary["label_dropout"] == manifest["recipe"]["label_dropout"]
    assert summary["confident_share"] == unconditional["confident_share"]
    assert summary["class_share_range"] == [min(unconditional["class_shares"]), max(unconditional["class_shares"])]
    assert summary["agreement"] == manifest["metrics"]["conditional"]["agreement"]


def test_an_epoch_count_below_one_is_refused():
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "0"])


def test_a_label_dropout_outside_zero_to_one_is_refused_before_any_training(capsys):
    with pytest.raises(SystemExit):
        GENERATOR_BUDGET.main(["--epochs", "1", "--label-dropout", "1.5"])
    assert "Received: label_dropout=1.5" in capsys.readouterr().err
