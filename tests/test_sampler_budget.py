"""tools/sampler_budget.py: the shipped generator's confident share under other samplers."""

from __future__ import annotations

import json

import pytest
from conftest import load_tool

SAMPLER_BUDGET = load_tool("sampler_budget")


@pytest.mark.parametrize(
    "arguments",
    [[], ["--heun", "0"], ["--ancestral", "5", "--samples", "0"]],
    ids=["no step count", "zero steps", "zero samples"],
)
def test_bad_arguments_are_refused_before_any_model_is_loaded(arguments, capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.artifacts.load_model", _no_loading)
    with pytest.raises(SystemExit):
        SAMPLER_BUDGET.main(arguments)
    assert "Expected" in capsys.readouterr().err


def _no_loading(path, **_):
    raise AssertionError(f"a model was loaded: {path}")


def test_each_configuration_reports_its_share_from_the_manifests_seed(tmp_path, capsys):
    output = tmp_path / "samplers.json"
    assert SAMPLER_BUDGET.main(["--heun", "2", "--ancestral", "3", "--samples", "20", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    configurations = [(row["sampler"], row["steps"], row["samples"]) for row in results]
    assert configurations == [("heun", 2, 20), ("ancestral", 3, 20)]
    for row in results:
        low, high = row["class_share_range"]
        assert 0.0 <= row["confident_share"] <= 1.0 and 0.0 <= low <= high <= 1.0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == results
