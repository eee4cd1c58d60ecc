"""Sample-quality measures against independent references (SciPy, brute force)."""

import numpy as np
import pytest
import scipy.linalg

from dae_utils.sample_quality import (
    GREY_HIGH,
    GREY_LOW,
    TARGETS,
    class_shares,
    frechet_distance,
    grey_share,
    meets_targets,
    nearest_distances,
    pca_gaussian_images,
)


def frechet_by_scipy(first, second):
    mean_1, mean_2 = first.mean(axis=0), second.mean(axis=0)
    cov_1, cov_2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root = scipy.linalg.sqrtm(cov_1 @ cov_2).real
    return float(np.sum((mean_1 - mean_2) ** 2) + np.trace(cov_1 + cov_2 - 2 * root))


def test_frechet_distance_agrees_with_scipys_matrix_square_root():
    rng = np.random.default_rng(0)
    first = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    second = rng.standard_normal((400, 6)) * 2 + 1
    assert frechet_distance(first, second) == pytest.approx(frechet_by_scipy(first, second), rel=1e-6)
    assert frechet_distance(first, first) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_refuses_mismatched_features():
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_nearest_distances_are_the_brute_force_minimum():
    rng = np.random.default_rng(1)
    images, reference = rng.random((7, 28, 28, 1)), rng.random((30, 28, 28, 1))
    brute = [min(np.linalg.norm(a - b) for b in reference) for a in images]
    np.testing.assert_allclose(nearest_distances(images, reference, batch_size=3), brute, rtol=1e-4)
    assert nearest_distances(reference[:4], reference).max() < 1e-2  # an image's nearest neighbour is itself


def test_the_pca_baseline_is_reproducible_and_in_range():
    training = np.random.default_rng(2).random((100, 28, 28, 1)).astype(np.float32)
    first = pca_gaussian_images(training, 10, components=5, seed=0)
    assert first.shape == (10, 28, 28, 1) and first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(first, pca_gaussian_images(training, 10, components=5, seed=0))


def test_class_shares_count_the_most_probable_class():
    probabilities = np.eye(10)[[3, 3, 7, 0]]
    shares = class_shares(probabilities)
    assert shares[3] == 0.5 and shares[7] == 0.25 and sum(shares) == pytest.approx(1.0)


def test_grey_share_counts_the_pixels_strictly_between_background_and_ink():
    images = np.zeros((2, 28, 28, 1), dtype="float32")
    images[0, :7] = 0.5  # a quarter of the first image is grey
    images[1, :14] = 1.0  # ink is not grey
    images[1, 14, :2] = GREY_LOW  # nor are the two limits themselves
    images[1, 15, :2] = GREY_HIGH
    np.testing.assert_allclose(grey_share(images), [0.25, 0.0])
    np.testing.assert_allclose(grey_share(images[..., 0]), [0.25, 0.0])


def _scores(confident, shares, agreement):
    return {
        "unconditional": {"confident_share": confident, "class_shares": shares},
        "conditional": {"agreement": agreement},
    }


def test_meets_targets_judges_each_target_at_its_boundary():
    even = [0.1] * 10
    at_the_targets = _scores(TARGETS.confident_share, even, TARGETS.agreement)
    assert meets_targets(at_the_targets) == {"confident_share": True, "class_shares": True, "agreement": True}
    below = _scores(TARGETS.confident_share - 0.001, even, TARGETS.agreement - 0.001)
    assert meets_targets(below) == {"confident_share": False, "class_shares": True, "agreement": False}
    lopsided = [TARGETS.class_share_low - 0.01] + [0.1] * 8 + [0.11 + 0.01]
    assert meets_targets(_scores(1.0, lopsided, 1.0))["class_shares"] is False
    at_the_edges = [TARGETS.class_share_low, TARGETS.class_share_high] + [0.1] * 8
    assert meets_targets(_scores(1.0, at_the_edges, 1.0))["class_shares"] is True


def test_meets_targets_refuses_what_is_not_a_generators_scores():
    with pytest.raises(ValueError, match="Expected the scores of score_generator"):
        meets_targets({"test": {"psnr": 20.0}})


def test_meets_targets_judges_the_unconditional_samples_asked_for():
    scores = _scores(0.5, [0.1] * 10, 1.0)
    scores["autoguided"] = {"confident_share": TARGETS.confident_share, "class_shares": [0.1] * 10}
    assert meets_targets(scores)["confident_share"] is False
    assert meets_targets(scores, unconditional="autoguided")["confident_share"] is True
    with pytest.raises(ValueError, match="with 'autoguided' and 'conditional' entries"):
        meets_targets(_scores(1.0, [0.1] * 10, 1.0), unconditional="autoguided")
    with pytest.raises(ValueError, match="Received: 'guided'"):
        meets_targets(scores, unconditional="guided")
