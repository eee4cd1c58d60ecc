"""Result tables of the chapters past the paper: one record per trained recipe, one Markdown table.

Chapters 7 and 8 score shipped checkpoints (see :mod:`dae_utils.recipes`) and show them in the same
table; :func:`recipe_record` gathers what the table and the figures need from a manifest (the
training cost, the validation score) and from scores measured in the notebook (the test score, and
the validation score where a chapter measures it again), and :func:`results_markdown`
renders the records, sorted by validation PSNR. :func:`listed` and :func:`counted` write the small
pieces of prose that chapters build their glued sentences from.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["counted", "listed", "recipe_record", "results_markdown"]

_SPELLED = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")

_HEADER = (
    "| recipe | M multiply-adds | s / epoch | training (min) | validation PSNR | validation SSIM "
    "| test PSNR (dB) | test SSIM |\n|---|---|---|---|---|---|---|---|\n"
)


def recipe_record(title: str, manifest: Mapping[str, Any], scores: Mapping[str, Any]) -> dict:
    """One row of the results table.

    Args:
        title: What the book calls the recipe.
        manifest: The checkpoint's manifest (its cost: multiply-adds, seconds per epoch, training time;
            and its validation scores, those that :func:`~dae_utils.recipes.select` ranks).
        scores: ``{"test": Evaluation}`` measured in the notebook, with ``"validation"`` too where
            the notebook measures it again; without it, the manifest's validation scores are used.

    Returns:
        A dict of plain floats: ``title``, ``multiply_adds``, ``seconds_per_epoch``,
        ``training_minutes``, ``validation_psnr``, ``validation_ssim``, ``psnr``,
        ``psnr_halfwidth`` (of the test PSNR's 95% interval) and ``ssim``.

    Raises:
        KeyError: If ``scores`` lacks ``"test"``.
        ValueError: If neither ``scores`` nor the manifest has a validation score (a run of the
            paper's protocol has none).
    """
    test = scores["test"]
    validation = scores["validation"].to_dict() if "validation" in scores else manifest["metrics"]["validation"]
    if validation is None:
        raise ValueError(
            f"Expected a validation score in scores['validation'] or in the manifest of {title!r}. Received: "
            "neither (a run of the paper's protocol has none: measure one on validation images)"
        )
    return {
        "title": title,
        "multiply_adds": manifest["multiply_adds"],
        "seconds_per_epoch": manifest["seconds_per_epoch"],
        "training_minutes": manifest["training_seconds"] / 60,
        "validation_psnr": validation["psnr"]["mean"],
        "validation_ssim": validation["ssim"]["mean"],
        "psnr": test.psnr.mean,
        "psnr_halfwidth": test.psnr.mean - test.psnr.ci95_low,
        "ssim": test.ssim.mean,
    }


def results_markdown(records: Mapping[str, Mapping[str, Any]]) -> str:
    """The records of :func:`recipe_record` as a Markdown table, worst validation PSNR first."""
    if not records:
        raise ValueError("Expected at least one record. Received: an empty mapping")
    rows = [
        f"| {r['title']} | {r['multiply_adds'] / 1e6:.1f} | {r['seconds_per_epoch']:.0f} "
        f"| {r['training_minutes']:.1f} | {r['validation_psnr']:.2f} | {r['validation_ssim']:.4f} "
        f"| {r['psnr']:.2f} ± {r['psnr_halfwidth']:.2f} | {r['ssim']:.4f} |"
        for r in sorted(records.values(), key=lambda r: r["validation_psnr"])
    ]
    return _HEADER + "\n".join(rows)


def listed(items: Sequence[str]) -> str:
    """``["a"]`` as ``"a"``, ``["a", "b", "c"]`` as ``"a, b and c"``: items for a sentence.

    Raises:
        TypeError: If ``items`` is a string (a list of its characters is rarely meant) or holds a non-string.
        ValueError: If ``items`` is empty.
    """
    if isinstance(items, str):
        raise TypeError(f"Expected a sequence of strings. Received: the string {items!r}; wrap it in a list.")
    items = list(items)
    if not items:
        raise ValueError("Expected at least one item to list. Received: none.")
    strange = [item for item in items if not isinstance(item, str)]
    if strange:
        raise TypeError(f"Expected strings. Received: {strange!r}; format them first.")
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def counted(count: int, singular: str, plural: str) -> str:
    """``count`` things in words: ``counted(1, "method", "methods")`` is ``"one method"``.

    Counts up to twelve are spelled out, so that a sentence may start with one; 0 is ``"none"``,
    which reads with a verb (``counted(0, "has a margin", "have a margin")`` is ``"none have a margin"``);
    larger ones are digits.

    Raises:
        TypeError: If ``count`` is not an integer.
        ValueError: If ``count`` is negative.
    """
    if isinstance(count, bool) or not isinstance(count, numbers.Integral):
        raise TypeError(f"Expected an integer count. Received: {count!r} of type {type(count).__name__}.")
    if count < 0:
        raise ValueError(f"Expected a count of 0 or more. Received: count={count}.")
    number = _SPELLED[count] if count < len(_SPELLED) else str(count)
    return f"{number} {singular if count == 1 else plural}"
