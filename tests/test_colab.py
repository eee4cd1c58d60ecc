"""A student in Colab: the package installed from its wheel on top of a Python that holds only
TensorFlow and Keras (no requirements.txt), and each chapter run alone in an empty folder, its
deterministic outputs compared with the chain's by nbval.

:func:`_build_colab` builds the wheel, makes a fresh virtual environment with the TensorFlow and Keras of
``requirements.txt`` (Colab's own come preinstalled the same way) plus ``ipykernel`` (Colab's
kernel), and installs the wheel with its declared dependencies only. Then, and only for the test
run, it adds pytest and nbval. Each chapter's executed copy from the quick chain (papermill, with
the quick profile's parameters injected) is re-executed there by ``pytest --nbval-lax`` in an empty
folder, so nothing of an earlier chapter is there, and the cells tagged ``nbval-check-output``
must print what they printed in the chain (stdout and rich outputs; stderr, which carries
TensorFlow's start-up lines wherever they land, is left out: see :data:`NBVAL_WITHOUT_STDERR`).
Colab has no myst-nb, so ``glue`` stores nothing there: the glued records are removed from the
reference copy first. The chapters run two at a time where there are two cores, like the chain,
each with its share of the cores, the longest first. The environment is built, and the chapters
re-executed, in the background from the moment the tests are collected (``conftest.py``), while
the tests before this module run; each step writes its output to a log beside it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, SCRATCH, background_pool, load_tool, run_logged, start_quick_chain

pytestmark = [pytest.mark.colab, pytest.mark.notebooks]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: What Colab has before the setup cell runs, at the versions this project pins.
PREINSTALLED = ("tensorflow", "keras", "ipykernel")
#: Added after the package, to run the check itself.
TEST_TOOLS = ("pytest", "nbval")
#: Beside each chapter, for nbval: compare the outputs without their stderr streams. TensorFlow
#: 2.21 writes its start-up lines (absl's, before ``absl::InitializeLog``) to the process's stderr
#: whatever ``TF_CPP_MIN_LOG_LEVEL`` says, and the kernel attaches them to whichever cell is running
#: when it reads them, so the same cell has them in one run and not in the next. The book never
#: shows stderr (myst-nb removes it), and a cell that fails still fails.
NBVAL_WITHOUT_STDERR = """\
from nbval import plugin

_compared = plugin.transform_streams_for_comparison


