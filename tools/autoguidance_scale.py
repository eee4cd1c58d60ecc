"""Which autoguidance scale and interval? Sweep Part III's generator autoguided by its guide; record the book's.

Autoguidance (Karras et al., 2024; :class:`dae_utils.generative.Autoguided`) steers the shipped
``edm_digits`` away from the errors of ``edm_digits_guide``, the same recipe at half the width and
an eighth of the epochs. For each scale (and guidance interval) asked for, this draws unconditional
digits (the "no label" token, Heun at the manifest's steps, from the manifest's seed) and prints the
share that the shipped
classifier labels with confidence of at least :data:`~dae_utils.sample_quality.CONFIDENCE`, the
range of the class shares, and the Frechet distance to the *validation* images. The book's scale,
:data:`~dae_utils.sample_quality.AUTOGUIDANCE`, is the swept scale with the lowest distance: the
scale is chosen on how close the digits come to real ones, not on the confident share (a target),
and no test image is used.

``--record`` then scores the shipped pair at the book's scale and interval on the manifest's settings
(:func:`~dae_utils.sample_quality.score_autoguided`, the function :func:`dae_utils.recipes.run`
calls when it trains a generator) and writes the result into the generator's manifest as
``metrics.autoguided``, with the command and the time under ``rescored``: the checkpoint trained
before its guide existed, and its weights are not touched. ``--record --intervals all`` scores the
same pair with the guide at every noise level and keeps it beside, as ``metrics.autoguided_every_level``
(:data:`EVERY_LEVEL`), for the book to show what the interval changes.

Usage::

    python tools/autoguidance_scale.py --guide-epochs 2 4 8 --scales 0.5 1 1.5 2 --seed 1 --intervals all  # CPU: 50 min
    python tools/autoguidance_scale.py --scales 1 --intervals all 0,5.42 0.28,80 0.28,8.5 0.28,5.42 1,5.42 \
        0.28,2.9 --seed 1                                                        # a CPU: about 12 minutes
    python tools/autoguidance_scale.py --scales 0.5 1 1.5 2 --samples 1000       # a CPU: about 7 minutes
    python tools/autoguidance_scale.py --scales 1 --samples 100                   # a CPU: under a minute
    python tools/autoguidance_scale.py --record                                   # a CPU: about 18 minutes
    python tools/autoguidance_scale.py --record --intervals all                   # a CPU: about 22 minutes
    KERAS_BACKEND=jax python tools/autoguidance_scale.py --scales 1 --samples 10000 --seed 1 \
        --sampler ancestral --steps 64 --generator RUN_own_guide.keras --guide RUN_guide.keras  # a GPU

Every sweep and ``--record`` guide only at the noise levels of the book's interval,
:data:`~dae_utils.sample_quality.AUTOGUIDANCE_INTERVAL`, unless ``--intervals`` asks for others
(``all``: every level; ``LOW,HIGH``: where ``LOW < sigma <= HIGH``). Every study below but the
interval's own guided at every level, as every autoguided score did before the interval was chosen:
to repeat one, add ``--intervals all``. ``--guide-epochs N ...``
chooses the guide's training length with the scale: it trains the shipped
guide's recipe for each N epochs (:func:`dae_utils.recipes.train`, kept in ``--guide-dir``, reused if
there) and sweeps the scales with each; the pair with the lowest validation distance wins.

How weak a guide, and which scale (this book's 2-core CPU, TensorFlow, 2026-11-28, the shipped
generator, 1,000 digits per point from ``--seed 1``, so that the manifest's digits, from seed 42,
play no part in the choice; confident share, class shares, validation Frechet distance):

=====  =======================  =======================  =======================  =======================
guide  scale 0.5                scale 1                  scale 1.5                scale 2
=====  =======================  =======================  =======================  =======================
2 ep.  92.1%, 7.4-12.9%, 8.75   94.3%, 7.1-14.0%, 9.36   95.1%, 7.1-14.9%, 13.29  95.6%, 6.2-16.2%, 17.79
4 ep.  92.1%, 8.5-11.9%, 7.64   94.3%, 7.9-12.6%, 6.24   94.7%, 8.0-12.8%, 8.00   95.8%, 7.6-13.0%, 10.85
8 ep.  91.2%, 8.1-13.0%, 8.74   92.9%, 7.8-13.3%, 6.99   94.6%, 8.0-14.2%, 8.72   95.4%, 7.5-15.1%, 12.58
=====  =======================  =======================  =======================  =======================

(the guides of 2, 4 and 8 epochs are a sixteenth, an eighth and a quarter of the generator's 32; the
8-epoch guide was the one shipped before; the 4-epoch one at scale 0.75 gave 93.9%, 8.1-12.1%, 6.27).
The guide of 4 epochs at scale 1 comes closest to the validation images, so
:func:`dae_utils.recipes.guide_of` divides the epochs by 8 and the book's scale stays 1. The 2- and
4-epoch guides give higher confident shares than the 8-epoch one at every scale, and the 2-epoch
guide does it by unbalancing the classes (one of them at 14.0% at scale 1, its distance the worst): a
guide too weak steers away from more than the generator's errors. Two standard errors of the
difference of two shares of 1,000 digits are about 2.2 points, so the 4- and 8-epoch guides' 1.4
points at scale 1 are within the noise of independent draws (these share their starting noise, which
narrows it by an amount this sweep does not measure), and their distances' gap (6.24 against 6.99: 0.75)
is of the size by which the 8-epoch pair's own distance moved between two starting noises (0.42 at
scale 1, 1.12 at scale 2: seed 42, below, against seed 1). The choice is the best of this sweep, not
a difference it resolves; the manifest's 10,000 digits measure the result. The guides' weights
(:func:`~dae_utils.sample_quality.weights_sha256`): 2 epochs ``cac0a4d0...``, 4 epochs ``05a93876...``
(the shipped one, retrained by ``python -m dae_utils train edm_digits_guide``: the same weights), 8
epochs ``0aea6d6e...`` (the one shipped before, which the study swept as it was). ``--record`` with the
4-epoch guide, guiding at every level (same machine and day, 10,000 digits from the manifest's
starting noise, seed 42):
93.72% confidently classified (95% interval 93.23-94.18%; 92.77% with the 8-epoch guide, 85.78%
without a guide), classes 8.4-11.6% (8.4-12.0%), Frechet distance to the test images 4.02 (4.28;
15.09), 104.0 s per 1,000 digits: closer to real digits and more often legible, but still below 95%.
The stochastic sampler with that pair (``--scales 1 --seed 1 --sampler ancestral --steps 64``, the
same 1,000 starting points as the table's): 95.8% confident, classes 7.4-13.3%, validation distance
9.20 against Heun's 6.24 (the table's 4-epoch row, scale 1): more legible digits, further from real
ones, so the distance keeps Heun.

Where the guide acts (same machine and day, the shipped pair at scale 1, 1,000 digits per interval from
``--seed 1``, the second command above; the guide guides where ``LOW < sigma <= HIGH``, and the
bounds sit between the levels that Heun's 18 steps visit, 5.32, 3.26, 1.92, 1.09, 0.59 and 0.30
between 0.28 and 5.42; confident share, class shares, validation Frechet distance, evaluations of the
guide per digit, seconds per 1,000 digits):

============  =========  =========  ========  =====  =========
interval      confident  classes    distance  guide  per 1,000
============  =========  =========  ========  =====  =========
every level   94.3%      7.9-12.6%  6.24      35     97 s
(0, 5.42]     94.8%      8.4-12.0%  6.18      22     80 s
(0.28, 80]    94.2%      8.2-12.5%  6.30      25     91 s
(0.28, 8.5]   94.6%      8.2-12.2%  6.31      14     78 s
(0.28, 5.42]  94.9%      8.4-12.0%  6.20      12     81 s
(1, 5.42]     94.5%      8.3-12.0%  6.28      8      74 s
(0.28, 2.9]   89.5%      8.2-12.1%  7.44      8      77 s
============  =========  =========  ========  =====  =========

Guiding everywhere, the first row, is the sweep of the guide-length study above (the same digits, to the
last one: 94.3%, 6.24). Cutting the guide above 5.42, or below 0.28 or 1, moves the distance by at most
0.07, less than a different starting noise moved it (0.42, above), and the confident share by at most
0.6 points, well within the 2.2 points of noise of a difference of two such shares. Cutting it above 2.9
as well (dropping the levels 3.26 and 5.32) drops the share to 89.5% and raises the distance to 7.44:
those levels carry most of what the guide does, presumably because a digit's shape is decided there (no
interval holding only them was swept). Kynkaanniemi et al. (2024) found classifier-free guidance harmful
at the highest levels, where it narrows the samples' variety; for autoguidance at this scale, on these
images, cutting those levels is not resolved from noise either way. The rule, set down after these rows
were measured (it weighs the distance and the cost, not the confident share, a target): of the intervals
whose validation distance is no larger than guiding everywhere (same guide and scale), the one that runs
the guide least often (:func:`cheapest_interval`, printed by the sweep). That is (0.28, 5.42]:
:data:`~dae_utils.sample_quality.AUTOGUIDANCE_INTERVAL`. The next cheaper one, (1, 5.42], is out by 0.05
of distance, a gap this sweep does not resolve: the rule decides on the noise there. The sweep's claim
for the interval is the cost it saves at no loss it can measure, not a better distance; the manifest's
10,000 digits, below, measure more finely. With it at larger scales (``--scales 1.5 2 --intervals
0.28,5.42 --seed 1``): scale 1.5: 94.8%, 7.7-12.2%, 7.95; scale 2: 95.2%, 7.4-12.6%, 11.09, against 6.20
at scale 1, so the scale stays 1.

``--record`` with it (10,000 digits, seed 42): 93.21% confidently classified, classes 8.6-11.4%, Frechet
distance to the test images 3.33, 12 evaluations of the guide per digit, 81.3 s per 1,000 digits.
``--record --intervals all`` right after (the same digits with the guide at every level, kept in the
manifest beside it): 93.72% (the record of the earlier day, to the digit), classes 8.4-11.6%, 4.02, 35
evaluations, 95.9 s (104.0 s that earlier day). The interval's digits come closer to the test images
(3.33 against 4.02, from the same starting noise) and are made in 15% less time (its guide adds 9% to
the generator's multiply-adds, against 25% at every level); their confident share is 0.5 points lower, a
difference that two independent sets of 10,000 digits would not resolve (each share's 95% interval is
about 0.5 points either side; these two share their starting noise, which narrows the noise of the
difference by an amount not measured here). Still below 95%.

Before the guide's length was chosen (the same machine and day, the 8-epoch guide then shipped, 1,000 digits per scale
from the manifest's seed; confident share, class shares, Frechet distance to the validation images,
seconds per 1,000 digits): scale 0.5: 90.5%, 8.7-11.1%, 8.75, 90 s; scale 1: 92.6%, 8.8-12.3%, 7.41, 88 s;
scale 1.5: 94.3%, 7.8-13.3%, 8.88, 88 s; scale 2: 94.7%, 8.5-13.7%, 11.46, 89 s. The confident share
keeps rising with the scale, while the distance to real digits is lowest at 1 and the class shares
spread as the scale grows: past 1 the guide buys legible digits at the cost of variety, so the book's
scale was 1. That sweep started from the manifest's seed, so its 1,000 digits were the first 1,000 of
the 10,000 that ``--record`` then scored (no test image either way; the study above has a seed of its
own, which keeps the choice and the report apart).
``--record`` at scale 1 with that guide (same machine and day, 10,000 digits from the manifest's
starting noise): 92.77% confidently classified (85.78% without the guide), classes 8.4-12.0%, Frechet distance to
the test images 4.28 (15.09 without the guide; floor 1.46), 92.0 s per 1,000 digits (63.0 s).

Another pair, another sampler (H200, JAX, 2026-11-28, ``XLA_FLAGS=--xla_gpu_deterministic_ops=true``,
10,000 digits per setting from ``--seed 1``, which the manifests' 10,000 digits (seed 42) do not
share). The pair that ``tools/generator_budget.py --epochs 30 --batch-size 64 --label-dropout 0.85
--p-mean 0.6 --own-guide`` trained (``--generator``, ``--guide``; its guide then trained a quarter of
the epochs, 7, as :func:`~dae_utils.recipes.guide_of` did before the study above: today the same
command trains an eighth), Heun at 18 steps: scale 0.5:
91.98% confident, classes 8.6-11.5%, validation Frechet distance 4.07; **scale 1: 93.81%,
8.7-11.5%, 3.36**; 1.5: 94.83%, 8.6-11.5%, 4.40; 2: 95.53%, 8.4-11.6%, 6.13. The distance chooses
scale 1 again, and only a scale past it (chosen by the target, not by the distance) crosses 95%.
With the ancestral sampler at 64 steps and scale 1 (``--sampler ancestral --steps 64``), that pair
gives 94.69% (classes 8.8-12.0%, distance 3.33: no worse than Heun's 3.36), and the shipped pair
(with the 8-epoch guide then shipped) 93.94% (8.5-11.8%, 3.81). The best of these, a recipe that fits
the CPU's 2.5 hours, a guide of its own, the distance's scale and the stochastic sampler, measures
94.69%: below 95%, but its 95% interval (94.2-95.1%) holds 95%, so one run of 10,000 digits does not
settle which side it is on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def sweep(
    scales: list[float],
    samples: int,
    *,
    generator: Path | None = None,
    guide: Path | None = None,
    seed: int | None = None,
    sampler: str = "heun",
    steps: int | None = None,
    intervals: list[tuple[float, float] | None] | None = None,
) -> list[dict]:
    """Confident share, class-share range and validation Frechet distance at each scale and guidance
    interval (``None``: every noise level; the default: the book's,
    :data:`~dae_utils.sample_quality.AUTOGUIDANCE_INTERVAL`), for the shipped pair or another
    (``generator``, ``guide``: ``.keras`` files, say a study's from ``tools/generator_budget.py
    --own-guide``), from ``seed`` (default: the shipped manifest's), with ``sampler`` ("heun" or
    "ancestral") at ``steps`` (default: the shipped manifest's Heun steps)."""
    from dae_utils.artifacts import load_model, pretrained_path, read_manifest
    from dae_utils.generative import Autoguided, Denoiser
    from dae_utils.recipes import CLASSIFIER, GUIDE, load_split
    from dae_utils.sample_quality import (
        AUTOGUIDANCE_INTERVAL,
        CONFIDENCE,
        class_shares,
        classify,
        features,
        frechet_distance,
    )
    from dae_utils.sampling import ancestral_sample, heun_sample

    settings = read_manifest(pretrained_path("edm_digits"))["metrics"]["settings"]
    seed = settings["seed"] if seed is None else seed
    steps = settings["steps"] if steps is None else steps
    sample = {"heun": heun_sample, "ancestral": ancestral_sample}[sampler]
    denoiser = Denoiser(load_model(generator or pretrained_path("edm_digits")))
    guide = Denoiser(load_model(guide or pretrained_path(GUIDE)))
    classifier = load_model(pretrained_path(CLASSIFIER))
    validation_features = features(classifier, load_split("mnist")["val_clean"])
    results = []
    for scale, interval in itertools.product(scales, [AUTOGUIDANCE_INTERVAL] if intervals is None else intervals):
        network = Autoguided(denoiser, guide, scale=scale, interval=interval)
        guide_evaluations = guide.evaluations
        started = time.perf_counter()
        digits = sample(network, count=samples, steps=steps, seed=seed)
        seconds = time.perf_counter() - started
        probabilities = classify(classifier, digits)
        shares = class_shares(probabilities)
        results.append(
            {
                "scale": scale,
                "interval": None if network.interval is None else list(network.interval),
                "guide_evaluations_per_digit": (guide.evaluations - guide_evaluations) / samples,
                "samples": samples,
                "seed": seed,
                "sampler": sampler,
                "steps": steps,
                "confident_share": float(np.mean(probabilities.max(axis=1) >= CONFIDENCE)),
                "class_share_range": [min(shares), max(shares)],
                "validation_frechet_distance": frechet_distance(features(classifier, digits), validation_features),
                "seconds_per_1000": round(1000 * seconds / samples, 1),
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def train_guides(epoch_counts: list[int], output_dir: Path) -> dict[int, Path]:
    """The shipped generator's guide trained for each of ``epoch_counts`` (its recipe otherwise, by
    :func:`dae_utils.recipes.train`), saved as ``output_dir / edm_digits_guide_N_epochs.keras`` with
    its recipe beside it (``.recipe.json``). A guide already there is reused only if its recipe is
    today's, and an interrupted one resumes from its work folder beside it (emptied first if it was
    left by another recipe). Raises ValueError for a guide there of another recipe."""
    from dataclasses import replace

    from dae_utils.artifacts import atomic_write_json, read_json, save_model
    from dae_utils.recipes import GUIDE, get_recipe, train

    paths = {}
    for epochs in epoch_counts:
        recipe = replace(get_recipe(GUIDE), name=f"{GUIDE}_{epochs}_epochs", epochs=epochs)
        path = output_dir / f"{recipe.name}.keras"
        recipe_path, work_dir = path.with_suffix(".recipe.json"), output_dir / f"{recipe.name}_work"
        if path.is_file():
            saved = read_json(recipe_path) if recipe_path.is_file() else None
            if saved != recipe.to_dict():
                raise ValueError(
                    f"Expected {path} to be a guide of today's recipe ({recipe_path.name} beside it). Received: "
                    f"{'no recipe' if saved is None else 'another recipe'}; delete it (or choose another "
                    "--guide-dir) to train it again"
                )
        else:
            work_recipe = work_dir / "recipe.json"
            if work_dir.is_dir() and (not work_recipe.is_file() or read_json(work_recipe) != recipe.to_dict()):
                shutil.rmtree(work_dir)  # an interrupted run of another recipe: do not resume it
            work_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(work_recipe, recipe.to_dict())
            model, history = train(recipe, work_dir=work_dir)
            save_model(model, path)
            atomic_write_json(recipe_path, recipe.to_dict())
            print(json.dumps({"guide_epochs": epochs, "training_seconds": round(sum(history["seconds"]), 1)}))
        paths[epochs] = path
    return paths


#: Where ``--record --intervals all`` keeps the scores of the guide at every noise level, beside the
#: book's (``metrics.autoguided``), so that the book can show what the interval changed.
EVERY_LEVEL = "autoguided_every_level"


def record(command: str, *, every_level: bool = False) -> dict:
    """Score the shipped pair at the book's scale and interval (or, ``every_level``, with the guide at
    every noise level) and write it into the generator's manifest (``metrics.autoguided``, or
    :data:`EVERY_LEVEL`)."""
    from dae_utils.artifacts import atomic_write_json, load_model, manifest_path, pretrained_path, read_manifest
    from dae_utils.recipes import CLASSIFIER, GUIDE, load_split
    from dae_utils.sample_quality import score_autoguided

    path = pretrained_path("edm_digits")
    manifest = read_manifest(path)
    settings = manifest["metrics"]["settings"]
    scores = score_autoguided(
        load_model(path),
        load_model(pretrained_path(GUIDE)),
        load_model(pretrained_path(CLASSIFIER)),
        load_split("mnist"),
        seed=settings["seed"],
        samples=settings["samples"],
        steps=settings["steps"],
        **({"interval": None} if every_level else {}),
    )
    key = EVERY_LEVEL if every_level else "autoguided"
    manifest["metrics"][key] = scores
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest.setdefault("rescored", {})[key] = {"command": command, "created": created}
    atomic_write_json(manifest_path(path), manifest)
    return scores


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="*", default=[], help="autoguidance scales to sweep")
    parser.add_argument("--samples", type=int, default=1000, help="digits per scale (default: 1000)")
    parser.add_argument("--record", action="store_true", help="score the book's scale and interval into the manifest")
    parser.add_argument("--output", type=Path, help="also write the sweep as JSON here")
    parser.add_argument("--generator", type=Path, help="sweep this generator (.keras) instead of the shipped one")
    parser.add_argument("--guide", type=Path, help="guided by this guide (.keras) instead of the shipped one")
    parser.add_argument("--seed", type=int, help="the starting noise's seed (default: the shipped manifest's)")
    parser.add_argument("--sampler", choices=["heun", "ancestral"], help="the sampler (default: heun)")
    parser.add_argument("--steps", type=int, help="the sampler's steps (default: the shipped manifest's Heun steps)")
    parser.add_argument(
        "--intervals",
        type=_interval,
        nargs="+",
        help="guidance intervals to sweep, each LOW,HIGH (guide where LOW < sigma <= HIGH) or 'all' "
        "(every noise level); default: the book's",
    )
    parser.add_argument(
        "--guide-epochs",
        type=int,
        nargs="+",
        help="train the shipped guide's recipe for each of these epoch counts and sweep the scales with each",
    )
    parser.add_argument(
        "--guide-dir",
        type=Path,
        help="where --guide-epochs keeps its guides (default: _build/autoguidance_scale)",
    )
    return parser


def _interval(text: str) -> tuple[float, float] | None:
    """``--intervals``' values: 'all' (None) or LOW,HIGH, checked as ``Autoguided`` checks them."""
    from dae_utils.generative import check_guidance_interval

    if text == "all":
        return None
    try:
        return check_guidance_interval(tuple(float(bound) for bound in text.split(",")))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"Expected 'all' or LOW,HIGH with 0 <= LOW < HIGH, both finite. Received: {text!r}"
        ) from error


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse options that cannot go together or cannot be run (``parser.error`` exits)."""
    if not (args.scales or args.record):
        parser.error("Expected --scales or --record. Received: neither")
    if args.guide_epochs is not None:
        _check_guide_epochs(parser, args)
    elif args.guide_dir is not None:
        parser.error(f"Expected --guide-dir with --guide-epochs only. Received: guide_dir={args.guide_dir}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"Expected --steps >= 1. Received: steps={args.steps}")
    if args.samples < 1 or any(not np.isfinite(scale) or scale < 0 for scale in args.scales):
        parser.error(f"Expected --samples >= 1 and scales >= 0. Received: samples={args.samples}, scales={args.scales}")
    for option, path in (("--generator", args.generator), ("--guide", args.guide)):
        if path is not None and (path.suffix != ".keras" or not path.is_file()):
            parser.error(f"Expected {option} to be an existing .keras file. Received: {path}")
    sweep_options = {
        "--generator": args.generator,
        "--guide": args.guide,
        "--seed": args.seed,
        "--sampler": args.sampler,
        "--steps": args.steps,
        "--guide-epochs": args.guide_epochs,
    }
    given = [option for option, value in sweep_options.items() if value is not None]
    if args.record and given:
        parser.error(
            "Expected --record without --generator, --guide, --seed, --sampler, --steps or --guide-epochs (it "
            f"scores the shipped pair on its manifest's settings). Received: {', '.join(given)}"
        )
    if args.record and args.intervals not in (None, [None]):
        parser.error(
            "Expected --record alone (the book's interval) or with --intervals all (every level, kept beside it). "
            f"Received: intervals={args.intervals}"
        )
    if args.output is not None and not args.output.parent.is_dir():
        parser.error(f"Expected --output in an existing folder. Received: output={args.output}")


def _check_guide_epochs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if min(args.guide_epochs) < 1:
        parser.error(f"Expected --guide-epochs of at least 1. Received: guide_epochs={args.guide_epochs}")
    for option, value in (("--guide", args.guide), ("--generator", args.generator)):
        if value is not None:  # it trains the shipped generator's guides
            parser.error(
                f"Expected --guide-epochs without {option} (it trains the shipped guide's recipe). Received: {value}"
            )
    if not args.scales:
        parser.error("Expected --scales with --guide-epochs. Received: no scales")


def cheapest_interval(results: list[dict]) -> dict | None:
    """The book's rule for the guidance interval, within the guide and scale (above 0) whose row
    guiding at every level (``interval`` None) has the lowest validation distance: of that group's
    rows whose distance is no larger than that row's, the one whose guide ran least often (then the
    lower distance). None when no row guides at every level at a scale above 0, or when the sweep has
    no other interval."""
    everywhere = [row for row in results if row["interval"] is None and row["scale"] > 0]
    if not everywhere or all(row["interval"] is None for row in results):
        return None
    reference = min(everywhere, key=lambda row: row["validation_frechet_distance"])
    group = [
        row
        for row in results
        if (row.get("guide_epochs"), row["scale"]) == (reference.get("guide_epochs"), reference["scale"])
        and row["validation_frechet_distance"] <= reference["validation_frechet_distance"]
    ]
    return min(group, key=lambda row: (row["guide_evaluations_per_digit"], row["validation_frechet_distance"]))


def _setting(row: dict) -> str:
    guide = f"the guide of {row['guide_epochs']} epochs at " if "guide_epochs" in row else ""
    interval = "every noise level" if row["interval"] is None else f"the interval {tuple(row['interval'])}"
    return f"{guide}scale {row['scale']} in {interval}"


def _sweep_all(args: argparse.Namespace) -> None:
    """The sweep of ``args.scales`` with the guide asked for, or with each of ``--guide-epochs``."""
    if args.guide_epochs is None:
        guides = {None: args.guide}
    else:
        folder = args.guide_dir or ROOT / "_build" / "autoguidance_scale"
        folder.mkdir(parents=True, exist_ok=True)
        guides = train_guides(args.guide_epochs, folder)
    results = []
    for epochs, guide in guides.items():
        print(f"guide: {guide or 'the shipped one'}", flush=True)
        for result in sweep(
            args.scales,
            args.samples,
            generator=args.generator,
            guide=guide,
            seed=args.seed,
            sampler=args.sampler or "heun",
            steps=args.steps,
            intervals=args.intervals,
        ):
            results.append(result if epochs is None else {"guide_epochs": epochs} | result)
    best = min(results, key=lambda result: result["validation_frechet_distance"])
    print(f"lowest validation Frechet distance: {_setting(best)}", flush=True)
    cheapest = cheapest_interval(results)
    if cheapest is not None:
        print(f"fewest guide evaluations, no further than guiding at every level: {_setting(cheapest)}", flush=True)
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check(parser, args)
    if args.scales:
        _sweep_all(args)
    if args.record:
        command = shlex.join(["python", "tools/autoguidance_scale.py", *(sys.argv[1:] if argv is None else argv)])
        scores = record(command, every_level=args.intervals == [None])
        summary = {key: scores[key] for key in ("scale", "confident_share", "frechet_distance", "seconds_per_1000")}
        print(json.dumps(summary | {"class_share_range": [min(scores["class_shares"]), max(scores["class_shares"])]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
