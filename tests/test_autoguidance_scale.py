"""tools/autoguidance_scale.py: the scale sweep, and the autoguided scores it records in a manifest."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import load_tool

from dae_utils.artifacts import atomic_write_json, load_model, manifest_path, pretrained_path, read_manifest
from dae_utils.recipes import CLASSIFIER, GUIDE, get_recipe
from dae_utils.sample_quality import AUTOGUIDANCE, AUTOGUIDANCE_INTERVAL, weights_sha256

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
        ["--record", "--scales", "1", "--guide-epochs", "2"],
        ["--scales", "1", "--guide-epochs", "0"],
        ["--scales", "1", "--guide-epochs", "2", "--guide", str(pretrained_path(GUIDE))],
        ["--scales", "1", "--guide-epochs", "2", "--generator", str(pretrained_path("edm_digits"))],
        ["--guide-epochs", "2"],
        ["--scales", "1", "--guide-dir", "guides"],
        ["--record", "--intervals", "0,5"],
        ["--scales", "1", "--intervals", "5,1"],
        ["--scales", "1", "--intervals", "0.28"],
        ["--scales", "1", "--intervals", "0,inf"],
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
        "record trained guides",
        "zero guide epochs",
        "guide epochs and a guide",
        "guide epochs and a generator",
        "guide epochs without scales",
        "guide folder without guide epochs",
        "record another interval",
        "interval upside down",
        "interval of one bound",
        "interval without a finite top",
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
def test_the_sweep_reports_each_scale_and_interval_and_names_the_closest_and_the_cheapest(tmp_path, capsys):
    output = tmp_path / "sweep.json"
    book = ",".join(map(str, AUTOGUIDANCE_INTERVAL))
    arguments = ["--scales", "0", "2", "--intervals", "all", book, "--samples", "12", "--output", str(output)]
    assert AUTOGUIDANCE_SCALE.main(arguments) == 0
    results = json.loads(output.read_text())
    settings = [(row["scale"], row["interval"], row["samples"]) for row in results]
    book = list(AUTOGUIDANCE_INTERVAL)
    assert settings == [(0.0, None, 12), (0.0, book, 12), (2.0, None, 12), (2.0, book, 12)]
    for row in results:
        low, high = row["class_share_range"]
        assert 0.0 <= row["confident_share"] <= 1.0 and 0.0 <= low <= high <= 1.0
    evaluations = [row["guide_evaluations_per_digit"] for row in results]
    steps = read_manifest(pretrained_path("edm_digits"))["metrics"]["settings"]["steps"]
    assert evaluations[:2] == [0, 0] and 0 < evaluations[3] < evaluations[2] == 2 * steps - 1  # Heun's, then fewer
    lines = capsys.readouterr().out.splitlines()
    best = min(results, key=lambda row: row["validation_frechet_distance"])
    assert lines[-2] == f"lowest validation Frechet distance: {AUTOGUIDANCE_SCALE._setting(best)}"
    cheapest = AUTOGUIDANCE_SCALE.cheapest_interval(results)
    assert cheapest["scale"] == 2.0  # the only scale that runs the guide
    assert (
        lines[-1]
        == f"fewest guide evaluations, no further than guiding at every level: {AUTOGUIDANCE_SCALE._setting(cheapest)}"
    )


def _row(scale, interval, distance, evaluations, **extra):
    return {
        "scale": scale,
        "interval": interval,
        "validation_frechet_distance": distance,
        "guide_evaluations_per_digit": evaluations,
    } | extra


def test_the_cheapest_interval_is_no_further_from_the_validation_images_than_guiding_everywhere():
    rows = [
        _row(0, None, 9.0, 0),  # scale 0 never runs the guide: never the reference
        _row(0, [0.3, 5], 9.0, 0),
        _row(1, None, 6.0, 35),  # the lowest distance guiding everywhere: the reference
        _row(1, [0.3, 5], 6.1, 12),  # cheaper but further: out
        _row(1, [0, 5], 5.9, 20),
        _row(1, [0.3, 8], 6.0, 14),  # as far as guiding everywhere: in, and the cheapest
        _row(2, None, 7.0, 35),
        _row(2, [1, 5], 1.0, 8),  # another scale: out
    ]
    assert AUTOGUIDANCE_SCALE.cheapest_interval(rows) == rows[5]
    assert AUTOGUIDANCE_SCALE.cheapest_interval(rows[3:6]) is None  # nothing guides everywhere
    assert AUTOGUIDANCE_SCALE.cheapest_interval([rows[2], rows[6]]) is None  # no interval swept
    with_guides = [_row(1, None, 6.0, 35, guide_epochs=4), _row(1, [0, 5], 6.0, 20, guide_epochs=2)]
    assert AUTOGUIDANCE_SCALE.cheapest_interval(with_guides) == with_guides[0]  # compared within one guide only


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
    assert row["interval"] == list(AUTOGUIDANCE_INTERVAL)  # the book's, when none is asked for
    network = Autoguided(
        Denoiser(load_model(generator)), Denoiser(load_model(guide)), scale=0.5, interval=AUTOGUIDANCE_INTERVAL
    )
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
    assert autoguided["interval"] == list(AUTOGUIDANCE_INTERVAL) and autoguided["guide_evaluations_per_digit"] > 0
    assert autoguided["guide_weights_sha256"] == weights_sha256(load_model(tmp_path / f"{GUIDE}.keras"))
    assert recorded["rescored"]["autoguided"]["command"] == "python tools/autoguidance_scale.py --record"
    assert AUTOGUIDANCE_SCALE.main(["--record", "--intervals", "all"]) == 0  # the guide at every level, beside it
    both = read_manifest(tmp_path / "edm_digits.keras")
    every_level = both["metrics"][AUTOGUIDANCE_SCALE.EVERY_LEVEL]
    steps = manifest["metrics"]["settings"]["steps"]
    assert every_level["interval"] is None and every_level["guide_evaluations_per_digit"] == 2 * steps - 1
    assert autoguided["guide_evaluations_per_digit"] < 2 * steps - 1
    assert both["metrics"]["autoguided"] == autoguided  # the book's scores are kept
    assert both["rescored"][AUTOGUIDANCE_SCALE.EVERY_LEVEL]["command"].endswith("--record --intervals all")
    del recorded["metrics"]["autoguided"], recorded["rescored"]
    assert recorded == manifest  # nothing else in the manifest changed ...
    after = np.concatenate([w.ravel() for w in load_model(tmp_path / "edm_digits.keras").get_weights()])
    np.testing.assert_array_equal(after, weights)  # ... nor the weights


def test_guide_epochs_trains_each_guide_once_and_sweeps_with_it(tmp_path, capsys, monkeypatch):
    """With training and the sweep replaced by stand-ins: which guides, in which folder, reused."""
    trained, swept = [], []

    def fake_train(recipe, *, work_dir):
        trained.append((recipe.name, recipe.epochs, recipe.filters, work_dir))
        return get_recipe(GUIDE).build(), {"seconds": [1.0] * recipe.epochs}

    def fake_sweep(scales, samples, *, guide, **_):
        swept.append(guide)
        distance = {scale: 10.0 - scale - ("_4_" in guide.name) for scale in scales}
        return [_row(scale, list(AUTOGUIDANCE_INTERVAL), distance[scale], 12) for scale in scales]

    monkeypatch.setattr("dae_utils.recipes.train", fake_train)
    monkeypatch.setattr(AUTOGUIDANCE_SCALE, "sweep", fake_sweep)
    stale_work = tmp_path / f"{GUIDE}_4_epochs_work"  # an interrupted run of another recipe
    stale_work.mkdir()
    (stale_work / "backup.keras").write_bytes(b"")
    arguments = ["--scales", "0.5", "1", "--guide-epochs", "2", "4", "--guide-dir", str(tmp_path)]
    arguments += ["--output", str(tmp_path / "sweep.json")]
    assert AUTOGUIDANCE_SCALE.main(arguments) == 0
    assert [(name, epochs) for name, epochs, _, _ in trained] == [(f"{GUIDE}_2_epochs", 2), (f"{GUIDE}_4_epochs", 4)]
    assert {filters for _, _, filters, _ in trained} == {get_recipe(GUIDE).filters}  # the shipped recipe's width
    assert [work for *_, work in trained] == [tmp_path / f"{GUIDE}_{n}_epochs_work" for n in (2, 4)]
    assert not (stale_work / "backup.keras").exists()  # not resumed
    assert swept == [tmp_path / f"{GUIDE}_{n}_epochs.keras" for n in (2, 4)] and all(path.is_file() for path in swept)
    rows = json.loads((tmp_path / "sweep.json").read_text())
    assert [(row["guide_epochs"], row["scale"]) for row in rows] == [(2, 0.5), (2, 1.0), (4, 0.5), (4, 1.0)]
    last_line, book = capsys.readouterr().out.splitlines()[-1], AUTOGUIDANCE_INTERVAL
    assert last_line == f"lowest validation Frechet distance: the guide of 4 epochs at scale 1.0 in the interval {book}"
    trained.clear()
    assert AUTOGUIDANCE_SCALE.main(arguments) == 0
    assert trained == []  # the guides already there, of today's recipe, are reused
    recipe_file = tmp_path / f"{GUIDE}_2_epochs.recipe.json"
    recipe_file.write_text(recipe_file.read_text().replace('"filters": 16', '"filters": 8'))
    with pytest.raises(ValueError, match=r"Expected .* to be a guide of today's recipe .* Received: another recipe"):
        AUTOGUIDANCE_SCALE.main(arguments)