def _without_stderr(outputs):
    return _compared([o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")])


plugin.transform_streams_for_comparison = _without_stderr
"""


def _pins(*names: str) -> list[str]:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    pins = []
    for name in names:
        match = re.search(rf"^{re.escape(name)}==\S+$", text, flags=re.MULTILINE | re.IGNORECASE)
        assert match, f"{name} is not pinned in requirements.txt"
        pins.append(match.group(0))
    return pins


def _build_colab(root: Path) -> dict:
    """Build the emulated Colab in ``root``: its Python, and ``pip list`` as it was before the test
    tools came in. Each step's output is in ``root/logs/``, and in the error if it fails."""
    logs = root / "logs"
    logs.mkdir(parents=True)

    def run(step: str, *command) -> str:
        return run_logged([str(part) for part in command], cwd=root, log=logs / f"{step}.log").stdout

    source, wheels = root / "source", root / "wheels"  # build from a copy: setuptools writes build/ in place
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "dae_utils", source / "dae_utils", ignore=shutil.ignore_patterns("__pycache__"))
    run("wheel", sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, source)
    (wheel,) = wheels.glob("dae_utils-*.whl")
    venv.EnvBuilder(with_pip=True).create(root / "env")
    python = root / "env" / "bin" / "python"

    def install(step: str, *packages) -> None:
        *first, last = _installers(python)
        for installer in first:
            try:
                run(step, *installer, *packages)
                return
            except RuntimeError:  # uv could not (its log, kept, says why): pip, as the Makefile falls back
                step += "-pip"
        run(step, *last, *packages)

    install("preinstalled", *_pins(*PREINSTALLED))
    install("package", wheel)  # the package's own dependencies, nothing more
    listed = run("list", python, "-m", "pip", "list", "--disable-pip-version-check")
    install("test-tools", *_pins(*TEST_TOOLS))
    return {"python": python, "packages": listed.lower(), "root": root}


def _installers(python: Path) -> list[list]:
    """The commands that install into ``python``'s environment, in the order to try them.

    First uv's pip, where the test environment has it (the Makefile installs it): the same packages
    as pip in a fraction of the time, from the cache that installed the test environment, with the
    bytecode compiled as pip does (else each chapter's kernel would compile TensorFlow's again). It
    resolves the wheel's dependencies as Colab's pip would from what they declare, though not by the
    same resolver. Then that environment's own pip, which reads pip's configuration (a local index,
    say) where uv does not."""
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if importlib.util.find_spec("uv") is None:
        return [pip]
    return [[sys.executable, "-m", "uv", "pip", "install", "--quiet", "--compile-bytecode", "--python", python], pip]


#: The environment and the chapters' runs: started by :func:`start_building`, at most once per session.
_BUILD: dict[str, Future] = {}
RUN_CHAIN = load_tool("run_chain")
#: Chapters re-executed at once: as many as the chain runs at once, each with its share of the cores.
CHAPTERS_AT_ONCE = RUN_CHAIN.default_jobs()


def start_building(*, runs: bool = True) -> None:
    """Build the emulated Colab and, with ``runs``, re-execute every chapter there, in the background;
    what is started already is not started again.

    ``conftest.py`` calls it as soon as the session's tests are collected and include these: the
    installs (a minute, mostly one core unpacking wheels) overlap the tests that run first, and the
    chapters start as soon as the environment and the quick chain (``conftest.start_quick_chain``)
    are ready, while the book is rendered and checked. The environment's folder is removed when the
    session ends (``conftest.SCRATCH``)."""
    if "colab" not in _BUILD:
        root = Path(tempfile.mkdtemp(prefix="dae-colab-"))
        SCRATCH.append(root)
        _BUILD["pool"] = background_pool(2, "colab")
        _BUILD["colab"] = _BUILD["pool"].submit(_build_colab, root)
    if runs and "runs" not in _BUILD:
        _BUILD["runs"] = _BUILD["pool"].submit(_run_every_chapter, _BUILD["colab"], start_quick_chain())


@pytest.fixture(scope="session")
def colab() -> dict:
    """The emulated Colab (:func:`_build_colab`)."""
    start_building(runs=False)
    return _BUILD["colab"].result()


def _nbval_command(colab) -> list[str]:
    return [str(colab["python"]), "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q"]


def _run_every_chapter(environment: Future, chain: Future) -> dict[str, subprocess.CompletedProcess]:
    """Every chapter re-executed by nbval in the emulated Colab, each alone in its own empty folder,
    :data:`CHAPTERS_AT_ONCE` at a time; each result's ``stdout`` holds nbval's output and stderr."""
    colab, executed = environment.result(), chain.result() / "executed" / "notebooks"
    command = _nbval_command(colab)

    def run(path):
        folder = colab["root"] / "chapters" / path.stem
        folder.mkdir(parents=True)
        reference = nbformat.read(executed / path.name, as_version=4)
        for cell in reference.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if "scrapbook" not in o.get("metadata", {})]
        nbformat.write(reference, folder / path.name)
        (folder / "conftest.py").write_text(NBVAL_WITHOUT_STDERR, encoding="utf-8")
        threads = RUN_CHAIN.thread_share(CHAPTERS_AT_ONCE)
        return run_logged([*command, path.name], cwd=folder, log=folder / "nbval.log", check=False, environment=threads)

    # The longest first (their time in the chain), so that no long chapter runs alone at the end.
    longest_first = sorted(NOTEBOOKS, key=lambda path: -_seconds_in_the_chain(executed / path.name))
    with ThreadPoolExecutor(max_workers=CHAPTERS_AT_ONCE) as pool:
        return dict(zip((path.stem for path in longest_first), pool.map(run, longest_first), strict=True))


def _seconds_in_the_chain(executed: Path) -> float:
    """How long papermill took to execute the chapter in the chain (0 if it did not record it)."""
    return float(nbformat.read(executed, as_version=4).metadata.get("papermill", {}).get("duration") or 0.0)


@pytest.fixture(scope="session")
def colab_runs(colab) -> dict[str, subprocess.CompletedProcess]:
    """The chapters' runs (:func:`_run_every_chapter`), waited for."""
    start_building()
    return _BUILD["runs"].result()


def test_the_package_brings_no_book_building_tools_into_colab(colab):
    assert "dae-utils" in colab["packages"] or "dae_utils" in colab["packages"]
    for absent in ("papermill", "jupyter-book", "nbval", "myst-nb"):
        assert absent not in colab["packages"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_runs_alone_in_colab_and_reproduces_its_checked_outputs(path, colab_runs):
    result = colab_runs[path.stem]
    assert result.returncode == 0, result.stdout[-6000:]
    assert re.search(r"\b\d+ passed\b", result.stdout) and not re.search(r"\b\d+ failed\b", result.stdout)


@pytest.mark.parametrize("printed, passes", [("as stored", True), ("something else", False)])
def test_nbval_there_ignores_stderr_but_still_compares_what_a_cell_prints(colab, tmp_path, printed, passes):
    """A checked cell that writes to stderr where the stored copy has none still passes; one that
    prints something other than the stored copy still fails."""
    cell = nbformat.v4.new_code_cell(
        f"import sys\nprint({printed!r})\nprint('start-up noise', file=sys.stderr)",
        metadata={"tags": ["nbval-check-output"]},
        outputs=[nbformat.v4.new_output("stream", name="stdout", text="as stored\n")],
        execution_count=1,
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "check.ipynb")
    (tmp_path / "conftest.py").write_text(NBVAL_WITHOUT_STDERR, encoding="utf-8")
    command = [*_nbval_command(colab), "check.ipynb"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (result.returncode == 0) is passes, result.stdout[-2000:]
