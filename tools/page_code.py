"""What the rendered page shows of a notebook's code: the teaching, without the bookkeeping.

The book's prose quotes numbers and sentences that the notebooks hand over with ``glue``. The page
hides those ``glue`` calls (:func:`hide_glue_calls`) and the statements whose only purpose is to compute
what they glue (:func:`hide_glue_feeds`), so a reader sees the computation the chapter teaches and the
outputs it prints or plots. The executed notebook, and the one a reader opens in Colab, keep everything.
``tools/run_chain.py`` applies both when it stages the executed notebooks for Jupyter Book.

Hiding is conservative: a statement that might do anything but compute a value stays, and so does
every definition that shown code might read, including through a function body, a ``del``, a default
argument, an IPython magic line or a cell that does not parse as Python.
"""

from __future__ import annotations

import ast
import re

MAGIC = re.compile(r"^\s*[%!]")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")

#: Calls that only compute a value: built-ins without effects, the package's wording, statistics and
#: verdict helpers (dae_utils.reporting's listed and counted, dae_utils.metrics's summarize,
#: dae_utils.sample_quality's meets_targets), and NumPy reductions.
PURE_FUNCTIONS = frozenset(
    "abs all any bool dict enumerate float format int len list max min range repr reversed round set "
    "sorted str sum tuple zip listed counted summarize meets_targets".split()
)
#: Methods that only compute a value on strings, dicts and arrays.
PURE_METHODS = frozenset(
    "astype capitalize count format index item items join keys lower max mean min replace split std strip "
    "sum title tolist upper values".split()
)
#: The modules whose functions of :data:`PURE_NUMPY`'s names only compute a value.
NUMERIC_MODULES = ("np", "math")
PURE_NUMPY = frozenset(
    "abs all any argmax argmin array asarray bincount ceil count_nonzero flatnonzero floor isclose isfinite "
    "log10 max maximum mean median min minimum nonzero percentile quantile round sort sqrt std sum unique".split()
)
_PURE_NODES = (
    ast.Constant, ast.Name, ast.JoinedStr, ast.FormattedValue, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.Subscript, ast.Slice, ast.Attribute, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.ListComp,
    ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Starred, ast.keyword, ast.Lambda,
    ast.arguments, ast.arg, ast.expr_context, ast.operator, ast.cmpop, ast.boolop, ast.unaryop,
)  # fmt: skip
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _python(source: str) -> tuple[ast.Module | None, set[str]]:
    """The cell's syntax tree, each IPython magic line read as ``pass`` at its indentation (line numbers
    kept), and the identifiers the magic lines mention. A cell magic (``%%``) or a cell that does not
    parse gives no tree, and every identifier in it is mentioned."""
    if source.lstrip().startswith("%%"):
        return None, set(IDENTIFIER.findall(source))
    lines, mentioned = [], set()
    for line in source.splitlines():
        if MAGIC.match(line):
            lines.append(line[: len(line) - len(line.lstrip())] + "pass")
            mentioned |= set(IDENTIFIER.findall(line))
        else:
            lines.append(line)
    try:
        return ast.parse("\n".join(lines)), mentioned
    except SyntaxError:
        return None, set(IDENTIFIER.findall(source))


def _whole_lines(node: ast.stmt, lines: list[str]) -> bool:
    """Whether a statement has its lines to itself (nothing before it on its first line, nothing but a
    comment after it on its last)."""
    before = lines[node.lineno - 1][: node.col_offset]
    after = lines[node.end_lineno - 1][node.end_col_offset :]
    return not before.strip() and (not after.strip() or after.strip().startswith("#"))


