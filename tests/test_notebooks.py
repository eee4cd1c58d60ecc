"""The notebook chain: committed clean, parameterised with the paper's settings, executed by
papermill (quick profile), re-checked by nbval, and runnable one notebook at a time."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from dae_utils.config import PAPER

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
QUICK = {"EPOCHS": 2, "TRAIN_SIZE": 6000, "VALIDATION_SIZE": 10, "TEST_SIZE": 20, "LINEAR_TRAIN_SIZE": 300}
# Parameter names in the notebooks -> fields of dae_utils.config.PAPER.
PAPER_FIELDS = {
    "EPOCHS": "epochs",
    "BATCH_SIZE": "batch_size",
    "TRAIN_SIZE": "train_size",
    "NOISE_STD": "noise_std",
    "DROPOUT_RATE": "dropout_rate",
    "SEED": "seed",
    "TRAIN_NOISE_SEED": "train_noise_seed",
    "TEST_NOISE_SEED": "test_noise_seed",
    "EVAL_LIMIT": "eval_limit",
    "FILTERS": "filters",
    "KERNEL_SIZE": "kernel_size",
}


def _parameters(notebook: nbformat.NotebookNode) -> dict:
    cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, "expected exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell may only assign literals"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_the_chain_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert [f"notebooks/{path.stem}" for path in NOTEBOOKS] == [f for f in files if f.startswith("notebooks/")]
    assert [path.stem[:2] for path in NOTEBOOKS[:4]] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_follows_the_format(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata.get("accelerator") == "GPU"  # Colab offers a GPU runtime
    assert "Learning objectives" in notebook.cells[0].source and "**Time:**" in notebook.cells[0].source
    assert "## Exercises" in "".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameter_defaults_are_the_papers_settings(path):
    values = _parameters(nbformat.read(path, as_version=4))
    for name, value in values.items():
        if name in PAPER_FIELDS:
            assert value == getattr(PAPER, PAPER_FIELDS[name]), f"{name} differs from dae_utils.config.PAPER"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_installs_from_the_books_repository(path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    setup = nbformat.read(path, as_version=4).cells[1]
    assert "hide-cell" in setup.metadata["tags"]
    assert f'REPOSITORY = "{config["repository"]["url"]}"' in setup.source
    assert 'find_spec("dae_utils") is None' in setup.source  # never reinstalls over an existing copy


# --------------------------------------------------------------------- executed (quick profile)


def _executed(quick_build: Path) -> list[Path]:
    return sorted((quick_build / "executed" / "notebooks").glob("*.ipynb"))


@pytest.mark.notebooks
def test_the_quick_chain_ran_every_cell_without_error(quick_build):
    executed = _executed(quick_build)
    assert [path.name for path in executed if not path.name.endswith(".partial.ipynb")] == [p.name for p in NOTEBOOKS]
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.execution_count is not None, f"{path.name}: a cell did not run"
                assert not [o for o in cell.outputs if o.output_type == "error"], f"{path.name}: error output"
    training = nbformat.read(quick_build / "executed" / "notebooks" / "03_training.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in training.cells if c.cell_type == "code" for o in c.outputs)
    assert text.count("epoch ") >= QUICK["EPOCHS"], "one log line per epoch"
    assert "\r" not in text and "━" not in text, "no progress bars in the book"
    evaluation = json.loads((quick_build / "artifacts" / "evaluation.json").read_text())
    assert evaluation["source"] == "chapter 3's run" and evaluation["all"]["n"] == 10_000
    draws = evaluation["first_100_noise_draws"]
    assert draws["seeds"] == list(range(100, 130)) and len(draws["psnr"]) == len(draws["ssim"]) == 30
    assert len(set(draws["psnr"])) > 1  # each draw is scored on its own noise


@pytest.mark.notebooks
def test_nbval_reproduces_the_deterministic_outputs(quick_build):
    """Re-execute the executed copies and compare the cells tagged nbval-check-output."""
    executed = [str(p) for p in _executed(quick_build) if not p.name.endswith(".partial.ipynb")]
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--current-env", "-p", "no:cacheprovider", "-q"]
    result = subprocess.run([*command, *executed], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_runs_alone_in_an_empty_folder(path, tmp_path):
    """A student who opens one chapter in Colab: no artifacts of earlier chapters are there."""
    import papermill

    names = _parameters(nbformat.read(path, as_version=4))
    parameters = {key: value for key, value in QUICK.items() if key in names}
    output = tmp_path / path.name
    papermill.execute_notebook(
        str(path), str(output), parameters=parameters, cwd=str(tmp_path), kernel_name="python3", progress_bar=False
    )
    notebook = nbformat.read(output, as_version=4)
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    if path.stem.startswith("04"):
        assert "the shipped checkpoint" in text


@pytest.mark.notebooks
def test_the_chapters_past_the_paper_wrote_their_results(quick_build):
    from dae_utils.variants import VARIANTS

    artifacts = quick_build / "artifacts"
    better = json.loads((artifacts / "better_denoisers.json").read_text())
    assert better["test_size"] == QUICK["TEST_SIZE"] and better["validation_size"] == QUICK["VALIDATION_SIZE"]
    recipes = {v.name for v in VARIANTS if v.dataset == "mnist" and not isinstance(v.noise_std, tuple)}
    assert set(better["results"]) == recipes
    assert all(r["multiply_adds"] > 0 and r["seconds_per_epoch"] > 0 for r in better["results"].values())
    best = json.loads((artifacts / "best_denoiser.json").read_text())
    assert best["recipe"] in recipes and len(best) == 4  # recipe, size, two noise draws
    robustness = json.loads((artifacts / "robustness.json").read_text())
    assert robustness["test_size"] == QUICK["TEST_SIZE"] and len(robustness["corruptions"]) == 3
    assert all(len(curve["psnr"]) == len(robustness["noise_levels"]) for curve in robustness["sweep"].values())
    assert "paper's recipe, trained on Fashion-MNIST" in robustness["fashion_mnist"]
