"""Does the sampler, rather than the training, hold Part III's generator below its targets?

Samples the shipped ``edm_digits`` checkpoint unconditionally with each sampler and step count
asked for, and prints what the manifest records for its Heun samples at 18 steps: the share of
digits that the shipped classifier labels with confidence of at least
:data:`~dae_utils.sample_quality.CONFIDENCE`, the class shares, and the seconds per 1,000
digits. Nothing here uses a test image.

Usage::

    KERAS_BACKEND=jax python tools/sampler_budget.py --heun 18 64 --ancestral 64 256   # a GPU: 3 minutes
    python tools/sampler_budget.py --heun 18 --samples 100                            # a CPU: under a minute
    python tools/sampler_budget.py --heun 18 --labels prior                           # a CPU: about 12 minutes

``--labels prior`` asks the conditional denoiser, without guidance, for digits drawn at the fit
images' class frequencies (:func:`~dae_utils.sampling.prior_labels`, seeded by the manifest's
seed like the starting noise, so that the numbers below repeat; chapter 11 gives its labels a
seed of their own): ``sum_y p(y) p_theta(x | y)``, the network's second estimate of all digits,
a second unconditional sampler that never uses the "no label" token. It also prints the
agreement with the digits asked for.

Each configuration starts from the manifest's seed, so Heun at 18 steps with 10,000 samples and
no labels repeats the manifest's unconditional measurement (to the backend's rounding). To measure
another generator (one that ``tools/generator_budget.py`` trained), set ``DAE_PRETRAINED_DIR`` to a
folder holding it as ``edm_digits.keras`` with its manifest, beside the shipped classifier's files.

Measured (H200, JAX, 2026-11-27, the shipped checkpoint, 10,000 digits each; confident share,
class shares, seconds per 1,000 digits there): Heun 18 steps 85.77% (the manifest, on the CPU with
TensorFlow: 85.78%), 8.7-11.0%, 1.5 s; Heun 64 steps 86.49%, 8.7-10.8%, 4.0 s; ancestral 64 steps
87.39%, 8.3-11.4%, 3.0 s; ancestral 256 steps 88.13%, 8.3-11.9%, 11.3 s. Seven times the network
evaluations (256 against Heun's 35 at 18 steps) buy 2.4 points: the sampler is not what holds the
share below 95%. That run timed the first configuration with the network's compilation in it; the
tool now runs the network once before it times anything, and a second run gave Heun 18 steps 85.79%
in 1.05 s per 1,000 digits and Heun 64 steps 86.50% in 3.85 s (JAX on a GPU is not deterministic
without ``XLA_FLAGS=--xla_gpu_deterministic_ops=true``: the confident share moved by 2 digits in
10,000).

With ``--labels prior`` (this book's 2-core CPU, TensorFlow, 2026-11-28, the shipped checkpoint,
10,000 digits each; confident share, class shares, agreement with the digit asked for, seconds per
1,000 digits): Heun 18 steps 94.71%, 9.0-11.8%, 93.62%, 69.5 s (with a short test run beside it
for part of the time; the manifest's "no label" samples take 63.0 s); ancestral 64 steps 96.55%,
9.0-12.0%, 95.86%, 130.8 s. Asked for a random digit, the network draws confidently classified
digits about 9 points more often than with the "no label" token at the same sampler (85.78%).
Heun's 94.71% has a 95% (Wilson) interval of 94.25% to 95.13%, so it does not settle whether this
sampler reaches 95% at 18 steps; with the ancestral sampler at 64 steps (95% interval 96.17% to
96.89%) it would pass issue 15's 95% if the target were scored on this sampler. It is not: the
manifest and the chapter's verdicts score the "no label" sampler. This sampler's class shares
follow the drawn labels, so they do not test whether the model covers every digit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heun", type=int, nargs="*", default=[], help="Heun step counts")
    parser.add_argument("--ancestral", type=int, nargs="*", default=[], help="ancestral step counts")
    parser.add_argument("--samples", type=int, default=None, help="digits per configuration (default: the manifest's)")
    parser.add_argument(
        "--labels",
        choices=["none", "prior"],
        default="none",
        help="none: the 'no label' token (the manifest's unconditional samples); prior: digits drawn at the "
        "fit images' class frequencies, no guidance",
    )
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if not (args.heun or args.ancestral):
        parser.error("Expected at least one step count. Received: no --heun and no --ancestral")
    if any(steps < 1 for steps in (*args.heun, *args.ancestral)) or (args.samples is not None and args.samples < 1):
        parser.error(
            "Expected step counts and --samples of at least 1. "
            f"Received: heun={args.heun}, ancestral={args.ancestral}, samples={args.samples}"
        )
    if args.output is not None and not args.output.parent.is_dir():
        parser.error(f"Expected --output in an existing folder. Received: output={args.output}")

    from dae_utils.artifacts import load_model, pretrained_path, read_manifest
    from dae_utils.data import load_mnist, split_training_set
    from dae_utils.generative import Denoiser
    from dae_utils.recipes import CLASSIFIER
    from dae_utils.sample_quality import CONFIDENCE, class_shares, classify
    from dae_utils.sampling import ancestral_sample, heun_sample, prior_labels

    manifest = read_manifest(pretrained_path("edm_digits"))
    settings = manifest["metrics"]["settings"]
    samples = settings["samples"] if args.samples is None else args.samples
    denoiser = Denoiser(load_model(pretrained_path("edm_digits")))
    classifier = load_model(pretrained_path(CLASSIFIER))
    labels = None  # the "no label" token
    if args.labels == "prior":
        (_, training_labels), _ = load_mnist()
        fit_labels, _ = split_training_set(training_labels)
        labels = prior_labels(fit_labels, samples, seed=settings["seed"])
    heun_sample(denoiser, count=min(samples, denoiser.batch_size), steps=1)  # compile before timing
    samplers = {"heun": heun_sample, "ancestral": ancestral_sample}
    results = []
    for name, counts in (("heun", args.heun), ("ancestral", args.ancestral)):
        for steps in counts:
            started = time.perf_counter()
            count = samples if labels is None else None
            digits = samplers[name](denoiser, labels, count=count, steps=steps, seed=settings["seed"])
            seconds = time.perf_counter() - started
            probabilities = classify(classifier, digits)
            shares = class_shares(probabilities)
            result = {
                "sampler": name,
                "steps": steps,
                "labels": args.labels,
                "samples": samples,
                "seed": settings["seed"],
                "confident_share": float(np.mean(probabilities.max(axis=1) >= CONFIDENCE)),
                "class_share_range": [min(shares), max(shares)],
                "seconds_per_1000": round(1000 * seconds / samples, 2),
            }
            if labels is not None:
                result["agreement"] = float(np.mean(probabilities.argmax(axis=1) == labels))
            results.append(result)
            print(json.dumps(results[-1]), flush=True)
            if args.output is not None:
                args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
