import numpy as np
import pytest

from dae_utils.baselines import (
    METHODS,
    Method,
    apply_method,
    clipped_mean,
    clipped_mean_inverse,
    fit_linear_filter,
    tune,
)
from dae_utils.metrics import psnr_per_image
from dae_utils.noise import add_gaussian_noise


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_clipped_mean_matches_a_monte_carlo_estimate(value):
    noisy = add_gaussian_noise(np.full((400, 500), value), 0.5, seed=0)
    assert float(clipped_mean(np.array(value), 0.5)) == pytest.approx(noisy.mean(), abs=2e-3)


def test_clipped_mean_inverse_undoes_it():
    grid = np.linspace(0, 1, 21)
    np.testing.assert_allclose(clipped_mean_inverse(clipped_mean(grid, 0.4), 0.4), grid, atol=1e-3)
    assert clipped_mean_inverse(np.array([0.0, 1.0]), 0.5).tolist() == [0.0, 1.0]  # outside f's range
    np.testing.assert_array_equal(clipped_mean(grid, 0.0), grid)


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_keeps_shape_and_range_and_removes_noise(name, digits):
    noisy = add_gaussian_noise(digits[:2], 0.3, seed=0)
    method = METHODS[name]
    estimate = apply_method(method, noisy, method.grid[len(method.grid) // 2], debias_std=0.3)
    assert estimate.shape == noisy.shape and estimate.dtype == np.float32
    assert estimate.min() >= 0 and estimate.max() <= 1
    assert psnr_per_image(digits[:2], estimate).mean() > psnr_per_image(digits[:2], noisy).mean()


def test_bm3d_runs_on_one_thread(monkeypatch):
    import bm3d

    profiles = []

    def recording(image, *, sigma_psd, profile):
        profiles.append(profile)
        return image

    monkeypatch.setattr(bm3d, "bm3d", recording)
    METHODS["BM3D"].function(np.zeros((8, 8)), 0.25)
    assert [profile.num_threads for profile in profiles] == [1]  # deterministic, and no spinning thread pool


def test_tune_returns_the_best_value_for_each_variant(digits):
    noisy = add_gaussian_noise(digits, 0.5, seed=0)
    tuned = tune(METHODS["Gaussian filter"], digits, noisy, noise_std=0.5)
    for kind in ("raw", "debiased"):
        scores = tuned[kind]["scores"]
        assert set(scores) == set(METHODS["Gaussian filter"].grid)
        assert scores[tuned[kind]["best"]] == max(scores.values())
    assert max(tuned["debiased"]["scores"].values()) > max(tuned["raw"]["scores"].values())


def test_tune_measures_the_margin_over_the_runner_up_image_by_image(digits):
    method = METHODS["Gaussian filter"]
    noisy = add_gaussian_noise(digits, 0.5, seed=0)
    tuned = tune(method, digits, noisy, noise_std=0.5)["raw"]
    scores = tuned["scores"]
    assert tuned["runner_up"] == sorted(scores, key=scores.get)[-2]
    best = psnr_per_image(digits, apply_method(method, noisy, tuned["best"]))
    second = psnr_per_image(digits, apply_method(method, noisy, tuned["runner_up"]))
    differences = best - second  # by hand: the paired differences the margin summarises
    margin = tuned["margin"]
    assert margin["n"] == len(digits)
    np.testing.assert_allclose(margin["mean"], differences.mean(), rtol=1e-12)
    np.testing.assert_allclose(margin["std"], differences.std(ddof=1), rtol=1e-12)
    assert margin["mean"] > 0 and margin["ci95_low"] < margin["mean"] < margin["ci95_high"]
    single = Method("one value", "sigma", (1.0,), method.function)
    assert tune(single, digits, noisy, noise_std=0.5)["debiased"]["margin"] is None


def test_linear_filter_learns_a_known_linear_map(rng):
    clean = rng.uniform(0.2, 0.8, size=(30, 12, 12, 1)).astype(np.float32)
    shifted = (0.5 * clean + 0.1).astype(np.float32)  # a linear corruption the filter can undo exactly
    restore = fit_linear_filter(clean, shifted, size=3)
    np.testing.assert_allclose(restore(shifted), clean, atol=1e-4)
    assert restore.weights[4] == pytest.approx(2.0, abs=1e-3) and restore.weights[-1] == pytest.approx(-0.2, abs=1e-3)


def test_bad_input_raises_clear_errors(digits):
    with pytest.raises(ValueError, match="odd positive"):
        fit_linear_filter(digits, digits, size=4)
    with pytest.raises(TypeError, match="floats"):
        apply_method(METHODS["median filter"], (digits * 255).astype(np.uint8), 3)
    with pytest.raises(ValueError, match="std"):
        clipped_mean(np.zeros(3), -1.0)