def _is_glue(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "glue"


def _removed_glues(tree: ast.Module, lines: list[str]) -> list[ast.Expr]:
    """The ``glue(...)`` statements the page removes: at any depth, each on lines of its own."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and _is_glue(node.value) and _whole_lines(node, lines)
    ]


def _with_comments_above(first: int, lines: list[str]) -> int:
    """The first line of the comment block right above line ``first`` at the same indentation (or ``first``)."""
    indent = len(lines[first]) - len(lines[first].lstrip())
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        if len(lines[first - 1]) - len(lines[first - 1].lstrip()) != indent:
            break
        first -= 1
    return first


def hide_glue_calls(source: str) -> str:
    """The code as the rendered page shows it: without the ``glue(...)`` calls that hand numbers to the
    text (bookkeeping, not teaching), the comment lines right above them, and a loop or block left empty
    by their removal. The executed notebook and the one a reader opens in Colab keep them. If the cell
    is not Python, or the result would not parse, the source is shown unchanged."""
    tree, _ = _python(source)
    if tree is None:
        return source
    lines = source.splitlines()
    drop = set()
    for node in _removed_glues(tree, lines):
        drop |= set(range(_with_comments_above(node.lineno - 1, lines), node.end_lineno))
    kept = [line for number, line in enumerate(lines) if number not in drop]
    # drop block headers ("for ...:", "if ...:") whose body went away entirely
    cleaned = []
    for index, line in enumerate(kept):
        if line.rstrip().endswith(":") and not line.lstrip().startswith("#"):
            indent = len(line) - len(line.lstrip())
            following = next((later for later in kept[index + 1 :] if later.strip()), None)
            if following is None or len(following) - len(following.lstrip()) <= indent:
                continue
        cleaned.append(line)
    result = "\n".join(cleaned).strip("\n")
    return result if _python(result)[0] is not None else source


def _pure_call(call: ast.Call, callable_names: set[str]) -> bool:
    """Whether a call only computes a value (see :func:`_pure`)."""
    function = call.func
    if isinstance(function, ast.Name):
        generator_next = function.id == "next" and call.args and isinstance(call.args[0], ast.GeneratorExp)
        allowed = function.id in callable_names or generator_next
    elif isinstance(function, ast.Attribute):
        on_module = isinstance(function.value, ast.Name) and function.value.id in NUMERIC_MODULES
        allowed = function.attr in (PURE_NUMPY if on_module else PURE_METHODS)
    else:
        allowed = False
    keys = [keyword.value for keyword in call.keywords if keyword.arg == "key"]
    return allowed and all(
        isinstance(key, ast.Lambda) or (isinstance(key, ast.Name) and key.id in callable_names) for key in keys
    )


def _pure(node: ast.AST, local: set[str]) -> bool:
    """Whether an expression only computes a value: literals, names, arithmetic, f-strings, comprehensions
    and calls of :data:`PURE_FUNCTIONS`, :data:`PURE_METHODS`, :data:`PURE_NUMPY` (``np.`` or ``math.``) or of
    the notebook's own pure functions (``local``); ``next`` only of a generator expression, and a ``key=``
    only as a lambda or one of those functions. No assignment expression, no call with an effect."""
    callable_names = PURE_FUNCTIONS | local
    return all(
        _pure_call(inner, callable_names) if isinstance(inner, ast.Call) else isinstance(inner, _PURE_NODES)
        for inner in ast.walk(node)
    )


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
    pure expression, ``name.append``/``extend`` of one, a pure function of the notebook, or an ``if`` or
    ``for`` made only of these (with a pure test or iterable). A ``glue`` call writes nothing (the page
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
    """The notebook's own functions that only compute a value: no decorator, no default argument, a body
    of a docstring, assignments of pure values to its own variables and a pure ``return`` (calls of each
    other allowed)."""
    local: set[str] = set()
    changed = True
    while changed:
        changed = False
        for statement in statements:
            if (
                not isinstance(statement, ast.FunctionDef)
                or statement.decorator_list
                or statement.args.defaults
                or statement.args.kw_defaults
                or statement.name in local
            ):
                continue
            trial = local | {statement.name}
            body_ok = all(
                (isinstance(inner, ast.Return) and inner.value is not None and _pure(inner.value, trial))
                or (isinstance(inner, ast.Expr) and isinstance(inner.value, ast.Constant))  # a docstring
                or (
                    isinstance(inner, ast.Assign)
                    and all(isinstance(target, ast.Name) for target in inner.targets)
                    and _pure(inner.value, trial)
                )
                for inner in statement.body
            )
            if body_ok:
                local, changed = trial, True
    return local


def _scoped(statement: ast.stmt) -> set[int]:
    """The name nodes that belong to an inner scope of a statement: what a function, a lambda or a class
    body reads and writes of its own (its parameters and local variables), a comprehension's own loop
    variables (past its first iterable, which the enclosing scope evaluates), and the reads of a ``for``
    loop's variable in its own body (they read the loop's value, not an earlier one)."""
    scoped = set()
    for node in ast.walk(statement):
        if isinstance(node, _COMPREHENSIONS):
            own = {name.id for generator in node.generators for name in ast.walk(generator.target)
                   if isinstance(name, ast.Name)}  # fmt: skip
            inside = [node.elt] if not isinstance(node, ast.DictComp) else [node.key, node.value]
            for index, generator in enumerate(node.generators):
                inside += [generator.target, *generator.ifs] + ([generator.iter] if index else [])
        elif isinstance(node, ast.For):
            own = {name.id for name in ast.walk(node.target) if isinstance(name, ast.Name)}
            inside = [*node.body, *node.orelse]
            scoped |= {id(name) for part in inside for name in ast.walk(part)
                       if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id in own}  # fmt: skip
            continue
        elif isinstance(node, _SCOPES):
            body = node.body if isinstance(node.body, list) else [node.body]
            own = {name.id for part in body for name in ast.walk(part)
                   if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store)}  # fmt: skip
            if not isinstance(node, ast.ClassDef):
                arguments = node.args
                own |= {arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
                own |= {arg.arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None}
            inside = body
        else:
            continue
        scoped |= {id(name) for part in inside for name in ast.walk(part)
                   if isinstance(name, ast.Name) and name.id in own}  # fmt: skip
    return scoped


def _free_reads(statement: ast.stmt) -> set[str]:
    """The notebook variables that the bodies of the functions and lambdas in a statement read: they are
    read whenever the function is called, which may be anywhere after."""
    scoped = _scoped(statement)
    return {
        name.id
        for node in ast.walk(statement)
        if isinstance(node, _SCOPES)
        for part in (node.body if isinstance(node.body, list) else [node.body])
        for name in ast.walk(part)
        if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and id(name) not in scoped
    }


def _glue_feeding(statement: ast.stmt, removed: set[int]) -> set[int]:
    """The nodes of a statement that the page removes with the ``glue`` calls: the removed calls, and a
    whole loop or ``if`` made only of removed calls (its header goes too)."""

    def only_glues(node: ast.stmt) -> bool:
        if isinstance(node, (ast.For, ast.If)):
            return all(only_glues(inner) for inner in [*node.body, *node.orelse])
        return id(node) in removed

    if only_glues(statement):
        return {id(node) for node in ast.walk(statement)}
    return {id(node) for glue in ast.walk(statement) if id(glue) in removed for node in ast.walk(glue)}


def _reads(statement: ast.stmt, removed: set[int]) -> list[tuple[str, bool]]:
    """Every notebook variable a statement reads, each with whether the read goes with a removed ``glue``
    call (:func:`_glue_feeding`). ``del x`` and ``x += ...`` read x too."""
    feeding = _glue_feeding(statement, removed)
    scoped = _scoped(statement)
    reads = [
        (node.id, id(node) in feeding)
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Load, ast.Del)) and id(node) not in scoped
    ]
    return reads + [
        (node.target.id, False)
        for node in ast.walk(statement)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and id(node.target) not in scoped
    ]


def _stores(statement: ast.stmt) -> set[str]:
    """Every notebook variable a statement writes, by a pure computation or not (a definition's name
    included, not what its body writes for itself)."""
    scoped = _scoped(statement)
    names = {
        node.id
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in scoped
    }
    return names | ({statement.name} if isinstance(statement, (ast.FunctionDef, ast.ClassDef)) else set())


def _hidden_statements(statements: list[ast.stmt], removed: set[int], pinned: set[str], keep: set[int]) -> set[int]:
    """Positions (in execution order) of the statements that only compute what ``glue`` hands to the text.

    Each read of a variable is traced to the statement that last wrote it before (its definition). A
    statement is hidden when it only computes values (:func:`_feed_writes`), every read of what it wrote
    goes with a removed ``glue`` call or is in another hidden statement, it feeds a removed ``glue`` call
    (directly or through hidden statements), and it writes no variable that a shown function reads or
    that ``pinned`` names (magic lines, cells that are not Python). Statements at the positions in
    ``keep`` always show. Start from every candidate and drop the ones that fail, until none does."""
    local = _pure_functions(statements)
    writes = [_feed_writes(statement, local) for statement in statements]
    uses: dict[int, list[tuple[int, bool]]] = {position: [] for position in range(len(statements))}
    last_writer: dict[str, int] = {}
    for position, statement in enumerate(statements):
        for name, for_glue in _reads(statement, removed):
            if name in last_writer:
                uses[last_writer[name]].append((position, for_glue))
        # every write starts a new definition; words.append(...) redefines words too
        for name in _stores(statement) | (writes[position] or set()):
            last_writer[name] = position
    hidden = {p for p, written in enumerate(writes) if written and p not in keep and not written & pinned}
    while True:
        read_by_shown_functions = set().union(
            *(_free_reads(statements[p]) for p in range(len(statements)) if p not in hidden)
        )
        kept = {
            p
            for p in hidden
            if all(for_glue or user in hidden for user, for_glue in uses[p]) and not writes[p] & read_by_shown_functions
        }
        feeding = {p for p in kept if any(for_glue for _, for_glue in uses[p])}
        grown = True
        while grown:
            more = {p for p in kept - feeding if any(user in feeding for user, _ in uses[p])}
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


def hide_glue_feeds(sources: list[str], *, keep: frozenset[int] = frozenset()) -> list[str]:
    """The code cells as the rendered page shows them: without the statements whose only purpose is to
    compute what a ``glue`` call hands to the text (a sentence's wording, a number quoted in the prose),
    since the page hides the ``glue`` calls themselves (:func:`hide_glue_calls`) and would otherwise show
    values nobody uses (see :func:`_hidden_statements`). Only statements of pure computation go (no call
    with an effect: training, predicting, plotting and writing files always stay), never one that shares
    a line with another; the comment lines right above a hidden statement go with it. The cells at the
    indices in ``keep`` (the parameters cell) are shown whole, and so is a cell magic or a cell that would
    not parse afterwards. The executed notebook and the one opened in Colab keep everything."""
    located, removed, pinned = [], set(), set()  # located: (cell, statement, alone on its lines)
    for cell, source in enumerate(sources):
        tree, mentioned = _python(source)
        pinned |= mentioned
        lines = source.splitlines()
        if tree is not None:
            removed |= {id(node) for node in _removed_glues(tree, lines)}
            located += [(cell, statement, _whole_lines(statement, lines)) for statement in tree.body]
    keep_positions = {p for p, (cell, _, alone) in enumerate(located) if cell in keep or not alone}
    hidden = _hidden_statements([statement for _, statement, _ in located], removed, pinned, keep_positions)
    shown = []
    for cell, source in enumerate(sources):
        lines = source.splitlines()
        ranges = [
            (_with_comments_above(statement.lineno - 1, lines), statement.end_lineno)
            for position, (owner, statement, _) in enumerate(located)
            if owner == cell and position in hidden
        ]
        result = _without_lines(source, ranges) if ranges else source
        shown.append(result if result == source or _python(result)[0] is not None else source)
    return shown
