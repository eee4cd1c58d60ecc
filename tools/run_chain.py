"""Execute the notebook chain with papermill and render it with Jupyter Book.

Usage::

    python tools/run_chain.py --profile paper   # what `make book` runs: site in _build/html
    python tools/run_chain.py --profile quick   # what `make test` runs: site in _build/quick/_build/html
    python tools/run_chain.py --profile paper --student   # `make book-student`: _build/paper/student/_build/html

Steps:

1. Execute every notebook of ``_toc.yml`` with papermill and the profile's parameters, into
   ``<build>/executed/notebooks/``, two at a time on a machine with two cores or more (``--jobs``),
   each with its share of the cores and logging its cells to ``<build>/logs/``. Chapter 4 waits for
   chapter 3's model; the chapters that time their own work run alone in the paper profile. A notebook whose inputs (its
   source, the ``dae_utils`` sources, the parameters, and the inputs of the chapter it needs) have
   not changed since its last execution is not executed again, so a rebuild never retrains
   anything, and editing one chapter re-executes that chapter alone.
2. Stage a copy of the book (``_config.yml``, ``_toc.yml``, ``book/``) with the executed
   notebooks at the same relative paths as the sources (so the Colab buttons point at the
   sources), with papermill's injected-parameters cell folded into the ``parameters`` cell, and
   without the ``glue`` calls and the code that only computes what they glue (the page shows the
   teaching; the notebooks keep everything).
3. Build the staged book with ``jb build -W -n --keep-going`` (warnings are errors).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from page_code import hide_glue_calls, hide_glue_feeds  # tools/, beside this script

from dae_utils.config import QUICK
from dae_utils.widgets import NO_WIDGETS_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
# A cell that hangs fails the build instead of blocking it (chapter 3's training cell, the
# longest, took 14 minutes on 2 CPU cores in the last build, 17 to 19 before the training pipeline lost its stalls).
CELL_TIMEOUT_SECONDS = 3600
#: Chapter 11's Heun steps in the quick profile, also one of the step counts it sweeps there.
QUICK_SAMPLER_STEPS = 6
PROFILES = {
    # The paper's settings are the notebooks' own defaults: nothing to override.
    "paper": {"build_dir": "_build/paper", "site_parent": ".", "parameters": {}, "timed_alone": True},
    "quick": {
        "build_dir": "_build/quick",
        "site_parent": "_build/quick",
        "parameters": {
            "EPOCHS": QUICK.epochs,
            "TRAIN_SIZE": QUICK.train_size,
            "DEMO_SIZE": 500,
            "LOSS_EXERCISE_SIZE": 2500,
            "LOSS_CHECK_SIZE": 2000,
            "VALIDATION_SIZE": 10,
            "TEST_SIZE": 20,
            "LINEAR_TRAIN_SIZE": 300,
            "GAP_IMAGES": 500,
            "COLLAPSE_STEPS": 30,
            "MEMORISATION_EPOCHS": 2,
            # Chapter 6: a few thousand fit images, one epoch per probe.
            "FIT_SIZE": 3000,
            "PROBE_EPOCHS": 1,
            # Part III: a few samples and steps, enough to run every cell.
            "CHECK_SIZE": 200,
            "LANGEVIN_SAMPLES": 10,
            "LANGEVIN_LEVELS": 4,
            "LANGEVIN_STEPS": 3,
            "SAMPLES": 20,
            "SWEEP_SAMPLES": 10,
            "SAMPLER_STEPS": QUICK_SAMPLER_STEPS,
            "STEP_COUNTS": [3, QUICK_SAMPLER_STEPS],
            "GUIDANCE_SCALES": [0.0, 1.0],
            "POSTERIOR_IMAGES": 20,
            "POSTERIOR_SAMPLES": 2,
            "POSTERIOR_STEPS": 10,
            "ARTIFACTS_DIR": "_build/quick/artifacts",
        },
    },
}


def chain_notebooks() -> list[Path]:
    """The notebooks of ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [chapter["file"] for part in toc.get("parts", []) for chapter in part.get("chapters", [])]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def parameter_names(notebook: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters`` cell."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            return set(re.findall(r"^([A-Za-z_]\w*)\s*=", cell.source, flags=re.MULTILINE))
    raise ValueError(f"{notebook.name} has no cell tagged 'parameters'")


def profile_parameters(profile: str, notebook: Path) -> dict:
    """The profile's parameter overrides that this notebook's ``parameters`` cell defines."""
    names = parameter_names(notebook)
    return {key: value for key, value in PROFILES[profile]["parameters"].items() if key in names}


def package_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "dae_utils").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


