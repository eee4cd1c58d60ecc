import json

import keras
import numpy as np
import pytest

from dae_utils.models import build_paper_autoencoder
from dae_utils.noise import add_gaussian_noise
from dae_utils.training import fit, set_seed


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


def test_fit_writes_history_best_and_final_model(pairs, tmp_path, capsys):
    result = _fit(_model(), pairs, tmp_path)
    assert sorted(result.history) == ["loss", "seconds", "val_loss"]
    assert len(result.history["loss"]) == 2
    assert (tmp_path / "model.keras").exists() and (tmp_path / "best.keras").exists()
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
