"""What the page shows of the notebooks' code (tools/page_code.py)."""

import pytest
from conftest import load_tool

PAGE_CODE = load_tool("page_code")


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ('x = 1\nglue("x", x)\nprint(x)', "x = 1\nprint(x)"),
        ('glue(\n    "long",\n    f(1, 2),\n)\ny = 2', "y = 2"),
        ("for name, value in pairs:\n    glue(name, value)\nfig = plot()\nfig", "fig = plot()\nfig"),
        ("for name in names:\n    glue(name, 1)\n    print(name)", "for name in names:\n    print(name)"),
        ('%matplotlib inline\nglue("a", 1)', "%matplotlib inline"),
        ('x = 1\n# the share, for the text\nglue("share", x / 2)\nprint(x)', "x = 1\nprint(x)"),
        ('glue("b", "(" + label)\nmodel.fit(x)\nprint(x)', "model.fit(x)\nprint(x)"),  # parentheses in a string
        ("for a, b in pairs: glue(a, b)\nprint(1)", "for a, b in pairs: glue(a, b)\nprint(1)"),  # not on its own line
        ("if ok:\n    x = 1\n    # a note\nglue('x', 1)", "if ok:\n    x = 1\n    # a note"),  # another block's comment
    ],
)
def test_the_page_hides_glue_calls_and_blocks_they_leave_empty(source, shown):
    assert PAGE_CODE.hide_glue_calls(source) == shown


