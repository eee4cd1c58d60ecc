"""Command line: ``python -m dae_utils {data,train,select-dropout,train-variant,select-best,evaluate,denoise}``.

Examples::

    python -m dae_utils data                      # fetch, verify and cache MNIST
    python -m dae_utils select-dropout --output dropout_selection.json
    python -m dae_utils train --profile paper --output dae_utils/pretrained/paper_autoencoder.keras
    python -m dae_utils train-variant unet        # a model of chapters 6-7, into dae_utils/pretrained/
    python -m dae_utils select-best               # best validation PSNR -> best_denoiser.keras
    python -m dae_utils evaluate dae_utils/pretrained/paper_autoencoder.keras --limit 100 --json
    python -m dae_utils denoise dae_utils/pretrained/paper_autoencoder.keras noisy.png clean.png
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dae_utils.config import PAPER, QUICK

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dae_utils", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="fetch, verify and cache MNIST (and Fashion-MNIST with --fashion)")
    data.add_argument("--fashion", action="store_true", help="also load Fashion-MNIST")

    train = commands.add_parser("train", help="train the paper's model, evaluate it, save it with a manifest")
    train.add_argument("--profile", choices=("paper", "quick"), default="paper")
    train.add_argument("--output", type=Path, required=True, help="the .keras file to write")
    train.add_argument("--work-dir", type=Path, help="checkpoints and history (default: artifacts/runs/<name>)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--train-size", type=int)
    train.add_argument("--seed", type=int)

    select = commands.add_parser(
        "select-dropout", help="choose the dropout rate on a validation split of the training set"
    )
    select.add_argument("--profile", choices=("paper", "quick"), default="paper")
    select.add_argument("--candidates", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    select.add_argument("--output", type=Path, required=True, help="the JSON record to write")
    select.add_argument("--work-dir", type=Path, default=Path("artifacts") / "runs" / "dropout_selection")

    variant = commands.add_parser("train-variant", help="train one model of chapters 6-7 and save it with a manifest")
    variant.add_argument("name", help="a variant name, e.g. unet (see dae_utils.variants.VARIANTS)")
    variant.add_argument("--output-dir", type=Path, default=_pretrained_dir())
    variant.add_argument("--work-dir", type=Path, help="checkpoints and history (default: artifacts/runs/<name>)")
    variant.add_argument("--epochs", type=int)
    variant.add_argument("--train-size", type=int)

    best = commands.add_parser("select-best", help="rename the variant with the best validation PSNR to best_denoiser")
    best.add_argument("--directory", type=Path, default=_pretrained_dir())

    evaluate = commands.add_parser("evaluate", help="PSNR and SSIM of a saved model on the noisy test set")
    evaluate.add_argument("model", type=Path)
    evaluate.add_argument("--limit", type=int, help="first N test images (the paper: 100); default all")
    evaluate.add_argument("--noise-std", type=float, default=PAPER.noise_std)
    evaluate.add_argument("--seed", type=int, default=PAPER.test_noise_seed, help="seed of the test noise")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of text")

    denoise = commands.add_parser("denoise", help="denoise a grey PNG with a saved model")
    denoise.add_argument("model", type=Path)
    denoise.add_argument("input", type=Path)
    denoise.add_argument("output", type=Path)
    return parser


def _pretrained_dir() -> Path:
    from dae_utils.artifacts import pretrained_dir

    return pretrained_dir()


def _train_variant(args: argparse.Namespace) -> None:
    from dae_utils.variants import train_variant

    work_dir = args.work_dir or Path("artifacts") / "runs" / args.name
    manifest = train_variant(
        args.name,
        output_dir=args.output_dir,
        work_dir=work_dir,
        command=_command_line(args),
        epochs=args.epochs,
        train_size=args.train_size,
    )
    metrics = manifest["metrics"]
    print(f"Saved {args.output_dir / manifest['model']} ({manifest['training_seconds']:.0f} s of training)")
    for key in ("validation", "all"):
        print(
            f"{key}: PSNR {metrics[key]['psnr']['mean']:.2f} dB  SSIM {metrics[key]['ssim']['mean']:.4f} "
            f"(n={metrics[key]['n']})"
        )


def _select_best(args: argparse.Namespace) -> None:
    from dae_utils.variants import select_best

    manifest = select_best(directory=args.directory, command=_command_line(args))
    for name, scores in manifest["selection"]["validation"].items():
        print(f"{name}: validation PSNR {scores['psnr']:.3f} dB, SSIM {scores['ssim']:.4f}")
    print(f"best: {manifest['selection']['chosen']} -> {args.directory / manifest['model']}")


def _data(args: argparse.Namespace) -> None:
    from dae_utils.data import MNIST_SHA256, data_dir, load_fashion_mnist, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images, cached in {data_dir()}")
    print(f"  labels start {y_train[:5].tolist()} and {y_test[:5].tolist()}")
    print(f"  arrays verified against SHA-256 {MNIST_SHA256}")
    if args.fashion:
        (x_train, _), (x_test, _) = load_fashion_mnist()
        print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images")


def _train(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from dae_utils.experiment import run_paper_experiment

    settings = PAPER if args.profile == "paper" else QUICK
    overrides = {"epochs": args.epochs, "train_size": args.train_size, "seed": args.seed}
    settings = replace(settings, **{key: value for key, value in overrides.items() if value is not None})
    if args.output.suffix != ".keras":
        raise ValueError(f"Expected --output to end in .keras. Received: {args.output}")
    work_dir = args.work_dir or Path("artifacts") / "runs" / args.output.stem
    manifest = run_paper_experiment(settings, output=args.output, work_dir=work_dir, command=_command_line(args))
    metrics = manifest["metrics"]
    first = metrics[f"first_{settings.eval_limit}"]
    print(f"Saved {args.output} ({manifest['training_seconds']:.0f} s of training)")
    print(f"first {settings.eval_limit}: PSNR {first['psnr']['mean']:.2f} dB  SSIM {first['ssim']['mean']:.4f}")
    print(
        f"all {metrics['all']['n']}: PSNR {metrics['all']['psnr']['mean']:.2f} dB  "
        f"SSIM {metrics['all']['ssim']['mean']:.4f}"
    )


def _select_dropout(args: argparse.Namespace) -> None:
    from dae_utils.experiment import select_dropout_rate

    settings = PAPER if args.profile == "paper" else QUICK
    record = select_dropout_rate(
        settings, tuple(args.candidates), output=args.output, work_dir=args.work_dir, command=_command_line(args)
    )
    print(f"chosen dropout rate: {record['chosen_dropout_rate']} (written to {args.output})")


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed, for manifests, less ``--work-dir`` (a local scratch folder that changes no result)."""
    argv = list(sys.argv[1:] if args.argv is None else args.argv)
    kept = []
    while argv:
        word = argv.pop(0)
        if word == "--work-dir":
            argv = argv[1:]
        elif not word.startswith("--work-dir="):
            kept.append(word)
    return "python -m dae_utils " + shlex.join(kept)


