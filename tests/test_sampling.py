"""The samplers against exact answers: Gaussian data, whose ideal denoiser is known in closed form."""

import numpy as np
import pytest

from dae_utils.generative import SIGMA_MAX, SIGMA_MIN
from dae_utils.sampling import RHO, ancestral_sample, edm_sigmas, heun_sample, prior_labels

DATA_STD = 0.3  # every pixel ~ N(0, 0.3^2) on the model's scale


class GaussianDenoiser:
    """The exact MMSE denoiser of N(0, DATA_STD^2) pixels: D(x; sigma) = s^2 / (s^2 + sigma^2) x."""

    evaluations = 0

    def __call__(self, x, sigma, labels=None, *, guidance=0.0):
        self.evaluations += len(x)
        return DATA_STD**2 / (DATA_STD**2 + sigma**2) * x


def to_model(images):
    return 2.0 * images - 1.0  # the samplers return [0, 1] images, clipped


def test_the_schedule_is_edm_by_hand():
    sigmas = edm_sigmas(18)
    assert len(sigmas) == 19 and sigmas[-1] == 0.0
    assert sigmas[0] == pytest.approx(SIGMA_MAX) and sigmas[-2] == pytest.approx(SIGMA_MIN)
    i = 5
    expected = (SIGMA_MAX ** (1 / RHO) + i / 17 * (SIGMA_MIN ** (1 / RHO) - SIGMA_MAX ** (1 / RHO))) ** RHO
    assert sigmas[i] == pytest.approx(expected)
    assert np.all(np.diff(sigmas) < 0)


def test_heun_maps_noise_to_the_data_distribution_with_2n_minus_1_evaluations():
    """The exact flow carries N(0, 80^2) noise to N(0, s^2); the discretised one converges to it
    (measured: 18 steps 6% too wide, 50 steps 0.6%, 200 steps 0.05%)."""
    denoiser = GaussianDenoiser()
    images = heun_sample(denoiser, count=100, steps=18, seed=0)
    assert denoiser.evaluations == 100 * (2 * 18 - 1)
    assert to_model(images).std() == pytest.approx(DATA_STD, rel=0.1)
    values = to_model(heun_sample(denoiser, count=100, steps=200, seed=0))
    assert values.std() == pytest.approx(DATA_STD, rel=0.005)
    assert abs(values.mean()) < 0.01


def test_heun_is_deterministic_and_the_ancestral_sampler_is_not_across_seeds():
    denoiser = GaussianDenoiser()
    np.testing.assert_array_equal(
        heun_sample(denoiser, count=3, steps=5, seed=1), heun_sample(denoiser, count=3, steps=5, seed=1)
    )
    first = ancestral_sample(denoiser, count=3, steps=5, seed=1)
    np.testing.assert_array_equal(first, ancestral_sample(denoiser, count=3, steps=5, seed=1))
    assert not np.array_equal(first, ancestral_sample(denoiser, count=3, steps=5, seed=2))


def test_ancestral_samples_from_a_noisy_image_follow_the_exact_posterior():
    """Prior N(0, s^2), observation y at sigma: posterior N(s^2 y / (s^2 + sigma^2), s^2 sigma^2 / (s^2 + sigma^2)).

    Each step plugs in the denoiser's mean where the clean image's whole posterior belongs, which
    loses a little spread per step; the loss vanishes as steps shrink (40 steps: 6% too narrow,
    300 steps: 1%)."""
    sigma = 0.4
    y = np.full((1, 28, 28, 1), 0.5)
    draws = to_model(
        np.concatenate(
            [
                ancestral_sample(GaussianDenoiser(), start=y, sigma_start=sigma, steps=300, seed=seed)
                for seed in range(20)
            ]
        )
    )
    shrink = DATA_STD**2 / (DATA_STD**2 + sigma**2)
    assert draws.mean() == pytest.approx(shrink * 0.5, abs=0.01)
    assert draws.std() == pytest.approx(np.sqrt(shrink) * sigma, rel=0.02)


def test_the_callback_sees_every_step():
    seen = []
    heun_sample(GaussianDenoiser(), [1, 2], steps=4, seed=0, callback=lambda step, x, denoised: seen.append(step))
    assert seen == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"labels": [3], "steps": 0}, ValueError, "steps"),
        ({"labels": [12]}, ValueError, "values from 12 to 12"),
        ({"labels": [3], "guidance": float("inf")}, ValueError, "finite number"),
        ({"count": None}, ValueError, "Expected `labels`"),
    ],
)
def test_bad_input_is_refused(options, error, message):
    with pytest.raises(error, match=message):
        heun_sample(GaussianDenoiser(), **options)


def test_a_non_positive_starting_level_is_refused():
    with pytest.raises(ValueError, match="noise level"):
        ancestral_sample(GaussianDenoiser(), count=1, sigma_start=0.0)


def test_prior_labels_follow_the_training_frequencies_and_the_seed():
    training_labels = np.repeat(np.arange(10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 55])  # a skewed set: 55% nines
    drawn = prior_labels(training_labels, 20_000, seed=3)
    assert drawn.dtype == np.int32 and drawn.shape == (20_000,)
    shares = np.bincount(drawn, minlength=10) / len(drawn)
    expected = np.bincount(training_labels, minlength=10) / len(training_labels)
    assert np.max(np.abs(shares - expected)) < 0.01  # the largest standard error here is 0.0035
    assert np.array_equal(prior_labels(training_labels, 50, seed=3), drawn[:50])
    assert not np.array_equal(prior_labels(training_labels, 50, seed=4), drawn[:50])
    assert set(prior_labels(np.array([7, 7]), 10).tolist()) == {7}  # a digit absent from the set is never drawn


@pytest.mark.parametrize(
    ("training_labels", "count", "error", "message"),
    [
        (np.array([1, 10]), 5, ValueError, "0 to 9"),
        (np.array([0.5]), 5, TypeError, "integers"),
        (np.array([], dtype=int), 5, ValueError, "non-empty 1-D"),
        (np.array([[1, 2]]), 5, ValueError, "non-empty 1-D"),
        (np.array([1, 2]), 0, ValueError, "count"),
    ],
    ids=["the null label", "not integers", "empty", "two-dimensional", "no digits asked for"],
)
def test_prior_labels_refuse_bad_input(training_labels, count, error, message):
    with pytest.raises(error, match=message):
        prior_labels(training_labels, count)
