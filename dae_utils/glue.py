"""Small bridges between the notebooks and the rendered book."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["glue", "glued"]

#: The last value glued under each name in this Python session (a kernel, in Jupyter or Colab):
#: where the rendered book pastes it into the text, Colab and Jupyter show a placeholder, and
#: :func:`glued` looks the value up.
_GLUED: dict[str, Any] = {}


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book (myst-nb's ``glue``).

    The rendered book pastes glued values into its text, so no number there is
    typed by hand. Where myst-nb is not installed (Colab), the value is only kept
    for :func:`glued`. It returns ``None``, so a ``glue`` call that ends a cell
    displays nothing. NumPy scalars are stored as Python numbers: the book formats a
    glued number by parsing its text, and ``np.float64(20.4)`` does not parse.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Expected `name` to be an identifier-like string. Received: name={name!r}")
    value = _plain(value)
    _GLUED[name] = copy.deepcopy(value)  # what the book shows, even if the caller's object changes later
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


def glued(name: str | None = None) -> Any:
    """The value glued under ``name`` in this session, or all of them (a dict) with no name.

    In Colab or Jupyter the text shows a placeholder (a ``{glue:text}`` role with the value's name)
    where the rendered book shows a number: after running the cells above it,
    ``glued("name")`` gives that number. It is the last value glued under that name in this
    kernel; restart the kernel and run all cells to start afresh.

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: If nothing was glued under ``name`` yet; the message says what to run.
    """
    if name is None:
        return copy.deepcopy(_GLUED)
    if not isinstance(name, str):
        raise TypeError(f"Expected `name` to be a string (a glued value's name). Received: name={name!r}")
    if name not in _GLUED:
        raise ValueError(
            f"Expected the name of a glued value. Received: name={name!r}, which no cell run in this session "
            f"has glued (run the chapter's cells above the text that shows it; {len(_GLUED)} names glued so far)"
        )
    return copy.deepcopy(_GLUED[name])


def _plain(value: Any) -> Any:
    """A NumPy scalar (or 0-d array) as the Python number it holds; anything else unchanged."""
    import numpy as np

    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    return value
