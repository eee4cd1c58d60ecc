import numpy as np
import pytest
from matplotlib.figure import Figure

from dae_utils.models import build_paper_autoencoder
from dae_utils.noise import add_gaussian_noise
from dae_utils.plotting import (
    plot_architecture,
    plot_denoising_rows,
    plot_generalization_gap,
    plot_image_rows,
    plot_latent_codes,
    plot_loss_curves,
    plot_metric_by_label,
    plot_metric_vs_noise,
    plot_noise_histogram,
    plot_noise_sweep,
    plot_quality_vs_cost,
    plot_score_spread,
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


def test_generalization_gap_draws_training_dashed_and_validation_solid():
    histories = {
        "fixed": {"loss": [3, 2, 1], "val_loss": [3, 2.5, 2.4]},
        "fresh": {"loss": [3, 2, 2], "val_loss": [3, 2, 2]},
    }
    figure = plot_generalization_gap(histories, loss_name="BCE")
    lines = figure.get_axes()[0].get_lines()
    assert [line.get_linestyle() for line in lines] == ["--", "-", "--", "-"]
    np.testing.assert_array_equal(lines[1].get_ydata(), [3, 2.5, 2.4])
    with pytest.raises(ValueError, match="val_loss"):
        plot_generalization_gap({"x": {"loss": [1]}})


def test_quality_vs_cost_places_each_model_in_both_panels():
    records = {
        "a": {"multiply_adds": 2e6, "seconds_per_epoch": 10.0, "psnr": 20.0},
        "b": {"multiply_adds": 4e6, "seconds_per_epoch": 30.0, "psnr": 22.0},
    }
    figure = plot_quality_vs_cost(records)
    left, right = figure.get_axes()
    np.testing.assert_allclose(left.collections[1].get_offsets(), [[4.0, 22.0]])
    np.testing.assert_allclose(right.collections[0].get_offsets(), [[10.0, 20.0]])
    assert [text.get_text() for text in left.texts] == ["a", "b"]
    with pytest.raises(ValueError, match="seconds_per_epoch"):
        plot_quality_vs_cost({"a": {"multiply_adds": 1, "psnr": 1}})
    with pytest.raises(ValueError, match="non-empty mapping"):
        plot_quality_vs_cost({})


def test_metric_vs_noise_marks_training_levels():
    figure = plot_metric_vs_noise(
        [0.1, 0.5, 0.9], {"fixed": [25, 20, 15], "blind": [24, 20, 17]}, trained_at={"fixed": 0.5, "blind": (0.1, 0.9)}
    )
    axis = figure.get_axes()[0]
    assert len(axis.get_lines()) == 3 and len(axis.patches) == 1  # two curves and one vline; one band
    with pytest.raises(ValueError, match="one per level"):
        plot_metric_vs_noise([0.1, 0.5], {"a": [1.0]})


def test_score_spread_draws_one_histogram_per_metric_and_the_reference_lines():
    scores = {"PSNR (dB)": np.array([20.1, 20.4, 20.5]), "SSIM": np.array([0.86, 0.87, 0.88])}
    marks = {"paper": {"PSNR (dB)": 20.38, "SSIM": 0.8655}, "book": {"PSNR (dB)": 20.2, "SSIM": 0.862}}
    figure = plot_score_spread(scores, marks=marks, bins=3)
    axes = figure.get_axes()
    assert [axis.get_xlabel() for axis in axes] == ["PSNR (dB)", "SSIM"]
    assert sum(patch.get_height() for patch in axes[0].patches) == 3
    assert [line.get_xdata()[0] for line in axes[1].get_lines()] == [0.8655, 0.862]
    with pytest.raises(ValueError, match="'SSIM'"):
        plot_score_spread(scores, marks={"paper": {"PSNR (dB)": 20.38}})
    with pytest.raises(ValueError, match="at least 2 scores"):
        plot_score_spread({"SSIM": np.array([0.8])}, marks={"paper": {"SSIM": 0.8655}})


def test_latent_codes_one_panel_per_encoder_coloured_by_digit():
    codes = np.arange(20, dtype=float).reshape(10, 2)
    figure = plot_latent_codes({"PCA": codes, "autoencoder": -codes}, np.arange(10))
    panels = [axis for axis in figure.get_axes() if axis.get_title()]
    assert [axis.get_title() for axis in panels] == ["PCA", "autoencoder"]
    np.testing.assert_array_equal(panels[1].collections[0].get_offsets(), -codes)
    with pytest.raises(ValueError, match=r"shape \(10, 2\)"):
        plot_latent_codes({"PCA": codes[:, :1]}, np.arange(10))
