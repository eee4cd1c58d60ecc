import numpy as np
import pytest
from matplotlib.figure import Figure

from dae_utils.models import build_paper_autoencoder
from dae_utils.noise import add_gaussian_noise
from dae_utils.plotting import (
    plot_architecture,
    plot_denoising_rows,
    plot_image_rows,
    plot_loss_curves,
    plot_metric_by_label,
    plot_noise_histogram,
    plot_noise_sweep,
)


def test_denoising_rows_are_noisy_denoised_original(digits):
    noisy = add_gaussian_noise(digits, 0.5, seed=0)
    figure = plot_denoising_rows(noisy, digits, digits, n=5, start=2)
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert len(axes) == 15
    assert [axes[i].get_ylabel() for i in (0, 5, 10)] == ["Noisy", "Denoised", "Original"]
    np.testing.assert_array_equal(axes[0].get_images()[0].get_array(), noisy[2, ..., 0])


def test_image_rows_with_column_titles(digits):
    figure = plot_image_rows({"a": digits}, n=3, column_titles=["x", "y", "z"])
    assert [axis.get_title() for axis in figure.get_axes()] == ["x", "y", "z"]


def test_loss_curves_have_one_point_per_epoch():
    figure = plot_loss_curves({"loss": [0.3, 0.2, 0.1], "val_loss": [0.25, 0.2, 0.15]})
    lines = figure.get_axes()[0].get_lines()
    assert len(lines) == 2 and list(lines[0].get_xdata()) == [1, 2, 3]


def test_noise_histogram_reports_the_background_bias(digits):
    noisy = add_gaussian_noise(digits, 0.5, seed=0)
    labels = [text.get_text() for text in plot_noise_histogram(digits, noisy).get_axes()[0].get_legend().get_texts()]
    assert labels[0].startswith("background pixels (mean +0.1")


def test_metric_by_label_has_one_bar_per_class():
    values = np.array([10.0, 11.0, 20.0, 21.0, 22.0])
    figure = plot_metric_by_label(values, np.array([0, 0, 1, 1, 1]))
    assert len(figure.get_axes()[0].patches) == 2


def test_architecture_draws_one_box_per_layer():
    model = build_paper_autoencoder(filters=4)
    assert len(plot_architecture(model).get_axes()[0].patches) == len(model.layers)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda d: plot_image_rows({}, n=2), TypeError, "mapping"),
        (lambda d: plot_image_rows([d], n=2), TypeError, "mapping"),
        (lambda d: plot_image_rows({"a": d}, n=20), ValueError, "at least n=20"),
        (lambda d: plot_image_rows({"a": d}, n=2, column_titles=["x"]), ValueError, "column titles"),
        (lambda d: plot_image_rows({"a": d * 5}, n=2), ValueError, r"\[0, 1\]"),
        (lambda d: plot_loss_curves({"val_loss": [1.0]}), ValueError, "loss"),
        (lambda d: plot_metric_by_label(np.zeros(3), np.zeros(4)), ValueError, "same 1-D shape"),
        (lambda d: plot_architecture("model"), TypeError, "Keras model"),
    ],
)
def test_bad_input_raises_clear_errors(digits, call, error, message):
    with pytest.raises(error, match=message):
        call(digits)


def test_noise_sweep_titles_carry_the_levels_and_psnr(digits):
    levels = [0.1, 0.5]
    figure = plot_noise_sweep(levels, digits[:2], digits[:2], [20.0, 10.0], [25.0, 18.0])
    titles = [axis.get_title() for axis in figure.get_axes()]
    assert titles[0] == "σ = 0.1\n20.0 dB" and titles[3] == "18.0 dB"
    with pytest.raises(ValueError, match="per level"):
        plot_noise_sweep(levels, digits[:3], digits[:2], [1.0, 2.0], [1.0, 2.0])
