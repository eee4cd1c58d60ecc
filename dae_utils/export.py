"""The shipped models as ONNX files, for ONNX Runtime (in Python, and in the browser for the live book).

:func:`export_onnx` converts one checkpoint with Keras's own exporter
(``model.export(path, format="onnx")``, which uses ``tf2onnx`` on the TensorFlow backend) and
writes it atomically. :func:`export_book_models` converts the models the book's pages run
(:data:`BOOK_MODELS`) into one folder, with ``models.json`` listing each file, the checkpoint it
came from and its inputs. The files are build outputs (``python -m dae_utils export``), not
committed; ``tests/test_export.py`` checks that ONNX Runtime reproduces Keras on 100 test images.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from dae_utils.artifacts import atomic_write, atomic_write_json, load_model, pretrained_path
from dae_utils.recipes import GUIDE

__all__ = [
    "BOOK_MODELS",
    "DEMO_DIGITS",
    "DEMO_GENERATOR",
    "DEMO_GUIDE",
    "DEMO_MODELS",
    "export_book_models",
    "export_onnx",
    "generator_settings",
    "onnx_session",
    "write_digit_sprite",
]

#: The denoisers offered by the in-page demos (``book/_static/demos/denoise.js``).
DEMO_MODELS = ("paper_autoencoder", "unet", "best_denoiser")
#: The generator sampled by chapter 11's demo (``book/_static/demos/generate.js``).
DEMO_GENERATOR = "edm_digits"
#: The guide that autoguides the demo's digits when no digit is asked for (:data:`~dae_utils.recipes.GUIDE`).
DEMO_GUIDE = GUIDE
#: Checkpoints (or selections) exported for the book's pages: the paper's model, the U-Net, the
#: best denoiser, and Part III's generator and its guide.
BOOK_MODELS = (*DEMO_MODELS, DEMO_GENERATOR, DEMO_GUIDE)
#: Test digits shipped with the site for the demos to pick from.
DEMO_DIGITS = 300
_SPRITE_COLUMNS = 20


def _example_inputs(model: Any) -> list[np.ndarray]:
    """One all-zero example per input, to trace the model before export (Keras needs a call)."""
    examples = []
    for tensor in model.inputs:
        shape = [1 if size is None else size for size in tensor.shape]
        examples.append(np.zeros(shape, dtype=str(tensor.dtype)))
    return examples


def export_onnx(model: Any, path: str | Path) -> Path:
    """Write ``model`` (a :class:`keras.Model`, or a ``.keras`` path) to ``path`` as ONNX, atomically.

    Returns:
        ``path``.

    Raises:
        ValueError: If ``path`` does not end in ``.onnx``.
    """
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"Expected a path ending in `.onnx`. Received: path={str(path)!r}")
    if isinstance(model, (str, Path)):
        model = load_model(model)
    examples = _example_inputs(model)
    model.predict_on_batch(examples[0] if len(examples) == 1 else tuple(examples))  # Keras exports called models
    return atomic_write(
        path, lambda temporary: model.export(str(temporary), format="onnx", verbose=False), suffix=".onnx"
    )


def onnx_session(path: str | Path) -> Any:
    """An :class:`onnxruntime.InferenceSession` on the CPU for an exported file."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def export_book_models(output_dir: str | Path, *, names: tuple[str, ...] = BOOK_MODELS) -> dict:
    """Export the book's models into ``output_dir`` and write ``models.json`` describing them.

    Returns:
        The description: name -> ``{"file", "checkpoint", "checkpoint_sha256", "inputs", "outputs"}``.
    """
    output_dir = Path(output_dir)
    described = {}
    for name in names:
        checkpoint = pretrained_path(name)
        onnx_path = export_onnx(checkpoint, output_dir / f"{name}.onnx")
        session = onnx_session(onnx_path)
        described[name] = {
            "file": onnx_path.name,
            "checkpoint": checkpoint.name,
            "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
            "inputs": {i.name: [d if isinstance(d, int) else None for d in i.shape] for i in session.get_inputs()},
            "outputs": [o.name for o in session.get_outputs()],
            "bytes": onnx_path.stat().st_size,
        }
    atomic_write_json(output_dir / "models.json", described)
    return described


def write_digit_sprite(output_dir: str | Path, *, count: int = DEMO_DIGITS) -> dict:
    """Write the first ``count`` MNIST test digits as one PNG sprite for the in-page demos.

    ``digits.png`` holds the digits in rows of 20 (8-bit grey, exactly MNIST's values), and
    ``digits.json`` their number, the layout and their labels.

    Returns:
        The index written to ``digits.json``.
    """
    from dae_utils._validation import check_positive_int
    from dae_utils.data import load_mnist
    from dae_utils.imageio import write_grey_png

    count = check_positive_int(count, name="count")
    _, (images, labels) = load_mnist()
    if count > len(images):
        raise ValueError(f"Expected at most {len(images)} digits (the test set). Received: count={count}")
    side = images.shape[1]
    rows = -(-count // _SPRITE_COLUMNS)
    sprite = np.zeros((rows * side, _SPRITE_COLUMNS * side), dtype=np.float32)
    for number in range(count):
        row, column = divmod(number, _SPRITE_COLUMNS)
        sprite[row * side : (row + 1) * side, column * side : (column + 1) * side] = images[number, ..., 0]
    output_dir = Path(output_dir)
    write_grey_png(output_dir / "digits.png", sprite)
    index = {"count": count, "columns": _SPRITE_COLUMNS, "side": side, "labels": labels[:count].tolist()}
    atomic_write_json(output_dir / "digits.json", index)
    return index


def generator_settings() -> dict:
    """The constants chapter 11's in-page sampler needs, from the package (written once, here):
    EDM's preconditioning and noise levels, the null label, and the book's default steps, guidance
    (for a digit asked for) and autoguidance (for any digit, with the guide's file and the noise
    levels where it acts)."""
    from dae_utils.generative import NULL_LABEL, SIGMA_DATA
    from dae_utils.sample_quality import AUTOGUIDANCE, AUTOGUIDANCE_INTERVAL, DEFAULT_GUIDANCE, HEUN_STEPS
    from dae_utils.sampling import RHO, SIGMA_MAX, SIGMA_MIN

    return {
        "file": f"{DEMO_GENERATOR}.onnx",
        "guide": f"{DEMO_GUIDE}.onnx",
        "sigmaData": SIGMA_DATA,
        "sigmaMax": SIGMA_MAX,
        "sigmaMin": SIGMA_MIN,
        "rho": RHO,
        "nullLabel": NULL_LABEL,
        "steps": HEUN_STEPS,
        "guidance": DEFAULT_GUIDANCE,
        "autoguidance": AUTOGUIDANCE,
        "autoguidanceInterval": list(AUTOGUIDANCE_INTERVAL),
    }
