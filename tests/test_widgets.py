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


def test_with_widgets_on_the_controls_reach_ipywidgets(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setenv(NO_WIDGETS_VARIABLE, "0")
    received = {}
    monkeypatch.setattr(ipywidgets, "interact", lambda function, **controls: received.update(controls))
    assert interact(draw, level=(0.0, 1.0, 0.05)) is None
    assert received == {"level": (0.0, 1.0, 0.05)}


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
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
