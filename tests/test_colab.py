"""A student in Colab: the package installed from its wheel on top of a Python that holds only
TensorFlow and Keras (no requirements.txt), and each chapter run alone in an empty folder.

The fixture builds the wheel, makes a fresh virtual environment with the TensorFlow and Keras of
``requirements.txt`` (Colab's own come preinstalled the same way) plus ``ipykernel`` (Colab's
kernel), installs the wheel with its declared dependencies only, and registers that environment as
a Jupyter kernel. Each notebook then runs with the quick profile in an empty folder, so nothing of
an earlier chapter is there: what a student who opens one chapter gets.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, load_tool

pytestmark = [pytest.mark.colab, pytest.mark.notebooks]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "colab-emulation"
#: What Colab has before the setup cell runs, at the versions this project pins.
PREINSTALLED = ("tensorflow", "keras", "ipykernel")


def _pin(name: str) -> str:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(name)}==\S+$", text, flags=re.MULTILINE | re.IGNORECASE)
    assert match, f"{name} is not pinned in requirements.txt"
    return match.group(0)


@pytest.fixture(scope="session")
def colab_kernel(tmp_path_factory) -> Path:
    """A fresh environment with TensorFlow, Keras and the package's wheel; returns its JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("colab")
    source, wheels = root / "source", root / "wheels"  # build from a copy: setuptools writes build/ in place
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "dae_utils", source / "dae_utils", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("dae_utils-*.whl")
    venv.EnvBuilder(with_pip=True).create(root / "env")
    python = root / "env" / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, *(_pin(name) for name in PREINSTALLED)], check=True)
    subprocess.run([*install, str(wheel)], check=True)  # the package's own dependencies, nothing more
    jupyter_path = root / "jupyter"
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
    (jupyter_path / "kernels" / KERNEL).mkdir(parents=True)
    (jupyter_path / "kernels" / KERNEL / "kernel.json").write_text(json.dumps(spec | {"display_name": KERNEL}))
    return jupyter_path


def test_the_emulated_colab_has_no_requirements_txt_packages_beyond_the_declared_ones(colab_kernel):
    python = colab_kernel.parent / "env" / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "list"], capture_output=True, text=True, check=True).stdout
    for absent in ("papermill", "jupyter-book", "nbval", "myst-nb"):
        assert absent not in installed.lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_runs_alone_in_an_empty_folder_in_colab(path, colab_kernel, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("JUPYTER_PATH", str(colab_kernel))
    quick = load_tool("run_chain").PROFILES["quick"]["parameters"]
    names = load_tool("run_chain").parameter_names(path)
    parameters = {key: value for key, value in quick.items() if key in names and key != "ARTIFACTS_DIR"}
    output = tmp_path / path.name
    papermill.execute_notebook(
        str(path), str(output), parameters=parameters, cwd=str(tmp_path), kernel_name=KERNEL, progress_bar=False
    )
    notebook = nbformat.read(output, as_version=4)
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    if path.stem.startswith("04"):
        assert "the shipped checkpoint" in text  # chapter 3's model is not there
