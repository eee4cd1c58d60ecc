"""Command line: ``python -m dae_utils {data,recipes,train,select,evaluate,denoise,export}``.

Examples::

    python -m dae_utils data                      # fetch, verify and cache MNIST
    python -m dae_utils recipes                   # the recipes that make the shipped checkpoints
    python -m dae_utils train paper_autoencoder   # the paper's run, into dae_utils/pretrained/
    python -m dae_utils train unet --epochs 2 --fit-size 2000 --output-dir my_models   # a quick run
    python -m dae_utils select best_denoiser      # best validation PSNR -> best_denoiser.json
    python -m dae_utils evaluate dae_utils/pretrained/paper_autoencoder.keras --limit 100 --json
    python -m dae_utils denoise dae_utils/pretrained/paper_autoencoder.keras noisy.png clean.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dae_utils.config import PAPER

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dae_utils", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="fetch, verify and cache MNIST (and Fashion-MNIST with --fashion)")
    data.add_argument("--fashion", action="store_true", help="also load Fashion-MNIST")

    recipes = commands.add_parser("recipes", help="list the recipes of the shipped checkpoints, one per line")
    recipes.add_argument("--candidates-of", metavar="SELECTION", help="list a selection's candidates instead")

    train = commands.add_parser("train", help="train one recipe, score it, save it with its manifest")
    train.add_argument("name", help="a recipe name, e.g. paper_autoencoder or unet (see `recipes`)")
    train.add_argument("--output-dir", type=Path, default=_pretrained_dir())
    train.add_argument("--work-dir", type=Path, help="backup and history (default: artifacts/runs/<name>)")
    train.add_argument("--epochs", type=int, help="override the recipe's epochs (a quick run)")
    train.add_argument("--fit-size", type=int, help="fit on the first N images only (a quick run)")

    select = commands.add_parser("select", help="choose among trained recipes by validation PSNR")
    select.add_argument("selection", help="best_denoiser or dropout_selection")
    select.add_argument("--directory", type=Path, default=_pretrained_dir(), help="where the candidates are")
    select.add_argument("--output-dir", type=Path, help="where the record goes (default: --directory)")

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

    export = commands.add_parser("export", help="convert the book's models to ONNX (for ONNX Runtime)")
    export.add_argument("--output-dir", type=Path, default=Path("_build") / "onnx")
    export.add_argument("names", nargs="*", help="checkpoints or selections (default: the book's models)")
    return parser


def _pretrained_dir() -> Path:
    from dae_utils.artifacts import pretrained_dir

    return pretrained_dir()


def _recipes(args: argparse.Namespace) -> None:
    from dae_utils.recipes import RECIPES, candidates_of

    names = candidates_of(args.candidates_of) if args.candidates_of else [recipe.name for recipe in RECIPES]
    print("\n".join(names))


def _train(args: argparse.Namespace) -> None:
    from dae_utils.recipes import get_recipe, run

    recipe = get_recipe(args.name)
    overrides = {"epochs": args.epochs, "fit_size": args.fit_size}
    recipe = dataclasses.replace(recipe, **{key: value for key, value in overrides.items() if value is not None})
    work_dir = args.work_dir or Path("artifacts") / "runs" / args.name
    manifest = run(recipe, output_dir=args.output_dir, work_dir=work_dir, command=_command_line(args))
    print(f"Saved {args.output_dir / manifest['model']} ({manifest['training_seconds']:.0f} s of training)")
    for key, scores in manifest["metrics"].items():
        if isinstance(scores, dict) and "psnr" in scores:
            print(f"{key}: PSNR {scores['psnr']['mean']:.2f} dB  SSIM {scores['ssim']['mean']:.4f} (n={scores['n']})")
        elif isinstance(scores, dict):  # the classifier's accuracy, the generator's sample scores
            print(f"{key}: {json.dumps(scores)}")


def _select(args: argparse.Namespace) -> None:
    from dae_utils.recipes import select

    record = select(args.selection, directory=args.directory, output_dir=args.output_dir, command=_command_line(args))
    for name, candidate in record["candidates"].items():
        scores = candidate["validation"]
        print(f"{name}: validation PSNR {scores['psnr']['mean']:.3f} dB, SSIM {scores['ssim']['mean']:.4f}")
    print(f"{args.selection}: {record['chosen']} (written to {args.output_dir or args.directory})")


def _data(args: argparse.Namespace) -> None:
    from dae_utils.data import MNIST_SHA256, data_dir, load_fashion_mnist, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images, cached in {data_dir()}")
    print(f"  labels start {y_train[:5].tolist()} and {y_test[:5].tolist()}")
    print(f"  arrays verified against SHA-256 {MNIST_SHA256}")
    if args.fashion:
        (x_train, _), (x_test, _) = load_fashion_mnist()
        print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images")


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


def _export(args: argparse.Namespace) -> None:
    from dae_utils.export import BOOK_MODELS, export_book_models

    described = export_book_models(args.output_dir, names=tuple(args.names) or BOOK_MODELS)
    for entry in described.values():
        print(f"{args.output_dir / entry['file']}: {entry['bytes'] / 1e6:.1f} MB, inputs {entry['inputs']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = _build_parser()
    args = parser.parse_args(argv)
    args.argv = None if argv is None else list(argv)
    handlers = {
        "data": _data,
        "recipes": _recipes,
        "train": _train,
        "select": _select,
        "evaluate": _evaluate,
        "denoise": _denoise,
        "export": _export,
    }
    try:
        handlers[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
