"""Shared fixtures: small synthetic images, and paths of the repository."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from dae_utils.widgets import NO_WIDGETS_VARIABLE

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Notebooks executed by the tests (nbval, the emulated Colab) draw each slider's figure at its
# defaults instead of waiting on widgets that no front end answers (see dae_utils.widgets).
os.environ[NO_WIDGETS_VARIABLE] = "1"

ROOT = Path(__file__).resolve().parent.parent
#: The environment of the session's own subprocesses (the chain, the emulated Colab), as it is before
#: any test runs: the background work starts them while tests run, and a test may change
#: ``os.environ`` for a while (``monkeypatch.setenv`` of ``DAE_PRETRAINED_DIR``, say).
SESSION_ENVIRONMENT = dict(os.environ)


#: The heavy work that the notebook tests wait for, started in the background as soon as the tests are
#: chosen (:func:`pytest_collection_finish`; the chain, in a run of the whole suite, before they are
#: collected: :func:`pytest_collection`), so that it overlaps the unit tests: the quick chain here,
#: the emulated Colab in ``tests/test_colab.py``. Each at most once per session.
BACKGROUND: dict[str, Future] = {}
#: Folders the background work made, removed when the session ends.
SCRATCH: list[Path] = []
#: The modules that wait on the background work run last, in this order, so that the others run meanwhile.
LAST_MODULES = ("test_notebooks.py", "test_book.py", "test_colab.py")
_POOLS: list[ThreadPoolExecutor] = []
_CHILDREN: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def background_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A thread pool for background work, shut down (its queued work cancelled) when the session ends."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    _POOLS.append(pool)
    return pool


def run_logged(
    command: list[str], *, cwd: Path, log: Path, check: bool = True, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run one command of the background work and return it with its output (stdout and stderr, also
    written to ``log``).

    It runs with :data:`SESSION_ENVIRONMENT` (updated with ``environment``), in a process group of its
    own, so that the end of the session stops it and its children (:func:`pytest_sessionfinish`)
    instead of waiting for them.

    Raises:
        RuntimeError: With the end of the log, if ``check`` and the command fails, or if the
            session is ending.
    """
    with _LOCK:
        if _STOPPING.is_set():
            raise RuntimeError(f"the test session ended before this ran: {' '.join(map(str, command))}")
        with log.open("w", encoding="utf-8") as handle:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=SESSION_ENVIRONMENT | (environment or {}),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN.add(process)
    try:
        returncode = process.wait()
    finally:
        with _LOCK:
            _CHILDREN.discard(process)
    output = log.read_text(encoding="utf-8", errors="replace")
    if check and returncode != 0:
        tail = "\n".join(output.splitlines()[-60:])
        raise RuntimeError(f"{' '.join(map(str, command))} failed with status {returncode} (its log: {log}):\n{tail}")
    return subprocess.CompletedProcess(command, returncode, stdout=output, stderr="")


