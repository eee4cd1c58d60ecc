"""Install the oldest releases that ``pyproject.toml`` allows and run the unit tests on them.

Usage::

    python tools/check_floors.py   # what `make test-floors` runs

Every ``name>=X.Y`` of the package's dependencies (and of its ``tensorflow`` extra) becomes
``name==X.Y.*``: the floor's release series, with its bug fixes. They go into a fresh virtual
environment at ``_build/floors/venv`` with pytest, and the unit tests of the package's modules
(``tests/test_<module>.py``, ``make test-fast``'s selection: no real data, no notebooks) run there
against the checkout's ``dae_utils``. A floor that is wrong fails here, not on a reader's machine.
Needs network access to the package index.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9]+(?:\.[0-9]+)*)\s*$")
#: pytest for the run; JAX's floor comes with it where a unit test needs a second backend.
TEST_TOOLS = ("pytest",)
UNIT_TESTS = "not slow and not notebooks and not colab"


def floor_pins(requirements: list[str]) -> list[str]:
    """``name>=X.Y`` -> ``name==X.Y.*`` for each requirement.

    Raises:
        ValueError: For a requirement that is not a plain lower bound (nothing else is checked).
    """
    pins = []
    for requirement in requirements:
        match = FLOOR.match(requirement.split(";")[0])
        if match is None:
            raise ValueError(f"Expected a requirement of the form 'name>=X.Y'. Received: {requirement!r}")
        name, version = match.groups()
        pins.append(f"{name}=={version}.*")
    return pins


def project_floors() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return floor_pins([*project["dependencies"], *project["optional-dependencies"]["tensorflow"]])


def main() -> int:
    environment = ROOT / "_build" / "floors" / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    python = str(environment / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    pins = project_floors()
    print("floors:", " ".join(pins), flush=True)
    subprocess.run([*pip, *pins, *TEST_TOOLS], check=True)
    listed = subprocess.run([python, "-m", "pip", "list"], capture_output=True, text=True, check=True).stdout
    print("installed:", ", ".join(line.split()[0] + " " + line.split()[1] for line in listed.splitlines()[2:]))
    modules = sorted(path.stem for path in (ROOT / "dae_utils").glob("[!_]*.py"))
    tests = [str(path) for module in modules if (path := ROOT / "tests" / f"test_{module}.py").exists()]
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", UNIT_TESTS, *tests]
    return subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
