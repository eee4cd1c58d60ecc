"""tools/autoguidance_scale.py: the scale sweep, and the autoguided scores it records in a manifest."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import load_tool

from dae_utils.artifacts import atomic_write_json, load_model, manifest_path, pretrained_path, read_manifest
from dae_utils.recipes import CLASSIFIER, GUIDE
from dae_utils.sample_quality import AUTOGUIDANCE, weights_sha256

AUTOGUIDANCE_SCALE = load_tool("autoguidance_scale")


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--scales", "-1"],
        ["--scales", "1", "--samples", "0"],
        ["--scales", "1", "--output", "no/such/f.json"],
        ["--scales", "1", "--steps", "0"],
        ["--scales", "1", "--generator", "no/such/generator.keras"],
        ["--scales", "1", "--guide", "no/such/guide.keras"],
        ["--scales", "1", "--guide", __file__],
        ["--record", "--guide", str(pretrained_path(GUIDE))],
        ["--record", "--seed", "0"],
        ["--record", "--sampler", "heun"],
    ],
    ids=[
        "nothing to do",
        "negative scale",
        "zero samples",
        "no output folder",
        "zero steps",
        "no generator file",
        "no guide file",
        "guide not a .keras file",
        "record another pair",
        "record another seed",
        "record a sampler",
    ],
)
def test_bad_arguments_are_refused_before_any_model_is_loaded(arguments, capsys, monkeypatch):
    monkeypatch.setattr("dae_utils.artifacts.load_model", _no_loading)
    with pytest.raises(SystemExit):
        AUTOGUIDANCE_SCALE.main(arguments)
    message = capsys.readouterr().err.splitlines()[-1]
    assert "Expected" in message and "Received: " in message


def _no_loading(path, **_):
    raise AssertionError(f"a model was loaded: {path}")


@pytest.mark.slow  # the shipped models and the real validation images
def test_the_sweep_reports_each_scale_and_names_the_closest_to_the_validation_images(tmp_path, capsys):
    output = tmp_path / "sweep.json"
    assert AUTOGUIDANCE_SCALE.main(["--scales", "0", "2", "--samples", "12", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert [(row["scale"], row["samples"]) for row in results] == [(0.0, 12), (2.0, 12)]
    for row in results:
        low, high = row["class_share_range"]
        assert 0.0 <= row["confident_share"] <= 1.0 and 0.0 <= low <= high <= 1.0
    best = min(results, key=lambda row: row["validation_frechet_distance"])
    assert capsys.readouterr().out.splitlines()[-1] == f"lowest validation Frechet distance: scale {best['scale']}"


@pytest.mark.slow  # the shipped models and the real validation images
def test_the_sweep_takes_another_pair_sampler_steps_and_seed(tmp_path):
    from dae_utils.generative import Autoguided, Denoiser
    from dae_utils.recipes import load_split
    from dae_utils.sample_quality import features, frechet_distance
    from dae_utils.sampling import ancestral_sample

    # The shipped pair the wrong way round: a pair whose digits differ from the shipped pair's.
    generator, guide = tmp_path / "study.keras", tmp_path / "study_guide.keras"
    shutil.copy(pretrained_path(GUIDE), generator)
    shutil.copy(pretrained_path("edm_digits"), guide)
    output = tmp_path / "sweep.json"
    arguments = ["--scales", "0.5", "--samples", "16", "--seed", "3", "--sampler", "ancestral", "--steps", "3"]
    arguments += ["--generator", str(generator), "--guide", str(guide), "--output", str(output)]
    assert AUTOGUIDANCE_SCALE.main(arguments) == 0
    (row,) = json.loads(output.read_text())
    assert (row["sampler"], row["steps"], row["seed"], row["samples"], row["scale"]) == ("ancestral", 3, 3, 16, 0.5)
    network = Autoguided(Denoiser(load_model(generator)), Denoiser(load_model(guide)), scale=0.5)
    by_hand = ancestral_sample(network, count=16, steps=3, seed=3)
    classifier = load_model(pretrained_path(CLASSIFIER))
    validation = features(classifier, load_split("mnist")["val_clean"])
    expected = frechet_distance(features(classifier, by_hand), validation)
    assert row["validation_frechet_distance"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_record_writes_the_autoguided_scores_into_the_generators_manifest_only(tmp_path, monkeypatch):
    """On a copy of the shipped files, with the manifest's sample count cut to 12."""
    for name in ("edm_digits", GUIDE, CLASSIFIER):
        shutil.copy(pretrained_path(name), tmp_path)
        shutil.copy(manifest_path(pretrained_path(name)), tmp_path)
    monkeypatch.setenv("DAE_PRETRAINED_DIR", str(tmp_path))
    manifest = read_manifest(tmp_path / "edm_digits.keras")
    manifest["metrics"]["settings"]["samples"] = 12
    manifest["metrics"].pop("autoguided")  # as the manifest was before it was recorded
    manifest.pop("rescored")
    atomic_write_json(manifest_path(tmp_path / "edm_digits.keras"), manifest)
    weights = np.concatenate([w.ravel() for w in load_model(tmp_path / "edm_digits.keras").get_weights()])

    assert AUTOGUIDANCE_SCALE.main(["--record"]) == 0
    recorded = read_manifest(tmp_path / "edm_digits.keras")
    autoguided = recorded["metrics"]["autoguided"]
    assert autoguided["scale"] == AUTOGUIDANCE and len(autoguided["first_samples"]["classes"]) == 12
    assert autoguided["guide_weights_sha256"] == weights_sha256(load_model(tmp_path / f"{GUIDE}.keras"))
    assert recorded["rescored"]["autoguided"]["command"] == "python tools/autoguidance_scale.py --record"
    del recorded["metrics"]["autoguided"], recorded["rescored"]
    assert recorded == manifest  # nothing else in the manifest changed ...
    after = np.concatenate([w.ravel() for w in load_model(tmp_path / "edm_digits.keras").get_weights()])
    np.testing.assert_array_equal(after, weights)  # ... nor the weights
