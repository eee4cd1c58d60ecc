"""tools/sampler_budget.py: the shipped generator's confident share under other samplers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_tool

from dae_utils import sampling
from dae_utils.artifacts import pretrained_path, read_manifest
from dae_utils.data import load_mnist, split_training_set
from dae_utils.sampling import prior_labels

SAMPLER_BUDGET = load_tool("sampler_budget")


@pytest.mark.parametrize(
    "arguments",
    [[], ["--heun", "0"], ["--ancestral", "5", "--samples", "0"], ["--heun", "2", "--output", "no/such/folder.json"]],
    ids=["no step count", "zero steps", "zero samples", "no output folder"],
)
def test_bad_arguments_are_refused_before_any_model_is_loaded(arguments, capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.artifacts.load_model", _no_loading)
    with pytest.raises(SystemExit):
        SAMPLER_BUDGET.main(arguments)
    message = capsys.readouterr().err.splitlines()[-1]
    assert "Expected" in message and "Received: " in message


def _no_loading(path, **_):
    raise AssertionError(f"a model was loaded: {path}")


def test_each_configuration_reports_its_share_and_the_manifests_seed(tmp_path, capsys):
    output = tmp_path / "samplers.json"
    assert SAMPLER_BUDGET.main(["--heun", "2", "--ancestral", "3", "--samples", "20", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    seed = read_manifest(pretrained_path("edm_digits"))["metrics"]["settings"]["seed"]
    configurations = [(row["sampler"], row["steps"], row["labels"], row["samples"], row["seed"]) for row in results]
    assert configurations == [("heun", 2, "none", 20, seed), ("ancestral", 3, "none", 20, seed)]
    for row in results:
        low, high = row["class_share_range"]
        assert 0.0 <= row["confident_share"] <= 1.0 and 0.0 <= low <= high <= 1.0
        assert "agreement" not in row  # nothing was asked for
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == results


def test_prior_labels_ask_for_drawn_digits_without_guidance(tmp_path, monkeypatch):
    asked = []
    real_heun = sampling.heun_sample

    def recording_heun(denoiser, labels=None, **options):
        asked.append((None if labels is None else np.asarray(labels).copy(), options.get("guidance", 0.0)))
        return real_heun(denoiser, labels, **options)

    monkeypatch.setattr(sampling, "heun_sample", recording_heun)
    output = tmp_path / "prior.json"
    assert SAMPLER_BUDGET.main(["--heun", "2", "--samples", "20", "--labels", "prior", "--output", str(output)]) == 0
    (row,) = json.loads(output.read_text())
    assert row["labels"] == "prior" and 0.0 <= row["agreement"] <= 1.0
    labels, guidance = asked[-1]  # the measured run (the first call only compiles the network)
    seed = read_manifest(pretrained_path("edm_digits"))["metrics"]["settings"]["seed"]
    (_, training_labels), _ = load_mnist()
    fit_labels, _ = split_training_set(training_labels)
    assert np.array_equal(labels, prior_labels(fit_labels, 20, seed=seed)) and guidance == 0.0
