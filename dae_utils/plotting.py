"""The book's figures. Every function returns a :class:`matplotlib.figure.Figure`.

Figures are built with the object-oriented API (``Figure``), never through
``pyplot``'s global state, so they display in notebooks and save the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dae_utils._validation import check_image_batch, check_positive_int

__all__ = [
    "plot_architecture",
    "plot_bars",
    "plot_curves",
    "plot_denoising_rows",
    "plot_generalization_gap",
    "plot_histograms",
    "plot_image_rows",
    "plot_latent_codes",
    "plot_loss_curves",
    "plot_metric_by_label",
    "plot_metric_vs_noise",
    "plot_noise_histogram",
    "plot_noise_sweep",
    "plot_points",
    "plot_quality_vs_cost",
    "plot_score_spread",
    "plot_signed_rows",
]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_image_rows(
    rows: Mapping[str, np.ndarray],
    *,
    n: int = 10,
    column_titles: Sequence[str] | None = None,
    cell_size: float = 1.1,
) -> Any:
    """Show the first ``n`` images of each batch as one row, with the row's name on the left.

    Args:
        rows: Row name -> images in [0, 1], (N, H, W, 1) or (N, H, W); every
            batch needs at least ``n`` images.
        n: Images per row.
        column_titles: Optional title above each column (e.g. a PSNR).
        cell_size: Inches per image.

    Returns:
        The figure.
    """
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError(f"Expected `rows` to be a non-empty mapping of name -> images. Received: {type(rows).__name__}")
    n = check_positive_int(n, name="n")
    batches = {name: check_image_batch(images, name=f"rows[{name!r}]") for name, images in rows.items()}
    for name, images in batches.items():
        if len(images) < n:
            raise ValueError(f"Expected at least n={n} images in rows[{name!r}]. Received: {len(images)}")
    if column_titles is not None and len(column_titles) != n:
        raise ValueError(f"Expected {n} column titles. Received: {len(column_titles)}")
    figure = _figure(cell_size * n + 0.8, cell_size * len(batches))
    axes = np.atleast_2d(figure.subplots(len(batches), n, squeeze=False))
    for row, (name, images) in enumerate(batches.items()):
        for column in range(n):
            axis = axes[row, column]
            axis.imshow(np.squeeze(images[column]), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name, rotation=0, ha="right", va="center")
            if row == 0 and column_titles is not None:
                axis.set_title(column_titles[column], fontsize=8)
    return figure


def plot_denoising_rows(
    noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray, *, n: int = 10, start: int = 0
) -> Any:
    """The paper's figures 2, 4 and 5: noisy (top), denoised (middle), original (bottom).

    Args:
        noisy, denoised, clean: Batches of the same images, (N, H, W, 1) in [0, 1].
        n: Number of images.
        start: Index of the first image shown (figure 5 of the paper starts at 5).
    """
    window = slice(start, start + n)
    return plot_image_rows({"Noisy": noisy[window], "Denoised": denoised[window], "Original": clean[window]}, n=n)


def plot_loss_curves(
    history: Mapping[str, Sequence[float]],
    *,
    title: str = "Training and validation loss",
    ylabel: str = "binary cross-entropy",
) -> Any:
    """The paper's figure 3: loss per epoch on the training and validation sets.

    Args:
        history: A ``History.history``-like mapping with ``loss`` and,
            optionally, ``val_loss``.
        title, ylabel: The title and the loss's name.
    """
    if not isinstance(history, Mapping) or "loss" not in history or not len(history["loss"]):
        raise ValueError("Expected `history` to map 'loss' (and optionally 'val_loss') to per-epoch values.")
    figure = _figure(6, 3.5)
    axis = figure.subplots()
    epochs = np.arange(1, len(history["loss"]) + 1)
    axis.plot(epochs, history["loss"], marker="o", label="training loss")
    if "val_loss" in history:
        axis.plot(epochs, history["val_loss"], marker="s", label="validation loss")
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.grid(alpha=0.3)
    axis.legend()
    return figure


def plot_noise_histogram(clean: np.ndarray, noisy: np.ndarray, *, bins: int = 60) -> Any:
    """Histogram of the noise actually added (noisy - clean), on the background and on the strokes.

    Clipping turns the symmetric noise on black pixels (value 0) into a
    non-negative one, whose mean is far from zero; this figure shows it.
    """
    clean = check_image_batch(clean, name="clean")
    noisy = check_image_batch(noisy, name="noisy")
    added = (noisy.astype(np.float64) - clean).ravel()
    background = clean.ravel() == 0.0
    figure = _figure(6.5, 3.5)
    axis = figure.subplots()
    kwargs = {"bins": bins, "range": (-1.0, 1.0), "density": True, "alpha": 0.6}
    axis.hist(added[background], label=f"background pixels (mean {added[background].mean():+.3f})", **kwargs)
    axis.hist(added[~background], label=f"digit pixels (mean {added[~background].mean():+.3f})", **kwargs)
    axis.set_xlabel("noise actually added after clipping")
    axis.set_ylabel("density")
    axis.set_yscale("log")
    axis.legend()
    return figure


def plot_metric_by_label(values: np.ndarray, labels: np.ndarray, *, metric: str = "PSNR (dB)") -> Any:
    """Mean of a per-image metric for each class, with 95% confidence intervals."""
    from dae_utils.metrics import summarize

    values, labels = np.asarray(values), np.asarray(labels)
    if values.shape != labels.shape or values.ndim != 1:
        raise ValueError(
            f"Expected `values` and `labels` of the same 1-D shape. Received: {values.shape} and {labels.shape}"
        )
    classes = np.unique(labels)
    summaries = [summarize(values[labels == label]) for label in classes]
    means = np.array([s.mean for s in summaries])
    errors = np.array([[s.mean - s.ci95_low for s in summaries], [s.ci95_high - s.mean for s in summaries]])
    figure = _figure(6, 3.2)
    axis = figure.subplots()
    axis.bar(classes.astype(str), means, yerr=np.nan_to_num(errors), capsize=3, color="tab:blue", alpha=0.8)
    axis.set_xlabel("digit")
    axis.set_ylabel(metric)
    axis.set_ylim(means.min() - 2 * np.nanmax(errors) - 0.5 if metric.startswith("PSNR") else 0, None)
    axis.grid(axis="y", alpha=0.3)
    return figure


def plot_architecture(model: Any) -> Any:
    """The paper's figure 1: the model's layers as a flow of boxes, with output shapes.

    Args:
        model: A built Keras model (a chain of layers, as the paper's is).
    """
    from matplotlib.patches import FancyBboxPatch

    layers = getattr(model, "layers", None)
    if not layers:
        raise TypeError(f"Expected a built Keras model. Received: {type(model).__name__}")
    colours = {
        "InputLayer": "#e0e0e0",
        "Conv2D": "#9ecae1",
        "MaxPooling2D": "#fdae6b",
        "Dropout": "#d9d9d9",
        "UpSampling2D": "#a1d99b",
    }
    figure = _figure(1.25 * len(layers), 3.0)
    axis = figure.subplots()
    for index, layer in enumerate(layers):
        kind = type(layer).__name__
        shape = tuple(layer.output.shape[1:])
        height = 0.6 + 1.6 * shape[0] / 28  # box height follows the spatial size
        axis.add_patch(
            FancyBboxPatch(
                (index + 0.08, -height / 2),
                0.84,
                height,
                boxstyle="round,pad=0.02",
                facecolor=colours.get(kind, "#fcbba1"),
                edgecolor="black",
            )
        )
        label = kind.replace("2D", "").replace("Layer", "")
        if kind == "Conv2D":
            label += f"\n{layer.filters} x {layer.kernel_size[0]}x{layer.kernel_size[1]}\n{layer.activation.__name__}"
        axis.text(index + 0.5, 0, label, ha="center", va="center", fontsize=7)
        axis.text(index + 0.5, -1.35, "x".join(map(str, shape)), ha="center", va="top", fontsize=7)
        if index:
            axis.annotate("", xy=(index + 0.08, 0), xytext=(index - 0.08, 0), arrowprops={"arrowstyle": "->"})
    axis.text(0.5, 1.4, "noisy input", ha="center", fontsize=8)
    axis.text(len(layers) - 0.5, 1.4, "denoised output", ha="center", fontsize=8)
    axis.set_xlim(0, len(layers))
    axis.set_ylim(-1.7, 1.7)
    axis.axis("off")
    return figure


def plot_noise_sweep(
    levels: Sequence[float],
    noisy: np.ndarray,
    denoised: np.ndarray,
    psnr_noisy: Sequence[float],
    psnr_denoised: Sequence[float],
) -> Any:
    """One image at several noise levels: noisy (top) and denoised (bottom), with their PSNR.

    Args:
        levels: The noise standard deviations, one per column.
        noisy, denoised: (len(levels), H, W, 1) images in [0, 1].
        psnr_noisy, psnr_denoised: PSNR in dB of each column.
    """
    n = len(levels)
    if not (len(noisy) == len(denoised) == len(psnr_noisy) == len(psnr_denoised) == n) or n == 0:
        raise ValueError(
            f"Expected one noisy image, one denoised image and two PSNR values per level. Received: {n} levels, "
            f"{len(noisy)} noisy, {len(denoised)} denoised, {len(psnr_noisy)} and {len(psnr_denoised)} PSNR values"
        )
    figure = plot_image_rows({"Noisy": noisy, "Denoised": denoised}, n=n, cell_size=1.3)
    axes = figure.get_axes()
    for column, level in enumerate(levels):
        axes[column].set_title(f"σ = {level:g}\n{psnr_noisy[column]:.1f} dB", fontsize=8)
        axes[n + column].set_title(f"{psnr_denoised[column]:.1f} dB", fontsize=8)
    return figure


def _check_mapping(value: Any, *, name: str, expected: str) -> None:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"Expected `{name}` to be a non-empty mapping of {expected}. Received: {type(value).__name__}")


def plot_generalization_gap(histories: Mapping[str, Mapping[str, Sequence[float]]], *, loss_name: str = "loss") -> Any:
    """Training (dashed) and validation (solid) loss per epoch of several runs, on one axis.

    Args:
        histories: Run name -> ``History.history``-like mapping with ``loss`` and ``val_loss``.
        loss_name: The y-axis label (the runs should share their loss).
    """
    _check_mapping(histories, name="histories", expected="run names to histories")
    figure = _figure(6.5, 3.8)
    axis = figure.subplots()
    for index, (name, history) in enumerate(histories.items()):
        if "loss" not in history or "val_loss" not in history:
            raise ValueError(f"Expected the history of {name!r} to hold 'loss' and 'val_loss'.")
        color = f"C{index}"
        epochs = np.arange(1, len(history["loss"]) + 1)
        axis.plot(epochs, history["loss"], linestyle="--", color=color, label=f"{name}: training")
        axis.plot(epochs, history["val_loss"], marker="o", color=color, label=f"{name}: validation")
    axis.set_xlabel("epoch")
    axis.set_ylabel(loss_name)
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return figure


def plot_score_spread(
    scores: Mapping[str, np.ndarray], *, marks: Mapping[str, Mapping[str, float]], bins: int = 12
) -> Any:
    """Histograms of one mean score per noise draw, one panel per metric, with reference lines.

    Args:
        scores: Metric label (e.g. ``"PSNR (dB)"``) -> 1-D array, one mean score per noise draw.
        marks: Line label (e.g. ``"paper"``) -> metric label -> value, drawn as vertical lines.
        bins: Histogram bins.
    """
    _check_mapping(scores, name="scores", expected="metric labels to arrays of scores")
    _check_mapping(marks, name="marks", expected="line labels to {metric label: value}")
    bins = check_positive_int(bins, name="bins")
    figure = _figure(4.0 * len(scores), 3.2)
    axes = np.atleast_1d(figure.subplots(1, len(scores)))
    for axis, (metric, raw) in zip(axes, scores.items(), strict=True):
        values = np.asarray(raw, dtype=float)
        if values.ndim != 1 or values.size < 2:
            raise ValueError(f"Expected a 1-D array of at least 2 scores for {metric!r}. Received shape {values.shape}")
        axis.hist(values, bins=bins, color="0.7", edgecolor="0.3")
        for index, (label, value) in enumerate(marks.items()):
            if metric not in value:
                raise ValueError(f"Expected marks[{label!r}] to hold a value for {metric!r}. Received: {dict(value)}")
            axis.axvline(value[metric], color=f"C{index}", linewidth=2, label=label)
        axis.set_xlabel(metric)
        axis.set_ylabel("noise draws")
        axis.legend(fontsize="small")
    return figure


def plot_quality_vs_cost(records: Mapping[str, Mapping[str, float]], *, metric: str = "psnr") -> Any:
    """Quality against training cost: two panels, multiply-adds per image and seconds per epoch.

    Args:
        records: Model name -> mapping with ``multiply_adds``, ``seconds_per_epoch`` and ``metric``.
        metric: The key plotted on the y axis (``"psnr"`` or ``"ssim"``).
    """
    _check_mapping(records, name="records", expected="model names to cost and quality")
    label = {"psnr": "test PSNR (dB)", "ssim": "test SSIM"}.get(metric, metric)
    figure = _figure(10, 4)
    left, right = figure.subplots(1, 2, sharey=True)
    for axis, key, title in (
        (left, "multiply_adds", "millions of multiply-adds per image"),
        (right, "seconds_per_epoch", "seconds per training epoch (measured)"),
    ):
        for index, (name, record) in enumerate(records.items()):
            missing = {key, metric} - set(record)
            if missing:
                raise ValueError(f"Expected the record of {name!r} to hold {sorted(missing)}.")
            x = record[key] / 1e6 if key == "multiply_adds" else record[key]
            axis.scatter(x, record[metric], s=60, color=f"C{index}", zorder=3)
            axis.annotate(name, (x, record[metric]), textcoords="offset points", xytext=(6, 4), fontsize="small")
        axis.set_xlabel(title)
        axis.grid(alpha=0.3)
        axis.margins(x=0.25, y=0.15)
    left.set_ylabel(label)
    return figure


def plot_metric_vs_noise(
    levels: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    *,
    metric: str = "PSNR (dB)",
    trained_at: Mapping[str, float | tuple[float, float]] | None = None,
) -> Any:
    """A metric against the noise level, one line per model.

    Args:
        levels: Noise standard deviations (x axis).
        curves: Model name -> one value per level.
        metric: The y-axis label.
        trained_at: Model name -> its training noise level (marked with a vertical line) or
            range (a shaded band).
    """
    _check_mapping(curves, name="curves", expected="model names to values")
    levels = np.asarray(levels, dtype=float)
    figure = _figure(6.5, 4)
    axis = figure.subplots()
    for index, (name, values) in enumerate(curves.items()):
        if len(values) != len(levels):
            raise ValueError(f"Expected {len(levels)} values for {name!r}, one per level. Received: {len(values)}")
        axis.plot(levels, values, marker="o", color=f"C{index}", label=name)
        level = (trained_at or {}).get(name)
        if isinstance(level, tuple):
            axis.axvspan(*level, color=f"C{index}", alpha=0.08)
        elif level is not None:
            axis.axvline(level, color=f"C{index}", linestyle=":", alpha=0.7)
    axis.set_xlabel("noise standard deviation $\\sigma$")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return figure


# ------------------------------------------------------------------------------------ Part III


def plot_curves(
    x: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    title: str | None = None,
    styles: Mapping[str, str] | None = None,
) -> Any:
    """Several curves over one x axis (quality against steps, the 1-D Tweedie check, ...).

    Args:
        x: The x values, shared by every curve.
        curves: Label -> one y value per x.
        xlabel, ylabel, title: Axis labels and an optional title.
        logx: Logarithmic x axis.
        styles: Label -> a Matplotlib format string (e.g. ``"--"``); default: line with markers
            for up to 30 points, plain line beyond.
    """
    _check_mapping(curves, name="curves", expected="labels to values")
    x = np.asarray(x, dtype=float)
    figure = _figure(6.5, 4)
    axis = figure.subplots()
    for label, values in curves.items():
        if len(values) != len(x):
            raise ValueError(f"Expected {len(x)} values for {label!r}, one per x. Received: {len(values)}")
        style = (styles or {}).get(label, "o-" if len(x) <= 30 else "-")
        axis.plot(x, values, style, label=label)
    if logx:
        axis.set_xscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return figure


def plot_signed_rows(
    images: Mapping[str, np.ndarray], signed: Mapping[str, np.ndarray], *, n: int = 8, cell_size: float = 1.1
) -> Any:
    """Rows of [0, 1] images (possibly none), then rows of signed fields (a score, a residual, weights)
    in blue-white-red.

    Each signed row has its own symmetric colour range (white is 0, red positive, blue negative).
    """
    if not isinstance(images, Mapping):  # may be empty: signed rows alone (weights, components)
        raise TypeError(
            f"Expected `images` to be a mapping of names to [0, 1] images. Received: {type(images).__name__}"
        )
    _check_mapping(signed, name="signed", expected="names to signed arrays")
    n = check_positive_int(n, name="n")
    rows = list(images.items()) + list(signed.items())
    figure = _figure(cell_size * n + 0.8, cell_size * len(rows))
    axes = figure.subplots(len(rows), n, squeeze=False)
    for row, (name, values) in enumerate(rows):
        batch = np.asarray(values)
        if len(batch) < n:
            raise ValueError(f"Expected at least n={n} images in {name!r}. Received: {len(batch)}")
        is_signed = name in signed
        limit = float(np.abs(batch[:n]).max()) or 1.0
        for column in range(n):
            axis = axes[row, column]
            options = (
                {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
                if is_signed
                else {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
            )
            axis.imshow(np.squeeze(batch[column]), interpolation="nearest", **options)
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name, rotation=0, ha="right", va="center")
    return figure


def plot_histograms(samples: Mapping[str, np.ndarray], *, xlabel: str, bins: int = 50, title: str | None = None) -> Any:
    """Overlaid density histograms of several sets of values (e.g. nearest-neighbour distances)."""
    _check_mapping(samples, name="samples", expected="labels to value arrays")
    bins = check_positive_int(bins, name="bins")
    values = {label: np.ravel(np.asarray(array, dtype=float)) for label, array in samples.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    figure = _figure(6.5, 3.8)
    axis = figure.subplots()
    for label, array in values.items():
        axis.hist(array, bins=edges, density=True, alpha=0.5, label=f"{label} (n={len(array):,})")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("density")
    if title:
        axis.set_title(title)
    axis.legend(fontsize="small")
    return figure


def plot_bars(labels: Sequence[str], values: Sequence[float], *, ylabel: str, reference: float | None = None) -> Any:
    """A bar per label, with an optional horizontal reference line (e.g. a uniform share)."""
    if len(labels) != len(values):
        raise ValueError(f"Expected one value per label. Received: {len(values)} values, {len(labels)} labels")
    figure = _figure(6.5, 3.2)
    axis = figure.subplots()
    axis.bar([str(label) for label in labels], values, color="C0")
    if reference is not None:
        axis.axhline(reference, color="C3", linestyle="--", label=f"{reference:g}")
        axis.legend(fontsize="small")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3, axis="y")
    return figure


def plot_points(
    points: Mapping[str, tuple[float, float]],
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    connect: bool = False,
) -> Any:
    """Labelled points in a plane (a perception-distortion plot), optionally joined in order."""
    _check_mapping(points, name="points", expected="labels to (x, y) pairs")
    figure = _figure(6.5, 4.2)
    axis = figure.subplots()
    coordinates = np.array([tuple(map(float, point)) for point in points.values()])
    if connect:
        axis.plot(coordinates[:, 0], coordinates[:, 1], "-", color="0.7", zorder=1)
    for index, (label, (x, y)) in enumerate(points.items()):
        axis.scatter([x], [y], color=f"C{index % 10}", zorder=2)
        axis.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize="small")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    return figure


def plot_latent_codes(codes: Mapping[str, np.ndarray], labels: np.ndarray, *, marker_size: float = 4.0) -> Any:
    """Two-number codes of images as points in a plane, one panel per encoder, coloured by digit.

    Args:
        codes: Encoder name -> codes of shape (N, 2), one row per image.
        labels: The images' classes, integers of shape (N,).
        marker_size: Area of each point.
    """
    _check_mapping(codes, name="codes", expected="encoder names to (N, 2) codes")
    labels = np.asarray(labels)
    figure = _figure(4.2 * len(codes) + 1.2, 4.2)
    axes = figure.subplots(1, len(codes), squeeze=False)[0]
    for axis, (name, given) in zip(axes, codes.items(), strict=True):
        values = np.asarray(given, dtype=float)
        if values.ndim != 2 or values.shape[1] != 2 or len(values) != len(labels):
            raise ValueError(
                f"Expected codes of shape ({len(labels)}, 2) for {name!r}, one row per label. "
                f"Received: shape {values.shape}"
            )
        points = axis.scatter(values[:, 0], values[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=marker_size)
        axis.set_title(name)
        axis.set_xlabel("code 1")
        axis.set_ylabel("code 2")
    colorbar = figure.colorbar(points, ax=list(axes), ticks=range(10))
    colorbar.set_label("digit")
    return figure
