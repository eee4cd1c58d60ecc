"""Files that outlive a run: atomic writes, saved models, manifests, shipped checkpoints.

Every file is written to a temporary name in its own folder and then renamed
over the target, so a crash never leaves half a file where a good one was.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PRETRAINED_DIR",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "history_path",
    "load_model",
    "manifest_path",
    "pretrained_dir",
    "pretrained_path",
    "read_json",
    "read_manifest",
    "save_model",
]

#: Where the shipped checkpoints live, inside the installed package.
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, suffix: str = "") -> Path:
    """Write a file through ``write(temporary_path)``, then rename it to ``path``.

    Args:
        path: The file to create or replace.
        write: Called with a temporary path in the same folder; it must create
            the file there.
        suffix: Suffix of the temporary name (Keras wants ``.keras``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(handle)
    temporary = Path(temporary)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_bytes(data))


def atomic_write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n"
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def save_model(model: Any, path: str | os.PathLike) -> Path:
    """Save a Keras model to a ``.keras`` file atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Expected a path ending in `.keras`. Received: path={str(path)!r}")
    return atomic_write(path, model.save, suffix=".keras")


def load_model(path: str | os.PathLike) -> Any:
    """Load a ``.keras`` model in safe mode, without compiling it.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a readable ``.keras`` archive.
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}. Train one first or use a shipped checkpoint.")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"Could not load a Keras model from {path}: {error}") from error


def manifest_path(model_path: str | os.PathLike) -> Path:
    """Return the manifest beside a model: ``name.keras`` -> ``name.json``."""
    return Path(model_path).with_suffix(".json")


def history_path(model_path: str | os.PathLike) -> Path:
    """Return the training history beside a model: ``name.keras`` -> ``name_history.json``."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}_history.json")


def read_json(path: str | os.PathLike) -> dict:
    """Read a JSON file (a manifest, a selection record, a history).

    Raises:
        ValueError: If it cannot be read or parsed; the message names the file.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Could not read {path}: {error}") from error


def read_manifest(model_path: str | os.PathLike) -> dict:
    """Read the JSON manifest beside a saved model."""
    return read_json(manifest_path(model_path))


def pretrained_dir() -> Path:
    """The folder the book loads checkpoints from: ``$DAE_PRETRAINED_DIR`` if set, else :data:`PRETRAINED_DIR`.

    Set the variable to evaluate checkpoints you trained yourself (``make pretrained`` into another
    folder, or ``python -m dae_utils train NAME --output-dir DIR``) with the book's notebooks.
    """
    override = os.environ.get("DAE_PRETRAINED_DIR")
    return Path(override).expanduser() if override else PRETRAINED_DIR


def pretrained_path(name: str, *, directory: str | os.PathLike | None = None) -> Path:
    """Return the checkpoint called ``name``, e.g. ``pretrained_path("paper_autoencoder")``.

    ``name`` is a checkpoint's stem (``NAME.keras``) or a selection record's (``NAME.json`` with
    ``"kind": "selection"``, e.g. ``"best_denoiser"``), which points at the checkpoint it chose.

    Args:
        name: The stem.
        directory: Where to look (default: :func:`pretrained_dir`).

    Raises:
        ValueError: If there is no such checkpoint or selection; the message lists those there are.
    """
    directory = pretrained_dir() if directory is None else Path(directory)
    path = directory / f"{name}.keras"
    record = directory / f"{name}.json"
    if not path.is_file() and record.is_file():
        pointer = read_json(record)
        if pointer.get("kind") == "selection" and (directory / pointer["model"]).is_file():
            return directory / pointer["model"]
    if not path.is_file():
        available = sorted(p.stem for p in directory.glob("*.keras"))
        raise ValueError(
            f"Expected the name of a checkpoint in {directory}, one of {available} (or a selection such as "
            f"'best_denoiser'). Received: name={name!r}. Train it with `python -m dae_utils train {name}`."
        )
    return path
