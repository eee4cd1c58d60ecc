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
import ast
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
        if source.strip():
            cell.source = source
            kept.append(cell)
    if inside:
        raise ValueError("a solution-start has no matching solution-end")
    return kept


GLUE_CALL = re.compile(r"^\s*glue\(")


def hide_glue_calls(source: str) -> str:
    """The code as the rendered page shows it: without the ``glue(...)`` calls that hand numbers to the
    text (bookkeeping, not teaching), the comment lines right above them, and a loop or block left empty
    by their removal. The
    executed notebook and the one a reader opens in Colab keep them. If the result would not parse,
    the source is shown unchanged."""
    kept, depth = [], 0
    for line in source.splitlines():
        if depth == 0 and GLUE_CALL.match(line):
            depth = line.count("(") - line.count(")")
            while kept and kept[-1].lstrip().startswith("#"):  # the comment that explained the glued value
                kept.pop()
            continue
        if depth > 0:
            depth += line.count("(") - line.count(")")
            continue
        kept.append(line)
    # drop block headers ("for ...:", "if ...:") whose body went away entirely
    cleaned = []
    for index, line in enumerate(kept):
        if line.rstrip().endswith(":"):
            indent = len(line) - len(line.lstrip())
            following = next((later for later in kept[index + 1 :] if later.strip()), None)
            if following is None or len(following) - len(following.lstrip()) <= indent:
                continue
        cleaned.append(line)
    result = "\n".join(cleaned).strip("\n")
    python = "\n".join(line for line in result.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        ast.parse(python)
    except SyntaxError:
        return source
    return result


def _parsed(source: str) -> ast.Module | None:
    """The cell's syntax tree, with IPython's magic lines blanked (line numbers kept); None if it does not parse."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


#: Calls that only compute a value: built-ins without effects, the package's wording and statistics helpers
#: (dae_utils.reporting's listed and counted, dae_utils.metrics's summarize), and NumPy reductions.
PURE_FUNCTIONS = frozenset(
    "abs all any bool dict enumerate float format int len list max min next range repr reversed round set "
    "sorted str sum tuple zip listed counted summarize".split()
)
PURE_METHODS = frozenset(
    "astype capitalize count format get index item items join keys lower max mean min replace split std strip "
    "sum title tolist upper values".split()
)
PURE_NUMPY = frozenset(  # also the functions of the same name in ``math``
    "abs all any argmax argmin array asarray bincount ceil count_nonzero flatnonzero floor isclose isfinite "
    "log10 max maximum mean median min minimum nonzero percentile quantile round sort sqrt std sum unique".split()
)
_PURE_NODES = (
    ast.Constant, ast.Name, ast.JoinedStr, ast.FormattedValue, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.Subscript, ast.Slice, ast.Attribute, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.ListComp,
    ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Starred, ast.keyword, ast.Lambda,
    ast.arguments, ast.arg, ast.expr_context, ast.operator, ast.cmpop, ast.boolop, ast.unaryop,
)  # fmt: skip


def _pure(node: ast.AST, local: set[str]) -> bool:
    """Whether an expression only computes a value: literals, names, arithmetic, f-strings, comprehensions
    and calls of :data:`PURE_FUNCTIONS`, :data:`PURE_METHODS`, :data:`PURE_NUMPY` (``np.`` or ``math.``) or of
    the notebook's own
    pure functions (``local``). No assignment expression, no call with an effect (``fit``, ``savefig``)."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            function = inner.func
            if isinstance(function, ast.Name):
                if function.id not in PURE_FUNCTIONS | local:
                    return False
            elif not isinstance(function, ast.Attribute):
                return False
            elif isinstance(function.value, ast.Name) and function.value.id in ("np", "math"):
                if function.attr not in PURE_NUMPY:
                    return False
            elif function.attr not in PURE_METHODS:
                return False
        elif not isinstance(inner, _PURE_NODES):
            return False
    return True


def _written(target: ast.AST) -> set[str] | None:
    """The variable an assignment target writes (tuples unpacked; ``x[i]`` writes ``x``); None if a target is
    anything else (an attribute, an item of an expression)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        parts = [_written(part) for part in target.elts]
        return None if None in parts else set().union(*parts)
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and _pure(target.slice, set()):
        return {target.value.id}
    return {target.id} if isinstance(target, ast.Name) else None


def _grown(expression: ast.expr, local: set[str]) -> set[str] | None:
    """The variable that ``name.append(...)`` or ``name[key].extend(...)`` of a pure value grows; nothing for
    a ``glue`` call; None for any other expression statement."""
    if not isinstance(expression, ast.Call):
        return None
    function = expression.func
    if isinstance(function, ast.Name):
        return set() if function.id == "glue" else None
    growth = isinstance(function, ast.Attribute) and function.attr in ("append", "extend")
    grown = _written(function.value) if growth else None  # a list, or a list in a dict: groups[side].append
    return grown if grown is not None and all(_pure(arg, local) for arg in expression.args) else None


def _feed_writes(statement: ast.stmt, local: set[str]) -> set[str] | None:
    """The variables a statement writes, if all it does is compute values into them: an assignment of a
    pure expression, ``name.append``/``extend`` of one, a pure function without decorators, or an ``if``
    or ``for`` made only of these (with a pure test or iterable). A ``glue`` call writes nothing (the page
    hides it anyway). None for anything else."""
    if isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and statement.value is not None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        written = [_written(target) for target in targets]
        return None if None in written or not _pure(statement.value, local) else set().union(*written)
    if isinstance(statement, ast.Expr):
        return _grown(statement.value, local)
    if isinstance(statement, ast.FunctionDef):
        return {statement.name} if statement.name in local else None
    if isinstance(statement, (ast.If, ast.For)):
        head = statement.test if isinstance(statement, ast.If) else statement.iter
        names = _written(statement.target) if isinstance(statement, ast.For) else set()
        for inner in [*statement.body, *statement.orelse]:
            inner_names = _feed_writes(inner, local)
            names = None if names is None or inner_names is None else names | inner_names
        return names if names is not None and _pure(head, local) else None
    return set() if isinstance(statement, ast.Pass) else None


def _pure_functions(statements: list[ast.stmt]) -> set[str]:
    """The notebook's own functions that only compute a value: no decorator, a body of pure assignments
    and a pure ``return`` (calls of each other allowed)."""
    local: set[str] = set()
    changed = True
    while changed:
        changed = False
        for statement in statements:
            if not isinstance(statement, ast.FunctionDef) or statement.decorator_list or statement.name in local:
                continue
            trial = local | {statement.name}
            body_ok = all(
                (isinstance(inner, ast.Return) and inner.value is not None and _pure(inner.value, trial))
                or (isinstance(inner, ast.Expr) and isinstance(inner.value, ast.Constant))  # a docstring
                or (_feed_writes(inner, trial) or set()) != set()
                for inner in statement.body
            )
            if body_ok:
                local, changed = trial, True
    return local


def _scoped(statement: ast.stmt) -> set[int]:
    """The name nodes that belong to an inner scope of a statement: a comprehension's own loop variables, a
    lambda's or a function's parameters (reading or writing them touches no variable of the notebook), and
    the reads of a ``for`` loop's variable in its own body (they read the loop's value, not an earlier one)."""
    scoped = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            own = {name.id for generator in node.generators for name in ast.walk(generator.target)
                   if isinstance(name, ast.Name)}  # fmt: skip
        elif isinstance(node, ast.For):  # the body reads the loop's own variable, not an earlier one
            own = {name.id for name in ast.walk(node.target) if isinstance(name, ast.Name)}
            scoped |= {
                id(name)
                for inner in [*node.body, *node.orelse]
                for name in ast.walk(inner)
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id in own
            }
            continue
        elif isinstance(node, (ast.Lambda, ast.FunctionDef)):
            arguments = node.args
            own = {arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
            own |= {arg.arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None}
        else:
            continue
        scoped |= {id(name) for name in ast.walk(node) if isinstance(name, ast.Name) and name.id in own}
    return scoped


def _only_glues(statement: ast.stmt) -> bool:
    """Whether a statement only calls ``glue`` (a loop or an ``if`` included), as the page removes it."""
    if isinstance(statement, (ast.For, ast.If)):
        return all(_only_glues(inner) for inner in [*statement.body, *statement.orelse])
    return _grown(statement.value, set()) == set() if isinstance(statement, ast.Expr) else False


def _reads(statement: ast.stmt) -> list[tuple[str, bool]]:
    """Every notebook variable a statement reads, each with whether it is read for a ``glue`` call (inside
    one, or anywhere in a loop or ``if`` that only calls ``glue``)."""
    inside = set()
    for call in ast.walk(statement):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "glue":
            inside |= {id(node) for node in ast.walk(call)}
    if _only_glues(statement):
        inside |= {id(node) for node in ast.walk(statement)}
    scoped = _scoped(statement)
    reads = [
        (node.id, id(node) in inside)
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in scoped
    ]
    # ``x += ...`` reads x before it writes it
    return reads + [
        (node.target.id, False)
        for node in ast.walk(statement)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)
    ]


def _stores(statement: ast.stmt) -> set[str]:
    """Every notebook variable a statement writes, by a pure computation or not (a definition's name included)."""
    scoped = _scoped(statement)
    names = {
        node.id
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in scoped
    }
    return names | ({statement.name} if isinstance(statement, (ast.FunctionDef, ast.ClassDef)) else set())


def _hidden_statements(statements: list[ast.stmt]) -> set[int]:
    """Positions (in execution order) of the statements that only compute what ``glue`` hands to the text.

    Each read of a variable is traced to the statement that last wrote it before (its definition). A
    statement is hidden when it only computes values (:func:`_feed_writes`), every read of what it wrote
    is inside a ``glue`` call or in another hidden statement, and it feeds a ``glue`` call (directly or
    through hidden statements). Start from every candidate and drop the ones that fail, until none does."""
    local = _pure_functions(statements)
    writes = [_feed_writes(statement, local) for statement in statements]
    uses: dict[int, list[tuple[int, bool]]] = {position: [] for position in range(len(statements))}
    last_writer: dict[str, int] = {}
    for position, statement in enumerate(statements):
        for name, in_glue in _reads(statement):
            if name in last_writer:
                uses[last_writer[name]].append((position, in_glue))
        # every write starts a new definition; words.append(...) redefines words too
        for name in _stores(statement) | (writes[position] or set()):
            last_writer[name] = position
    hidden = {position for position, written in enumerate(writes) if written}
    while True:
        kept = {p for p in hidden if all(in_glue or user in hidden for user, in_glue in uses[p] if user != p)}
        feeding = {p for p in kept if any(in_glue for _, in_glue in uses[p])}
        grown = True
        while grown:
            more = {p for p in kept - feeding if any(user in feeding for user, _ in uses[p] if user != p)}
            feeding |= more
            grown = bool(more)
        if feeding == hidden:
            return hidden
        hidden = feeding


def _without_lines(source: str, ranges: list[tuple[int, int]]) -> str:
    """``source`` without the given line ranges (0-based, end excluded); where a range goes, the blank lines
    on either side of it are not added up (the larger run is kept)."""
    lines = source.splitlines()
    drop = set()
    for first, end in ranges:
        drop |= set(range(first, end))
        before = 0
        while first - before - 1 >= 0 and not lines[first - before - 1].strip():
            before += 1
        after = 0
        while end + after < len(lines) and not lines[end + after].strip() and end + after not in drop:
            after += 1
        drop |= set(range(end, end + min(before, after)))
    return "\n".join(line for number, line in enumerate(lines) if number not in drop).strip("\n")


def hide_glue_feeds(sources: list[str]) -> list[str]:
    """The code cells as the rendered page shows them: without the statements whose only purpose is to
    compute what a ``glue`` call hands to the text (a sentence's wording, a number quoted in the prose),
    since the page hides the ``glue`` calls themselves (:func:`hide_glue_calls`) and would otherwise show
    values nobody uses (see :func:`_hidden_statements`). Only statements of pure computation go (no call
    with an effect: training, predicting, plotting and writing files always stay), never one that shares
    a line with another; the comment lines right above a hidden statement go with it. A cell that would
    not parse afterwards is shown unchanged. The executed notebook and the one opened in Colab keep all."""
    trees = [_parsed(source) for source in sources]
    located = []  # (cell, statement) in execution order
    for cell, tree in enumerate(trees):
        body = tree.body if tree is not None else []
        shared = {
            id(statement)
            for statement in body
            for other in body
            if other is not statement and other.lineno <= statement.end_lineno and statement.lineno <= other.end_lineno
        }
        located += [(cell, statement, id(statement) in shared) for statement in body]
    hidden = _hidden_statements([statement for _, statement, _ in located])
    shown = []
    for cell, source in enumerate(sources):
        lines = source.splitlines()
        ranges = []
        for position, (owner, statement, shares_a_line) in enumerate(located):
            if owner != cell or position not in hidden or shares_a_line:
                continue
            first = statement.lineno - 1
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1
            ranges.append((first, statement.end_lineno))
        result = _without_lines(source, ranges) if ranges else source
        shown.append(result if result == source or _parsed(result) is not None else source)
    return shown


def stage_notebook(executed: Path, staged: Path, parameters: dict, *, student: bool = False) -> None:
    """Copy an executed notebook, folding papermill's injected cell into the parameters cell,
    hiding the code that only feeds ``glue`` (:func:`hide_glue_feeds`) and the ``glue`` calls
    (:func:`hide_glue_calls`) from the page and, for the student
    edition, removing the gated solutions."""
    nb = nbformat.read(executed, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell, source in zip(code_cells, hide_glue_feeds([cell.source for cell in code_cells]), strict=True):
        if not {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", [])):
            cell.source = source  # a reader changes the parameters cell: it shows every setting
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
    ``book/_static/demos``, ONNX Runtime Web's files, the denoisers and the generator as ONNX
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
    names = BOOK_MODELS  # the demos' denoisers and generator
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
    shutil.copytree(ROOT / "book", source / "book")
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
