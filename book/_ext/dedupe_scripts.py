"""Sphinx extension: drop duplicated inline scripts from every page.

sphinx-thebe (loaded by Jupyter Book 1.x) registers its inline configuration script twice, so
each page declares ``const THEBE_JS_URL`` twice and the browser reports a SyntaxError. Keeping
the first copy of each script fixes that without touching the installed packages.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # The copies differ only in `filename` (None in one, "" in the other).
        key = (getattr(script, "filename", script) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Any) -> dict:
    # Early: Sphinx stops calling html-page-context handlers at the first one that returns a value.
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
