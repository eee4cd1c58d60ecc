"""tools/check_floors.py: the floors of pyproject.toml become pins of their release series."""

from __future__ import annotations

import pytest
from conftest import load_tool

CHECK_FLOORS = load_tool("check_floors")


def test_each_lower_bound_becomes_its_release_series():
    assert CHECK_FLOORS.floor_pins(["keras>=3.7", "numpy >= 2.0", "pillow>=10", "bm3d>=4.0.1"]) == [
        "keras==3.7.*",
        "numpy==2.0.*",
        "pillow==10.*",
        "bm3d==4.0.1.*",
    ]


@pytest.mark.parametrize("requirement", ["keras", "numpy<3", "scipy>=1.13,<2", "tensorflow==2.18"])
def test_a_requirement_that_is_not_a_plain_floor_is_refused_by_name(requirement):
    with pytest.raises(ValueError, match=r"Expected a requirement of the form 'name>=X\.Y'\. Received: "):
        CHECK_FLOORS.floor_pins([requirement])


def test_every_dependency_of_the_package_has_a_floor_the_check_can_install():
    pins = CHECK_FLOORS.project_floors()
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"keras", "numpy", "tensorflow", "bm3d"} <= names
