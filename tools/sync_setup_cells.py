"""Write the one setup cell into every notebook, with the repository address of ``_config.yml``.

The address is set in one place, ``_config.yml``'s ``repository.url`` and ``repository.branch``
(the book's "Open in Colab" and repository buttons use them too); the setup cell installs the
package from that branch, or tag. Every notebook's second cell is :func:`setup_source` of it, word
for word; ``tests/test_notebooks.py`` checks that they agree. To pin a course to a release, set
``repository.branch`` to its tag and run this tool.

Usage::

    python tools/sync_setup_cells.py          # rewrite the setup cells
    python tools/sync_setup_cells.py --check  # exit 1 if a notebook's setup cell differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
#: Position of the setup cell: after the title cell.
SETUP_CELL_INDEX = 1


def install_address() -> str:
    """The book's repository at its branch or tag, from ``_config.yml``: ``URL@BRANCH``."""
    repository = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    return f"{repository['url']}@{repository['branch']}"


def setup_source(repository: str) -> str:
    """The setup cell: installs ``dae_utils`` where it is missing (Colab), keeping the installed Keras."""
    return (
        "# Setup: in Colab, install the book's helper package (Colab's own TensorFlow and Keras are kept).\n"
        "import importlib.util\n"
        "import os\n"
        "\n"
        'if importlib.util.find_spec("dae_utils") is None:\n'
        f'    %pip install --quiet "dae-utils @ git+{repository}"\n'
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow\'s start-up messages out of the page\n'
        "%matplotlib inline"
    )


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on a difference")
    args = parser.parse_args()
    expected = setup_source(install_address())
    stale = []
    for path in notebooks():
        notebook = nbformat.read(path, as_version=4)
        cell = notebook.cells[SETUP_CELL_INDEX]
        if cell.source == expected and "hide-cell" in cell.metadata.get("tags", []):
            continue
        stale.append(path.name)
        if not args.check:
            cell.source = expected
            cell.metadata["tags"] = ["hide-cell"]
            nbformat.write(notebook, path)
    verb = "differ" if args.check else "rewritten"
    print(f"setup cells {verb}: {', '.join(stale) or 'none'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
