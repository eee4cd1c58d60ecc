"""Sliders over a figure where a person is at the notebook; the figure alone where no one is.

A notebook executed without a front end (papermill, nbval, ``make book``) cannot move a slider,
and executing :func:`ipywidgets.interact` there can block the executor for good: the kernel waits
on widget messages that no front end answers (jupyter/nbclient#312, nteract/papermill#723). The
book's builds and tests therefore set the environment variable :data:`NO_WIDGETS_VARIABLE`, and
:func:`interact` then draws the figure once, at the function's default arguments.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

__all__ = ["NO_WIDGETS_VARIABLE", "interact", "widgets_enabled"]

#: Set it to ``1`` to draw every interactive figure once, at its defaults, without widgets.
NO_WIDGETS_VARIABLE = "DAE_NO_WIDGETS"


def widgets_enabled() -> bool:
    """Whether :func:`interact` shows widgets: ipywidgets is installed and
    :data:`NO_WIDGETS_VARIABLE` is unset, empty or ``0``."""
    if os.environ.get(NO_WIDGETS_VARIABLE, "").strip() not in ("", "0"):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def interact(function: Callable[..., Any], /, **controls: Any) -> Any:
    """Show ``function``'s output with one control per keyword, or its output at the defaults.

    Args:
        function: Draws one state, for example a :class:`matplotlib.figure.Figure`. Every
            controlled parameter needs a default, which is the control's initial value.
        **controls: One control per parameter, in :func:`ipywidgets.interact`'s abbreviations:
            ``(min, max)`` or ``(min, max, step)`` for a slider (integer or float, as the
            numbers are), a list for a choice among its items, or a widget.

    Returns:
        ``function()``, the output at the defaults, where widgets are off (see
        :func:`widgets_enabled`); otherwise ``None``, after displaying the widgets.

    Raises:
        TypeError: If ``function`` is not callable.
        ValueError: If no control is given, a control names no parameter of ``function``, a
            controlled parameter has no default, or a default lies outside its slider's range or
            is not one of its choices (ipywidgets would silently start elsewhere).
    """
    if not callable(function):
        raise TypeError(f"Expected a callable that draws one state. Received: {type(function).__name__}.")
    if not controls:
        raise ValueError("Expected at least one control, e.g. interact(draw, level=(0.0, 1.0, 0.05)). Received: none.")
    name = getattr(function, "__name__", repr(function))
    parameters = inspect.signature(function).parameters
    unknown = sorted(set(controls) - set(parameters))
    if unknown:
        raise ValueError(
            f"Expected controls named after parameters of {name}: {list(parameters)}. Received: {unknown}."
        )
    no_default = [key for key in controls if parameters[key].default is inspect.Parameter.empty]
    if no_default:
        raise ValueError(
            f"Expected a default for every controlled parameter (it is the control's initial value). "
            f"Received parameters without one: {no_default}."
        )
    for key, control in controls.items():
        _check_default(key, parameters[key].default, control)
    if not widgets_enabled():
        return function()
    import ipywidgets
    from IPython.display import display

    display(ipywidgets.interactive(function, **controls))
    return None


def _check_default(key: str, default: Any, control: Any) -> None:
    """The default must be a state the control can show: inside a slider's range, among a list's choices."""
    if isinstance(control, tuple) and len(control) in (2, 3):
        low, high = control[0], control[1]
        if not low <= default <= high:
            raise ValueError(
                f"Expected the default of {key} inside its slider's range [{low}, {high}]. Received: {key}={default!r}."
            )
    elif isinstance(control, list) and default not in control:
        raise ValueError(f"Expected the default of {key} among its choices {control}. Received: {key}={default!r}.")
