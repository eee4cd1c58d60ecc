"""dae_utils.widgets: the figure at its defaults where widgets are off, and clear errors."""

from __future__ import annotations

import pytest

from dae_utils import widgets
from dae_utils.widgets import NO_WIDGETS_VARIABLE, interact, widgets_enabled


def draw(level=0.5, index=3):
    return ("drawn", level, index)


def test_the_tests_run_with_widgets_off():
    # conftest sets the variable, so that no notebook executed by a test waits on a widget.
    assert not widgets_enabled()


@pytest.mark.parametrize("value, enabled", [("1", False), ("yes", False), ("0", True), ("", True)])
def test_the_variable_switches_widgets(monkeypatch, value, enabled):
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv(NO_WIDGETS_VARIABLE, value)
    assert widgets_enabled() is enabled


def test_with_widgets_off_the_function_is_drawn_at_its_defaults(monkeypatch):
    monkeypatch.setenv(NO_WIDGETS_VARIABLE, "1")
    assert interact(draw, level=(0.0, 1.0, 0.05), index=(0, 9)) == ("drawn", 0.5, 3)


def test_with_widgets_on_each_control_starts_at_its_default(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    display = pytest.importorskip("IPython.display")
    import numpy as np

    monkeypatch.setenv(NO_WIDGETS_VARIABLE, "0")
    shown = []
    monkeypatch.setattr(display, "display", shown.append)

    def choose(level=0.5, index=3, scale=1.0):
        return level, index, scale

    controls = {"level": (np.float64(0.0), np.float64(1.0), 0.05), "index": (0, 9), "scale": [0.0, 1.0, 3.0]}
    assert interact(choose, **controls) is None
    (widget,) = shown
    sliders = {child.description: child for child in widget.children if hasattr(child, "description")}
    assert isinstance(sliders["level"], ipywidgets.FloatSlider)
    assert (sliders["level"].min, sliders["level"].max, sliders["level"].value) == (0.0, 1.0, 0.5)
    assert isinstance(sliders["index"], ipywidgets.IntSlider) and sliders["index"].value == 3
    assert isinstance(sliders["scale"], ipywidgets.Dropdown) and sliders["scale"].value == 1.0


def test_without_ipywidgets_the_function_is_drawn(monkeypatch):
    monkeypatch.delenv(NO_WIDGETS_VARIABLE, raising=False)
    monkeypatch.setitem(__import__("sys").modules, "ipywidgets", None)  # import raises ImportError
    assert not widgets.widgets_enabled()
    assert interact(draw, index=(0, 9)) == ("drawn", 0.5, 3)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: interact("draw", level=(0, 1)), TypeError, "Expected a callable.*Received: str"),
        (lambda: interact(draw), ValueError, "at least one control"),
        (lambda: interact(draw, size=(0, 1)), ValueError, r"of draw: \['level', 'index'\]. Received: \['size'\]"),
        (lambda: interact(lambda level: level, level=(0, 1)), ValueError, r"without one: \['level'\]"),
        (lambda: interact(draw, level=(0.6, 1.0)), ValueError, r"range \[0.6, 1.0\]. Received: level=0.5"),
        (lambda: interact(draw, index=[0, 1, 2]), ValueError, r"among its choices \[0, 1, 2\]. Received: index=3"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
