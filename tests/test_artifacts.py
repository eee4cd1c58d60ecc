import json

import pytest

from dae_utils.artifacts import (
    PRETRAINED_DIR,
    atomic_write,
    atomic_write_json,
    load_model,
    manifest_path,
    pretrained_dir,
    pretrained_path,
    read_manifest,
    save_model,
)


def test_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_json(target, {"good": True})

    def crash(temporary):
        temporary.write_text("half a fil")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, crash)
    assert json.loads(target.read_text()) == {"good": True}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_json_writes_numpy_values(tmp_path):
    import numpy as np

    atomic_write_json(tmp_path / "x.json", {"mean": np.float32(1.5), "values": np.arange(3)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"mean": 1.5, "values": [0, 1, 2]}


def test_save_model_needs_a_keras_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(object(), tmp_path / "model.h5")


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "broken.keras").write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="Could not load"):
        load_model(tmp_path / "broken.keras")


def test_manifest_beside_the_model(tmp_path):
    model = tmp_path / "m.keras"
    assert manifest_path(model) == tmp_path / "m.json"
    with pytest.raises(ValueError, match="manifest"):
        read_manifest(model)
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ValueError, match="manifest"):
        read_manifest(model)


def test_pretrained_path_names_what_ships():
    assert pretrained_path("paper_autoencoder").name == "paper_autoencoder.keras"
    with pytest.raises(ValueError, match="paper_autoencoder"):
        pretrained_path("no_such_model")


def test_dae_pretrained_dir_points_the_book_at_other_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("DAE_PRETRAINED_DIR", str(tmp_path))
    assert pretrained_dir() == tmp_path
    with pytest.raises(ValueError, match=r"one of \[\]"):
        pretrained_path("paper_autoencoder")
    monkeypatch.delenv("DAE_PRETRAINED_DIR")
    assert pretrained_dir() == PRETRAINED_DIR