def _uses_the_chain(item: pytest.Item) -> bool:
    return bool({"quick_chain", "quick_build"} & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the modules that wait on the background work to the end (a stable sort: each module's
    tests stay together and in order)."""
    items.sort(key=lambda item: (LAST_MODULES.index(item.path.name) + 1) if item.path.name in LAST_MODULES else 0)


def _planning_only(option) -> bool:
    return bool(option.collectonly or getattr(option, "setupplan", False) or getattr(option, "setuponly", False))


def pytest_collection(session: pytest.Session) -> None:
    """Before collecting: a run of the whole suite (``make test``: no paths, and no option that selects
    tests, such as ``-m``, ``-k``, ``--lf``, ``--sw`` or ``--deselect``) will choose the chain's tests,
    so the quick chain starts now and overlaps the collection (the test modules' imports: 19 s in a
    fresh-clone CI run on 2 cores, 8 s with warm caches). Returns nothing: pytest then collects as usual."""
    config, option = session.config, session.config.option
    selecting = ("markexpr", "keyword", "lf", "stepwise", "deselect", "ignore", "ignore_glob")
    if _planning_only(option) or any(getattr(option, name, None) for name in selecting):
        return
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        start_quick_chain()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the tests are chosen: start the quick chain if a chosen test needs it, and the emulated
    Colab's environment and runs if its tests are chosen. Nothing starts when only collecting or
    planning, or when collection failed (the session stops there)."""
    option = session.config.option
    if _planning_only(option):
        return
    if session.testsfailed and not option.continue_on_collection_errors:
        return
    if any(_uses_the_chain(item) for item in session.items):
        start_quick_chain()
    colab = [item for item in session.items if item.get_closest_marker("colab")]
    if colab:
        colab[0].module.start_building(runs=any("colab_runs" in item.fixturenames for item in colab))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop what is still running in the background (a session that ended early: ``-x``, a failure
    in collection, an interrupt) instead of waiting for it, and remove its folders."""
    _STOPPING.set()
    with _LOCK:
        for process in _CHILDREN:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for pool in _POOLS:
        pool.shutdown(wait=True, cancel_futures=True)
    for folder in SCRATCH:
        shutil.rmtree(folder, ignore_errors=True)


def start_quick_chain() -> Future:
    """Execute the chain with the quick profile in the background (``tools/run_chain.py --no-site``),
    unless it is started already; its log goes to ``_build/quick/chain.log``."""
    if "chain" not in BACKGROUND:
        BACKGROUND["chain"] = background_pool(1, "quick-chain").submit(_execute_quick_chain)
    return BACKGROUND["chain"]


def _execute_quick_chain() -> Path:
    build = ROOT / load_tool("run_chain").PROFILES["quick"]["build_dir"]
    build.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "tools" / "run_chain.py"), "--profile", "quick", "--no-site"]
    run_logged(command, cwd=ROOT, log=build / "chain.log")
    return build


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def digits(rng: np.random.Generator) -> np.ndarray:
    """Eight synthetic 28x28 'digits': a black background with a bright random stroke."""
    images = np.zeros((8, 28, 28, 1), dtype=np.float32)
    for image in images:
        row = rng.integers(6, 20)
        image[row : row + 3, 5:23, 0] = rng.uniform(0.6, 1.0)
        image[4:24, row : row + 2, 0] = 1.0
    return images


def load_tool(name: str):
    """Import ``tools/NAME.py`` (the tools are scripts, not a package; they import each other as scripts
    do, from their own folder)."""
    import importlib.util

    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def glued(notebook: Path) -> dict:
    """The values an executed notebook glued (myst-nb's ``glue``), by name, as Python values."""
    import ast

    import nbformat

    values = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            data = output.get("data", {})
            text = data.get("application/papermill.record/text/plain", data.get("text/plain"))
            if name and text is not None:
                try:
                    values[name] = ast.literal_eval(text)
                except (ValueError, SyntaxError):  # not a literal (a figure's repr, say): keep the text
                    values[name] = text
    return values


@pytest.fixture(scope="session")
def quick_chain() -> Path:
    """The chain executed with the quick profile (:func:`start_quick_chain`), once per session.

    Returns the build folder, ``_build/quick``, with the executed notebooks in ``executed/notebooks/``.
    Notebooks whose inputs have not changed are not executed again.
    """
    return start_quick_chain().result()


@pytest.fixture(scope="session")
def quick_build(quick_chain: Path) -> Path:
    """:func:`quick_chain`, then its book rendered (``tools/run_chain.py``; nothing is left to execute):
    the site in ``_build/quick/_build/html/``."""
    command = [sys.executable, str(ROOT / "tools" / "run_chain.py"), "--profile", "quick"]
    subprocess.run(command, cwd=ROOT, env=SESSION_ENVIRONMENT, check=True)
    return quick_chain


def synthetic_split(fit_size: int | None = None) -> dict[str, np.ndarray]:
    """A tiny stand-in for :func:`dae_utils.recipes.load_split`: 96 training images (64 to fit, 32 to
    validate) and 120 test images of horizontal bars, with the book's noise."""
    from dae_utils.config import PAPER
    from dae_utils.noise import add_gaussian_noise

    generator = np.random.default_rng(0)

    def bars(n: int) -> np.ndarray:
        images = np.zeros((n, 28, 28, 1), dtype=np.float32)
        for image, row in zip(images, generator.integers(6, 20, size=n), strict=True):
            image[row : row + 3, 5:23, 0] = 1.0
        return images

    train, test = bars(96), bars(PAPER.eval_limit + 20)
    split = {
        "train_clean": train,
        "train_noisy": add_gaussian_noise(train, seed=PAPER.train_noise_seed),
        "train_labels": np.zeros(len(train), dtype=np.uint8),
        "test_clean": test,
        "test_noisy": add_gaussian_noise(test, seed=PAPER.test_noise_seed),
        "test_labels": np.zeros(len(test), dtype=np.uint8),
        "sha256": "synthetic",
    }
    end = 64 if fit_size is None else min(fit_size, 64)
    for kind in ("clean", "noisy", "labels"):
        split[f"fit_{kind}"], split[f"val_{kind}"] = split[f"train_{kind}"][:end], split[f"train_{kind}"][64:]
    return split


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make :func:`dae_utils.recipes.run` train and score on :func:`synthetic_split` instead of MNIST."""
    monkeypatch.setattr(
        "dae_utils.recipes.load_split", lambda dataset="mnist", *, fit_size=None: synthetic_split(fit_size)
    )
