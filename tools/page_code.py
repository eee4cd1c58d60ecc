"""What the rendered page shows of a notebook's code: the teaching, without the bookkeeping.

The book's prose quotes numbers and sentences that the notebooks hand over with ``glue``. The page
hides those ``glue`` calls (:func:`hide_glue_calls`) and the statements whose only purpose is to compute
what they glue (:func:`hide_glue_feeds`), so a reader sees the computation the chapter teaches and the
outputs it prints or plots. The executed notebook, and the one a reader opens in Colab, keep everything.
``tools/run_chain.py`` applies both when it stages the executed notebooks for Jupyter Book.
"""

from __future__ import annotations

import ast
import re

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
