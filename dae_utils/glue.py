"""Small bridges between the notebooks and the rendered book."""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book (myst-nb's ``glue``).

    The rendered book pastes glued values into its text, so no number there is
    typed by hand. Where myst-nb is not installed (Colab), nothing is stored
    and nothing happens. It returns ``None``, so a ``glue`` call that ends a cell
    displays nothing. NumPy scalars are stored as Python numbers: the book formats a
    glued number by parsing its text, and ``np.float64(20.4)`` does not parse.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Expected `name` to be an identifier-like string. Received: name={name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, _plain(value), display=display)


def _plain(value: Any) -> Any:
    """A NumPy scalar (or 0-d array) as the Python number it holds; anything else unchanged."""
    import numpy as np

    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    return value
