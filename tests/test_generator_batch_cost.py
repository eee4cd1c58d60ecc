"""tools/generator_batch_cost.py: seconds per training image of the generator at several batch sizes."""

from __future__ import annotations

import json

import pytest
from conftest import load_tool

GENERATOR_BATCH_COST = load_tool("generator_batch_cost")


@pytest.mark.slow  # builds and trains the generator's network twice
def test_each_batch_size_is_timed_and_written(tmp_path, capsys):
    output = tmp_path / "cost.json"
    assert GENERATOR_BATCH_COST.main(["--batch-sizes", "4", "2", "--images", "4", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert set(results) == {"4", "2"}
    assert results["4"]["ratio_to_first"] == 1.0 and results["2"]["ratio_to_first"] > 0
    for result in results.values():
        assert result["ms_per_image"] > 0
        assert result["seconds_per_epoch"] == pytest.approx(result["ms_per_image"] * 50, rel=1e-2)
    assert capsys.readouterr().out.count("batch ") == 2


@pytest.mark.parametrize("argv", [["--batch-sizes", "0"], ["--images", "0"]])
def test_a_count_below_one_is_refused_before_any_training(argv, capsys, monkeypatch):
    monkeypatch.setattr(GENERATOR_BATCH_COST, "time_batch_size", lambda *_, **__: pytest.fail("timed"))
    with pytest.raises(SystemExit):
        GENERATOR_BATCH_COST.main(argv)
    assert "Expected batch sizes and --images of at least 1" in capsys.readouterr().err


def test_an_output_in_a_missing_folder_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        GENERATOR_BATCH_COST.main(["--output", str(tmp_path / "missing" / "cost.json")])
    assert "Expected --output in an existing folder" in capsys.readouterr().err