def _evaluate(args: argparse.Namespace) -> None:
    from dae_utils.artifacts import load_model
    from dae_utils.data import load_mnist
    from dae_utils.evaluation import evaluate_model, noisy_test_images

    model = load_model(args.model)
    _, (x_test, _) = load_mnist()
    noisy = noisy_test_images(x_test, noise_std=args.noise_std, seed=args.seed)
    result = evaluate_model(model, x_test, noisy, limit=args.limit)
    summary = {"model": str(args.model), "noise_std": args.noise_std, "noise_seed": args.seed, **result.to_dict()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    for name, unit in (("psnr", " dB"), ("ssim", "")):
        s = result.psnr if name == "psnr" else result.ssim
        print(
            f"{name.upper()}: {s.mean:.4f}{unit} "
            f"(std {s.std:.4f}, 95% CI {s.ci95_low:.4f} to {s.ci95_high:.4f}, n={s.n})"
        )


def _denoise(args: argparse.Namespace) -> None:
    from dae_utils.artifacts import load_model
    from dae_utils.evaluation import denoise
    from dae_utils.imageio import read_grey_png, write_grey_png

    image = read_grey_png(args.input)
    model = load_model(args.model)
    write_grey_png(args.output, denoise(model, image[np.newaxis, ..., np.newaxis])[0, ..., 0])
    print(f"Wrote {args.output}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = _build_parser()
    args = parser.parse_args(argv)
    args.argv = None if argv is None else list(argv)
    handlers = {
        "data": _data,
        "train": _train,
        "select-dropout": _select_dropout,
        "train-variant": _train_variant,
        "select-best": _select_best,
        "evaluate": _evaluate,
        "denoise": _denoise,
    }
    try:
        handlers[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
