import json

import keras
import numpy as np
import pytest

from dae_utils.models import build_paper_autoencoder
from dae_utils.noise import add_gaussian_noise
from dae_utils.training import fit, fit_fresh_noise, fresh_noise_batches, seeded_batches, set_seed


@pytest.fixture
def pairs(rng):
    clean = rng.uniform(size=(48, 8, 8, 1)).astype("float32") * (rng.uniform(size=(48, 8, 8, 1)) > 0.7)
    return add_gaussian_noise(clean, 0.3, seed=0), clean.astype("float32")


def _model(seed=0):
    set_seed(seed)
    model = build_paper_autoencoder(input_shape=(8, 8, 1), filters=4)
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    return model


def _fit(model, pairs, output_dir, epochs=2, **kwargs):
    noisy, clean = pairs
    return fit(
        model, noisy, clean, validation_data=(noisy[:16], clean[:16]), epochs=epochs, batch_size=16, seed=1,
        output_dir=output_dir, **kwargs,
    )  # fmt: skip


def test_fit_writes_only_its_history_and_chooses_nothing(pairs, tmp_path, capsys):
    result = _fit(_model(), pairs, tmp_path)
    assert sorted(result.history) == ["loss", "seconds", "val_loss"]
    assert len(result.history["loss"]) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.json"]  # no model picked by val_loss
    assert not (tmp_path / "backup").exists()  # deleted after a finished run
    assert json.loads((tmp_path / "history.json").read_text())["loss"] == result.history["loss"]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and "val_loss" in lines[0]
    assert result.total_seconds > 0


def test_the_same_seed_gives_the_same_model(pairs, tmp_path):
    first = _fit(_model(3), pairs, tmp_path / "a").model.get_weights()
    second = _fit(_model(3), pairs, tmp_path / "b").model.get_weights()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_interrupted_run_resumes_from_its_backup(pairs, tmp_path, capsys, monkeypatch):
    from dae_utils import training

    original = training._make_callbacks

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(training, "_make_callbacks", lambda d, e: [*original(d, e), Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(), pairs, tmp_path, epochs=3)
    assert (tmp_path / "backup").exists()
    assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == 2

    monkeypatch.setattr(training, "_make_callbacks", original)
    result = _fit(_model(), pairs, tmp_path, epochs=3)
    assert "Resuming" in capsys.readouterr().out
    assert len(result.history["loss"]) == 3  # two before the interruption, one after
    assert not (tmp_path / "backup").exists()


def test_fit_rejects_bad_input(pairs, tmp_path):
    noisy, clean = pairs
    model = _model()
    with pytest.raises(ValueError, match="same shape"):
        fit(
            model,
            noisy,
            clean[:10],
            validation_data=(noisy, clean),
            epochs=1,
            batch_size=8,
            seed=0,
            output_dir=tmp_path,
        )
    with pytest.raises(TypeError, match="validation_data"):
        fit(model, noisy, clean, validation_data=[noisy, clean], epochs=1, batch_size=8, seed=0, output_dir=tmp_path)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, noisy, clean, validation_data=(noisy, clean), epochs=0, batch_size=8, seed=0, output_dir=tmp_path)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit(
            model, noisy * 3, clean, validation_data=(noisy, clean), epochs=1, batch_size=8, seed=0, output_dir=tmp_path
        )
    uncompiled = build_paper_autoencoder(input_shape=(8, 8, 1), filters=4)
    with pytest.raises(ValueError, match="compile"):
        fit(
            uncompiled,
            noisy,
            clean,
            validation_data=(noisy, clean),
            epochs=1,
            batch_size=8,
            seed=0,
            output_dir=tmp_path,
        )


def test_fresh_noise_batches_are_reproducible_and_new_every_epoch(pairs):
    _, clean = pairs
    batches = fresh_noise_batches(clean, noise_std=0.3, batch_size=16, seed=7)
    again = fresh_noise_batches(clean, noise_std=0.3, batch_size=16, seed=7)
    assert len(batches) == 3
    first_noisy, first_clean = batches[0]
    np.testing.assert_array_equal(first_noisy, again[0][0])
    assert first_noisy.shape == first_clean.shape == (16, 8, 8, 1) and first_noisy.dtype == np.float32
    assert 0.0 <= first_noisy.min() and first_noisy.max() <= 1.0
    seen = np.concatenate([batches[index][1] for index in range(len(batches))])
    np.testing.assert_array_equal(np.sort(seen, axis=None), np.sort(clean, axis=None))  # each image once
    batches.set_epoch(1)
    noisy_1, clean_1 = batches[0]
    assert not np.array_equal(clean_1, first_clean)  # reshuffled
    lookup = {image.tobytes(): index for index, image in enumerate(first_clean)}
    shared = [(i, lookup[image.tobytes()]) for i, image in enumerate(clean_1) if image.tobytes() in lookup]
    assert shared and all(not np.array_equal(noisy_1[i], first_noisy[j]) for i, j in shared)  # new noise


def test_a_noise_range_draws_one_std_per_image():
    black = np.zeros((64, 8, 8, 1), dtype="float32")
    noisy, _ = fresh_noise_batches(black, noise_std=(0.1, 0.9), batch_size=64, seed=0)[0]
    # on black, clipped noise is max(0, std * eps): its mean is std / sqrt(2 pi)
    per_image_std = noisy.mean(axis=(1, 2, 3)) * np.sqrt(2 * np.pi)
    assert per_image_std.min() < 0.3 and per_image_std.max() > 0.7


def test_fit_fresh_noise_trains_and_sets_each_epochs_noise(pairs, tmp_path, capsys):
    noisy, clean = pairs
    model = _model()
    result = fit_fresh_noise(
        model, clean, noise_std=0.3, validation_data=(noisy[:16], clean[:16]), epochs=2, batch_size=16, seed=1,
        output_dir=tmp_path,
    )  # fmt: skip
    assert len(result.history["loss"]) == 2
    assert "epoch   2/2" in capsys.readouterr().out
    twin = fit_fresh_noise(
        _model(), clean, noise_std=0.3, validation_data=(noisy[:16], clean[:16]), epochs=2, batch_size=16, seed=1,
        output_dir=tmp_path / "twin",
    )  # fmt: skip
    for a, b in zip(result.model.get_weights(), twin.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("noise_std", "error", "message"),
    [((0.5, 0.1), ValueError, "low <= high"), ((0.1, 0.2, 0.3), ValueError, "pair"), (-0.1, ValueError, "noise_std")],
)
def test_fresh_noise_rejects_bad_noise(pairs, noise_std, error, message):
    with pytest.raises(error, match=message):
        fresh_noise_batches(pairs[1], noise_std=noise_std, batch_size=4, seed=0)


def test_seeded_batches_visit_every_example_once_per_epoch_with_their_own_generator():
    batches = seeded_batches(10, lambda chosen, generator: (chosen, generator.random()), batch_size=4, seed=5)
    assert len(batches) == 3
    for epoch in (0, 1):
        batches.set_epoch(epoch)
        indices = np.concatenate([batches[index][0] for index in range(len(batches))])
        assert sorted(indices.tolist()) == list(range(10))
        assert batches[2][1] == np.random.default_rng([5, epoch, 2]).random()
    with pytest.raises(ValueError, match="batch_size"):
        seeded_batches(10, lambda chosen, generator: chosen, batch_size=0, seed=5)
