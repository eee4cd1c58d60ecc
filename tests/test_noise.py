import numpy as np
import pytest
from scipy import stats

from dae_utils.noise import add_gaussian_noise, add_poisson_noise, add_salt_and_pepper, mask_pixels


def test_shape_dtype_and_range_are_kept(digits):
    noisy = add_gaussian_noise(digits, 0.5, seed=0)
    assert noisy.shape == digits.shape
    assert noisy.dtype == np.float32
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


def test_same_seed_same_noise_and_different_seed_different_noise(digits):
    np.testing.assert_array_equal(add_gaussian_noise(digits, seed=3), add_gaussian_noise(digits, seed=3))
    assert not np.array_equal(add_gaussian_noise(digits, seed=3), add_gaussian_noise(digits, seed=4))


def test_input_is_never_modified(digits):
    before = digits.copy()
    add_gaussian_noise(digits, 0.5, seed=0)
    np.testing.assert_array_equal(digits, before)


def test_matches_the_formula_written_out(digits):
    expected = np.clip(digits + 0.5 * np.random.default_rng(7).standard_normal(digits.shape), 0, 1)
    np.testing.assert_array_equal(add_gaussian_noise(digits, 0.5, seed=7), expected.astype(np.float32))


def test_zero_std_returns_the_images():
    images = np.full((2, 8, 8), 0.25, dtype=np.float64)
    np.testing.assert_array_equal(add_gaussian_noise(images, 0.0, seed=1), images)


def test_unclipped_noise_has_the_requested_std():
    grey = np.full((200, 28, 28), 0.5, dtype=np.float64)
    added = add_gaussian_noise(grey, 0.3, seed=0, clip=False) - grey
    assert abs(added.std() - 0.3) < 0.003
    assert abs(added.mean()) < 0.003


def test_clipping_biases_the_black_background_as_the_truncated_normal_predicts():
    sigma = 0.5
    black = np.zeros((200, 28, 28), dtype=np.float64)
    added = add_gaussian_noise(black, sigma, seed=0)
    # E[clip(sigma Z, 0, 1)] = sigma (phi(0) - phi(1/sigma)) + P(Z > 1/sigma)
    expected = sigma * (stats.norm.pdf(0) - stats.norm.pdf(1 / sigma)) + stats.norm.sf(1 / sigma)
    assert added.min() == 0.0
    assert abs(added.mean() - expected) < 0.002
    assert expected < sigma / np.sqrt(2 * np.pi)  # the upper clip takes a little off


@pytest.mark.parametrize(
    ("images", "kwargs", "error", "message"),
    [
        (np.zeros((2, 28, 28), dtype=np.uint8), {}, TypeError, "astype"),
        (np.full((2, 4, 4), np.nan), {}, ValueError, "finite"),
        (np.full((2, 4, 4), 1.5), {}, ValueError, r"\[0, 1\]"),
        (np.zeros((4,)), {}, ValueError, "dimensions"),
        ("not an image", {}, TypeError, "floats"),
        (np.zeros((2, 4, 4)), {"std": -0.1}, ValueError, "std"),
        (np.zeros((2, 4, 4)), {"std": float("inf")}, ValueError, "std"),
        (np.zeros((2, 4, 4)), {"std": "0.5"}, TypeError, "std"),
        (np.zeros((2, 4, 4)), {"seed": -1}, ValueError, "seed"),
        (np.zeros((2, 4, 4)), {"seed": 1.5}, TypeError, "seed"),
        (np.zeros((2, 4, 4)), {"seed": None}, TypeError, "seed"),
    ],
)
def test_bad_input_raises_a_clear_error(images, kwargs, error, message):
    arguments = {"seed": 0, **kwargs}
    with pytest.raises(error, match=message):
        add_gaussian_noise(images, **arguments)


def test_salt_and_pepper_replaces_the_requested_fraction_with_black_or_white():
    grey = np.full((20, 28, 28, 1), 0.5, dtype="float32")
    noisy = add_salt_and_pepper(grey, 0.3, seed=0)
    hit = noisy != 0.5
    assert abs(hit.mean() - 0.3) < 0.01
    assert set(np.unique(noisy[hit])) == {0.0, 1.0} and abs(noisy[hit].mean() - 0.5) < 0.02
    np.testing.assert_array_equal(noisy, add_salt_and_pepper(grey, 0.3, seed=0))


def test_poisson_noise_keeps_black_black_and_the_mean_of_grey():
    images = np.zeros((50, 28, 28, 1), dtype="float32")
    images[:, :, :14] = 0.25
    noisy = add_poisson_noise(images, 20.0, seed=0)
    assert noisy[:, :, 14:].max() == 0.0
    grey = noisy[:, :, :14]
    assert abs(grey.mean() - 0.25) < 0.005
    assert abs(grey.var() - 0.25 / 20.0) < 0.001  # Var[N / peak] = x / peak
    assert noisy.dtype == np.float32


def test_masking_drops_the_requested_fraction_to_black():
    white = np.ones((20, 28, 28, 1), dtype="float32")
    masked = mask_pixels(white, 0.4, seed=0)
    assert set(np.unique(masked)) == {0.0, 1.0} and abs((masked == 0).mean() - 0.4) < 0.01
    np.testing.assert_array_equal(mask_pixels(white, 0.0, seed=0), white)


@pytest.mark.parametrize(
    ("function", "kwargs", "error", "message"),
    [
        (add_salt_and_pepper, {"amount": 1.5}, ValueError, "amount"),
        (add_salt_and_pepper, {"amount": "0.1"}, TypeError, "amount"),
        (add_poisson_noise, {"peak": 0.0}, ValueError, "peak"),
        (add_poisson_noise, {"peak": -1.0}, ValueError, "peak"),
        (mask_pixels, {"fraction": -0.1}, ValueError, "fraction"),
        (mask_pixels, {"fraction": 0.5, "seed": -1}, ValueError, "seed"),
    ],
)
def test_other_corruptions_reject_bad_input(function, kwargs, error, message):
    with pytest.raises(error, match=message):
        function(np.zeros((2, 4, 4)), **{"seed": 0, **kwargs})