SOLUTION_START = re.compile(r"^```\{solution-start\}.*?^```[ \t]*$\n?", re.M | re.S)
SOLUTION_END = re.compile(r"^```\{solution-end\}[ \t]*\n```[ \t]*$\n?", re.M)


def strip_gated_solutions(cells: list) -> list:
    """Remove gated solutions (``solution-start`` ... ``solution-end``, which span cells) for the
    student edition. Sphinx-exercise's ``hide_solutions`` removes the ordinary ``solution``
    directives but not the cells between the two gates."""
    kept, inside = [], False
    for cell in cells:
        source = cell.source
        if inside:
            end = SOLUTION_END.search(source) if cell.cell_type == "markdown" else None
            if end is None:
                continue
            inside = False
            source = source[end.end() :]
        start = SOLUTION_START.search(source) if cell.cell_type == "markdown" else None
        if start is not None:
            end = SOLUTION_END.search(source, start.end())
            if end is None:
                inside = True
                source = source[: start.start()]
            else:
                source = source[: start.start()] + source[end.end() :]
        if source.strip() or cell.get("outputs"):  # a code cell shown empty still holds its glued values
            cell.source = source
            kept.append(cell)
    if inside:
        raise ValueError("a solution-start has no matching solution-end")
    return kept


def stage_notebook(executed: Path, staged: Path, parameters: dict, *, student: bool = False) -> None:
    """Copy an executed notebook, folding papermill's injected cell into the parameters cell,
    hiding the code that only feeds ``glue`` (:func:`hide_glue_feeds`) and the ``glue`` calls
    (:func:`hide_glue_calls`) from the page and, for the student
    edition, removing the gated solutions."""
    nb = nbformat.read(executed, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    settings = frozenset(  # a reader changes the parameters cell: it shows every setting
        index
        for index, cell in enumerate(code_cells)
        if {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", []))
    )
    for cell, source in zip(
        code_cells, hide_glue_feeds([cell.source for cell in code_cells], keep=settings), strict=True
    ):
        cell.source = source
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            continue
        if cell.cell_type == "code":
            cell.source = hide_glue_calls(cell.source)
            if not cell.source.strip() and not cell.get("outputs"):
                continue  # a cell that only glued: nothing to show
            if not cell.source.strip():  # its outputs are the glued values the text needs: keep them, show nothing
                cell.metadata["tags"] = [*tags, "remove-input"]
        if "parameters" in tags:
            source = cell.source
            for name, value in parameters.items():
                source = re.sub(
                    rf"^{name}\s*=.*$", f"{name} = {value!r}  # overridden by the build profile", source, flags=re.M
                )
            cell.source = source
        cells.append(cell)
    nb.cells = strip_gated_solutions(cells) if student else cells
    staged.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, staged)


#: Chapters that read what an earlier chapter wrote: chapter 4 evaluates the model chapter 3 trained.
NEEDS = {"04_evaluation": "03_training"}
#: Chapters whose time is measured: 3 times its own training (the seconds per epoch it prints);
#: chapter 11's sampling and scoring has a budget of 4 minutes on 2 cores (issue 15), measured by its
#: time in the log. In the paper profile they run with no other notebook beside them, so that their
#: times are a whole machine's. (The other chapters quote times from the shipped checkpoints' manifests.)
TIMED = ("03_training", "11_generating_digits")


def default_jobs() -> int:
    """Notebooks executed at once: two where there are two cores or more. Much of a chapter is
    single-threaded (a kernel starting, BM3D, SSIM, plotting), so a second notebook fills the gaps."""
    return max(1, min(2, os.cpu_count() or 1))


def _stamps(profile: str) -> list[tuple[Path, dict, str]]:
    """Each notebook with its profile parameters and the digest of its inputs: the package, its own
    source and parameters, and the inputs of the chapter it :data:`NEEDS` (chapter 4 runs again
    when chapter 3 changes; chapter 5 does not)."""
    package = package_digest()
    stamps, by_name = [], {}
    for notebook in chain_notebooks():
        parameters = profile_parameters(profile, notebook)
        digest = hashlib.sha256(package.encode())
        digest.update(notebook.read_bytes())
        digest.update(json.dumps(parameters, sort_keys=True).encode())
        digest.update(by_name.get(NEEDS.get(notebook.stem), "").encode())
        by_name[notebook.stem] = digest.hexdigest()
        stamps.append((notebook, parameters, by_name[notebook.stem]))
    return stamps


#: The environment variables that size a process's compute threads: TensorFlow's two pools, and
#: OpenMP's and OpenBLAS's (NumPy, SciPy).
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_share(at_once: int, *, cores: int | None = None) -> dict[str, str]:
    """The thread settings of a process that runs beside ``at_once - 1`` others like it: the ``cores``
    (default: this machine's) shared out, at least one each, instead of a pool as large as the
    machine in each process.

    Variables already set in ``os.environ`` win. Measured on 2 cores (2026-11-27), the quick chain
    two notebooks at a time (``run_chain.py --profile quick --force``, rendering included), wall
    time and CPU time (user and system) of the whole command: one thread each, 230 s and 393 s;
    TensorFlow's and OpenBLAS's default pools (a pool per core in each), 245 s and 436 s.
    """
    at_once = check_jobs(at_once)
    threads = str(max(1, (cores or os.cpu_count() or 1) // at_once))
    return {name: os.environ.get(name, threads) for name in THREAD_VARIABLES}


def _start(notebook: Path, parameters: dict, partial: Path, log: Path, *, at_once: int) -> subprocess.Popen:
    """Execute one notebook with papermill in its own process, its cell outputs logged to ``log``,
    with its share of the cores (:func:`thread_share`) when it may run beside ``at_once - 1`` others."""
    command = [sys.executable, "-m", "papermill", str(notebook), str(partial), "--cwd", str(ROOT)]
    command += ["--kernel", "python3", "--log-output", "--no-progress-bar", "--request-save-on-cell-execute"]
    command += ["--execution-timeout", str(CELL_TIMEOUT_SECONDS), "-y", json.dumps(parameters)]
    environment = os.environ | thread_share(at_once) if at_once > 1 else None
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as handle:
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT)


@dataclass
class _Job:
    notebook: Path
    parameters: dict
    stamp: str
    output: Path
    log: Path
    process: subprocess.Popen | None = None
    started: float = 0.0

    @property
    def name(self) -> str:
        return self.notebook.stem

    @property
    def partial(self) -> Path:
        return self.output.with_name(self.output.stem + ".partial.ipynb")


def _changed_jobs(profile: str, build: Path, *, force: bool) -> tuple[list[Path], list[_Job]]:
    """Every executed notebook's path, and the jobs of those whose inputs changed since their last run."""
    executed, jobs = [], []
    for notebook, parameters, stamp in _stamps(profile):
        relative = notebook.relative_to(ROOT)
        output = build / "executed" / relative
        executed.append(output)
        if not force and output.exists():
            previous = nbformat.read(output, as_version=4).metadata.get("dae_book", {}).get("inputs_sha256")
            if previous == stamp:
                print(f"[{profile}] {relative}: unchanged since its last execution, not run again")
                continue
        jobs.append(_Job(notebook, parameters, stamp, output, build / "logs" / f"{notebook.stem}.log"))
    return executed, jobs


def _may_start(job: _Job, running: dict[str, _Job], unfinished: set[str], *, jobs: int, alone: set[str]) -> bool:
    if NEEDS.get(job.name) in unfinished or len(running) >= jobs:
        return False
    return not running or (job.name not in alone and not alone.intersection(running))


def in_start_order(jobs: list[_Job]) -> list[_Job]:
    """The :data:`TIMED` chapters first (one by one where they run alone), then the others in reading
    order. In the quick profile chapter 3, which chapter 4 waits for, and chapter 11 are the longest,
    so the chain no longer ends with chapter 11 running beside nothing."""
    return sorted(jobs, key=lambda job: job.name not in TIMED)


def execute_chain(profile: str, *, force: bool = False, jobs: int | None = None) -> list[Path]:
    """Execute the chain's notebooks that changed, ``jobs`` at a time (:func:`default_jobs`).

    A notebook starts once the one it :data:`NEEDS` has finished; the :data:`TIMED` notebooks start
    first, and in the paper profile each runs alone with every core; the others get their share of
    the cores (:func:`thread_share`). Each writes its log to ``<build>/logs/``. A
    notebook that fails leaves its last good executed copy in place; the running ones still finish,
    then the chain stops with the failed notebook's log tail.
    """
    build = ROOT / PROFILES[profile]["build_dir"]
    jobs = check_jobs(default_jobs() if jobs is None else jobs)
    executed, pending = _changed_jobs(profile, build, force=force)
    alone = set(TIMED) if PROFILES[profile].get("timed_alone") else set()
    pending = in_start_order(pending)
    unfinished = {job.name for job in pending}
    running: dict[str, _Job] = {}
    failed: list[_Job] = []
    while (pending and not failed) or running:
        for job in [job for job in pending if not failed]:
            if _may_start(job, running, unfinished, jobs=jobs, alone=alone):
                pending.remove(job)
                shown = job.parameters or "its default (paper) parameters"
                print(f"[{profile}] executing {job.notebook.relative_to(ROOT)} with {shown}", flush=True)
                job.output.parent.mkdir(parents=True, exist_ok=True)
                # A timed chapter runs alone with the whole machine; the others share it.
                at_once = 1 if job.name in alone else jobs
                job.process = _start(job.notebook, job.parameters, job.partial, job.log, at_once=at_once)
                job.started = time.perf_counter()
                running[job.name] = job
        time.sleep(0.5)
        for job in [job for job in running.values() if job.process.poll() is not None]:
            del running[job.name]
            unfinished.discard(job.name)
            if job.process.returncode != 0:
                failed.append(job)
                continue
            nb = nbformat.read(job.partial, as_version=4)
            nb.metadata["dae_book"] = {"inputs_sha256": job.stamp, "profile": profile}
            nbformat.write(nb, job.partial)
            job.partial.replace(job.output)  # only a notebook that ran to the end replaces the last good copy
            seconds = time.perf_counter() - job.started
            print(f"[{profile}] {job.notebook.relative_to(ROOT)} done in {seconds:.0f} s", flush=True)
    for job in failed:
        tail = job.log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print(
            f"[{profile}] {job.name} failed; the end of {job.log.relative_to(ROOT)}:", *tail, sep="\n", file=sys.stderr
        )
    if failed:
        raise SystemExit(f"[{profile}] failed: {', '.join(job.name for job in failed)}")
    return executed


def check_jobs(jobs: int) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"Expected jobs to be a positive integer. Received: jobs={jobs!r}")
    return jobs


def copy_mathjax(target: Path) -> None:
    """Ship MathJax 3 with the site (from the PyPI package django-static-mathjax), so pages
    render formulas offline and load nothing from a CDN."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    es5 = Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "es5"
    target.mkdir(parents=True)
    shutil.copy2(es5 / "tex-mml-chtml.js", target)
    for folder in ("input", "output", "ui", "a11y", "adaptors"):
        if (es5 / folder).exists():
            shutil.copytree(es5 / folder, target / folder)


#: The files of onnxruntime-web (installed by `npm ci` from package-lock.json) that the demos load:
#: the WebAssembly-only build and its loader, and the WebAssembly itself, which is stored gzipped.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs")
ORT_WASM = "ort-wasm-simd-threaded.wasm"


def write_gzipped(source: Path, target_dir: Path) -> Path:
    """Store ``source`` as ``target_dir/<name>.gz`` (no timestamp inside, so the same file gives the
    same bytes). The demos inflate it in the browser (``fetchGzipped`` in demos/runtime.js), so a
    reader downloads a quarter of the runtime from any static server, configured or not."""
    target = target_dir / f"{source.name}.gz"
    with target.open("wb") as handle, gzip.GzipFile("", "wb", compresslevel=9, fileobj=handle, mtime=0) as archive:
        archive.write(source.read_bytes())
    return target


NO_RUNTIME = (
    "The in-page demos need onnxruntime-web from npm: install Node.js 18 or newer with npm "
    "(https://nodejs.org, or `apt-get install nodejs npm`), then run `make book` again."
)


def build_demos(target: Path, build: Path) -> None:
    """Stage the in-page demos under ``target`` (the site's ``demos/``): their scripts from
    ``book/_static/demos``, ONNX Runtime Web's files, the denoisers, the generator and its guide as ONNX
    (exported once per checkpoint into ``<build>/onnx``) with the sampler's constants, and a sprite
    of test digits. Nothing is fetched from another host."""
    from dae_utils.artifacts import pretrained_path, read_json
    from dae_utils.export import BOOK_MODELS, export_book_models, generator_settings, write_digit_sprite

    dist = ROOT / "node_modules" / "onnxruntime-web" / "dist"
    if not dist.is_dir():
        raise SystemExit(NO_RUNTIME)
    shutil.copytree(ROOT / "book" / "_static" / "demos", target)
    (target / "ort").mkdir()
    for name in ORT_FILES:
        shutil.copy2(dist / name, target / "ort" / name)
    write_gzipped(dist / ORT_WASM, target / "ort")
    names = BOOK_MODELS  # the demos' denoisers, generator and guide
    models = build / "onnx"
    index = read_json(models / "models.json") if (models / "models.json").exists() else {}
    current = {name: hashlib.sha256(pretrained_path(name).read_bytes()).hexdigest() for name in names}
    if any(index.get(name, {}).get("checkpoint_sha256") != digest for name, digest in current.items()):
        print(f"exporting {', '.join(names)} to ONNX for the demos", flush=True)
        index = export_book_models(models, names=names)
    (target / "models").mkdir()
    for name in names:
        write_gzipped(models / index[name]["file"], target / "models")
    (target / "models" / "models.json").write_text(
        json.dumps({name: index[name] for name in names}, indent=2), encoding="utf-8"
    )
    (target / "models" / "generator.json").write_text(json.dumps(generator_settings(), indent=2), encoding="utf-8")
    write_digit_sprite(target / "data")


def build_site(profile: str, *, student: bool = False) -> Path:
    settings = PROFILES[profile]
    build = ROOT / settings["build_dir"]
    source = build / ("site-source-student" if student else "site-source")
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    shutil.copy2(ROOT / "_toc.yml", source / "_toc.yml")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    if student:
        config["title"] += " (student edition)"
        config["sphinx"]["config"]["hide_solutions"] = True
    (source / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # Fresh times (shutil.copy, not copytree's copy2): Sphinx re-reads only sources newer than its last
    # read, and a page that pastes values glued in a chapter (the intro, the instructor guide) does not
    # change when the chapter does, so with its old time it would keep showing the old values.
    shutil.copytree(ROOT / "book", source / "book", copy_function=shutil.copy)
    copy_mathjax(source / "_extra" / "mathjax")
    build_demos(source / "_extra" / "demos", build)
    for notebook in chain_notebooks():  # not every file in executed/: a renamed chapter leaves its old copy there
        relative = notebook.relative_to(ROOT)
        stage_notebook(
            build / "executed" / relative, source / relative, profile_parameters(profile, notebook), student=student
        )
    site_parent = ROOT / settings["site_parent"]
    if student:
        site_parent = build / "student"
    command = [str(Path(sys.executable).parent / "jb"), "build", str(source), "--path-output", str(site_parent)]
    command += ["-W", "-n", "--keep-going"]
    subprocess.run(command, check=True, cwd=ROOT)
    return site_parent / "_build" / "html"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="paper")
    parser.add_argument("--force", action="store_true", help="execute every notebook even if unchanged")
    parser.add_argument("--jobs", type=int, help=f"notebooks executed at once (default {default_jobs()})")
    parser.add_argument("--no-site", action="store_true", help="execute only, do not render")
    parser.add_argument("--student", action="store_true", help="render the student edition (no solutions)")
    args = parser.parse_args()
    # The kernels inherit it, and it keeps most of TensorFlow's start-up lines out of the notebooks (the
    # Makefile exports it too). TensorFlow 2.21 still writes a few absl lines to stderr; the Colab check
    # compares outputs without stderr (tests/test_colab.py).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # No one can move a slider here, and executing one can hang the run: draw each at its defaults.
    os.environ[NO_WIDGETS_VARIABLE] = "1"
    started = time.perf_counter()
    execute_chain(args.profile, force=args.force, jobs=args.jobs)
    if not args.no_site:
        html = build_site(args.profile, student=args.student)
        print(f"[{args.profile}] site: {html.relative_to(ROOT)}/index.html")
    print(f"[{args.profile}] finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
