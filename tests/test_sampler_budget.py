"""tools/sampler_budget.py: the shipped generator's confident share under other samplers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_tool

from dae_utils import sampling
from dae_utils.artifacts import load_model, pretrained_path, read_manifest
from dae_utils.data import load_mnist, split_training_set
from dae_utils.recipes import CLASSIFIER
from dae_utils.sample_quality import classify
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


def test_prior_labels_ask_both_samplers_for_drawn_digits_without_guidance(tmp_path, monkeypatch):
    calls = []

    def recording(real):
        def sampler(denoiser, labels=None, **options):
            digits = real(denoiser, labels, **options)
            calls.append((None if labels is None else np.asarray(labels).copy(), options, digits))
            return digits

        return sampler

    for name in ("heun_sample", "ancestral_sample"):
        monkeypatch.setattr(sampling, name, recording(getattr(sampling, name)))
    drawn_from = []

    def recording_prior_labels(training_labels, count, **options):
        drawn_from.append(np.asarray(training_labels).copy())
        return prior_labels(training_labels, count, **options)

    monkeypatch.setattr(sampling, "prior_labels", recording_prior_labels)
    output = tmp_path / "prior.json"
    arguments = ["--heun", "2", "--ancestral", "3", "--samples", "20", "--labels", "prior", "--output", str(output)]
    assert SAMPLER_BUDGET.main(arguments) == 0
    rows = json.loads(output.read_text())
    seed = read_manifest(pretrained_path("edm_digits"))["metrics"]["settings"]["seed"]
    (_, training_labels), _ = load_mnist()
    fit_labels, _ = split_training_set(training_labels)
    (labels_given,) = drawn_from
    assert np.array_equal(labels_given, fit_labels)  # the fit images' labels, not all 60,000
    expected = prior_labels(fit_labels, 20, seed=seed)
    classifier = load_model(pretrained_path(CLASSIFIER))
    measured = calls[1:]  # the first call only compiles the network
    assert [row["labels"] for row in rows] == ["prior", "prior"] and len(measured) == len(rows)
    for row, (labels, options, digits) in zip(rows, measured, strict=True):
        assert np.array_equal(labels, expected) and options.get("guidance", 0.0) == 0.0
        read_as = classify(classifier, digits).argmax(axis=1)
        assert row["agreement"] == float(np.mean(read_as == expected))