@pytest.mark.parametrize(
    ("sources", "shown"),
    [
        (  # the wording goes, with the comment above it; what is printed stays
            [
                'gap = a - b\n# how to say it\nif gap < 1:\n    phrase = "near"\nelse:\n    phrase = "far"\n'
                'glue("reading", phrase)\nprint(a)'
            ],
            ['glue("reading", phrase)\nprint(a)'],
        ),
        (  # a variable the page shows is kept, and so is what computes it
            ['gap = a - b\nphrase = "near" if gap < 1 else "far"\nglue("reading", phrase)\nprint(gap)'],
            ['gap = a - b\nglue("reading", phrase)\nprint(gap)'],
        ),
        (  # what a loop of glue calls reads is computed for the text too
            ['shares = dict(zip(keys, values))\nfor key, share in shares.items():\n    glue(f"share_{key}", share)'],
            ['for key, share in shares.items():\n    glue(f"share_{key}", share)'],
        ),
        (  # a number computed only for the text goes too, whatever the glue's name
            ['gain = a - b\nglue("gain", gain)\nfor key in keys:\n    glue(f"share_{key}", gain / 2)'],
            ['glue("gain", gain)\nfor key in keys:\n    glue(f"share_{key}", gain / 2)'],
        ),
        (  # across cells: a list built in one cell and joined into a glue in another
            [
                "words = []\nshutil.rmtree(path)",
                'def plural(n):\n    return "s" * (n > 1)\n\n\nwords.append(plural(2))',
                'glue("reading", " ".join(words))',
            ],
            ["shutil.rmtree(path)", "", 'glue("reading", " ".join(words))'],
        ),
        (  # a result nobody reads is not wording: training is never hidden
            ['history = model.fit(x)\nphrase = "done"\nglue("reading", phrase)'],
            ['history = model.fit(x)\nglue("reading", phrase)'],
        ),
        (  # a call with an effect is never hidden, nor is what the shown code reads
            [
                "model = build(x)\nmodel.fit(x, y)\nscore = model.evaluate(x)\nphrase = f'{score:.2f}'\n"
                "ax.set_title(phrase)\nglue('reading', phrase)"
            ],
            [
                "model = build(x)\nmodel.fit(x, y)\nscore = model.evaluate(x)\nphrase = f'{score:.2f}'\n"
                "ax.set_title(phrase)\nglue('reading', phrase)"
            ],
        ),
        (  # an assignment expression, a shared line and a decorated function stay
            [
                "phrase = 'a' if (n := len(items)) else 'b'\nglue('reading', phrase)\nprint(n)",
                "a = compute(); phrase = 'x'\nglue('reading', phrase)",
                "@cache\ndef say(n):\n    return str(n)\n\n\nglue('reading', say(1))",
            ],
            [
                "phrase = 'a' if (n := len(items)) else 'b'\nglue('reading', phrase)\nprint(n)",
                "a = compute(); phrase = 'x'\nglue('reading', phrase)",
                "@cache\ndef say(n):\n    return str(n)\n\n\nglue('reading', say(1))",
            ],
        ),
        (  # a name reused later for something shown: each definition is judged on its own readers
            ["flat = [1]\nphrase = 'flat' if flat else 'not'\nglue('reading', phrase)\nflat = compute()\nprint(flat)"],
            ["glue('reading', phrase)\nflat = compute()\nprint(flat)"],
        ),
        (  # the blank lines between functions that stay are left as they were
            [
                "\n".join(
                    [
                        "def f():",
                        "    return 1",
                        "",
                        "",
                        "phrase = 'x'",
                        "",
                        "",
                        "def g():",
                        "    return f()",
                        "",
                        "",
                        "print(g())",
                        "glue('reading', phrase)",
                    ]
                )
            ],
            ["def f():\n    return 1\n\n\ndef g():\n    return f()\n\n\nprint(g())\nglue('reading', phrase)"],
        ),
        (  # a result with an effect stays even when only glue reads it
            ["score = model.evaluate(x)\nglue('s', score)"],
            ["score = model.evaluate(x)\nglue('s', score)"],
        ),
        (  # a shown function reads the variable when it is called: the definition stays
            ["def show(x):\n    print(x, caption)\n\n\ncaption = f'{n} digits'\nglue('c', caption)\nshow(1)"],
            ["def show(x):\n    print(x, caption)\n\n\ncaption = f'{n} digits'\nglue('c', caption)\nshow(1)"],
        ),
        (  # del reads, a default argument reads, a magic line reads
            [
                "tmp = len(a)\nglue('n', tmp)\ndel tmp",
                "k = len(a)\nglue('k', k)\nf = lambda x, k=k: x + k",
                "size = int(s * 3)\nglue('size', size)\n%timeit f(size)",
            ],
            [
                "tmp = len(a)\nglue('n', tmp)\ndel tmp",
                "k = len(a)\nglue('k', k)\nf = lambda x, k=k: x + k",
                "size = int(s * 3)\nglue('size', size)\n%timeit f(size)",
            ],
        ),
        (  # a glue call inside an expression is shown, and so is what it reads
            ["phrase = 'x'\n[glue(f'p{i}', phrase) for i in range(2)]"],
            ["phrase = 'x'\n[glue(f'p{i}', phrase) for i in range(2)]"],
        ),
        (  # next() of a stream and a pure-looking function with an effect on a global stay
            [
                "first = next(stream)\nglue('f', first)\nprint(next(stream))",
                "log = []\n\n\ndef say(s):\n    log.append(s)\n    return s\n\n\n"
                "phrase = say('hi')\nglue('p', phrase)\nprint(log)",
            ],
            [
                "first = next(stream)\nglue('f', first)\nprint(next(stream))",
                "log = []\n\n\ndef say(s):\n    log.append(s)\n    return s\n\n\n"
                "phrase = say('hi')\nglue('p', phrase)\nprint(log)",
            ],
        ),
        (  # a key= that is not a lambda or a pure function may do anything
            ["best = max(configs, key=train_and_score)\nglue('b', best)"],
            ["best = max(configs, key=train_and_score)\nglue('b', best)"],
        ),
        (  # an augmented total reads its earlier value: all of it goes together
            ["total = 0\nfor x in xs:\n    total += x\nglue('t', total)\nprint(xs)"],
            ["glue('t', total)\nprint(xs)"],
        ),
        (  # a verdict of the targets that only glued words read goes; a table the page prints stays
            [
                "met = meets_targets(scores)\nfor key in keys:\n    glue(key, 'meets' if met[key] else 'misses')\n"
                "print(summarize(scores))"
            ],
            ["for key in keys:\n    glue(key, 'meets' if met[key] else 'misses')\nprint(summarize(scores))"],
        ),
        (  # a cell that does not parse is shown as it is
            ['%time phrase = "x"\nglue("reading", phrase)', "def broken(:"],
            ['%time phrase = "x"\nglue("reading", phrase)', "def broken(:"],
        ),
    ],
)
def test_the_page_hides_the_code_that_only_feeds_glue(sources, shown):
    assert PAGE_CODE.hide_glue_feeds(sources) == shown


def test_the_parameters_cell_is_shown_whole():
    sources = ["n = 3\nglue('n', n)", "phrase = f'{m}'\nglue('p', phrase)"]
    assert PAGE_CODE.hide_glue_feeds(sources, keep=frozenset({0})) == ["n = 3\nglue('n', n)", "glue('p', phrase)"]


def test_a_cell_magic_and_what_it_mentions_are_shown():
    sources = ["path = f'{name}.txt'\nglue('path', path)", "%%writefile {path}\nphrase = 'x'\nglue('p', phrase)"]
    assert PAGE_CODE.hide_glue_feeds(sources) == sources
