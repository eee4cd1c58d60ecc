import keras
import numpy as np
import pytest
import scipy.linalg

from dae_utils.models import CODE_LAYER, build_dense_autoencoder
from dae_utils.representations import (
    fit_linear_denoiser,
    fit_linear_probe,
    fit_pca,
    layer_features,
    principal_angles,
)


@pytest.fixture(scope="module")
def pairs():
    """Clean 4x4 'images' with correlated pixels and their clipped noisy versions (D = 16)."""
    generator = np.random.default_rng(0)
    factors = generator.uniform(0.0, 1.0, size=(600, 3))
    clean = np.clip(factors @ generator.uniform(0.0, 0.5, size=(3, 16)), 0.0, 1.0).reshape(600, 4, 4, 1)
    noisy = np.clip(clean + 0.3 * generator.standard_normal(clean.shape), 0.0, 1.0)
    return clean.astype(np.float32), noisy.astype(np.float32)


def mse(first, second):
    return float(np.mean((np.asarray(first, np.float64) - np.asarray(second, np.float64)) ** 2))


def test_pca_matches_the_singular_value_decomposition(pairs):
    clean, _ = pairs
    pca = fit_pca(clean)
    flat = clean.reshape(len(clean), -1).astype(np.float64)
    _, singular, right = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(pca.variances, singular**2 / len(flat), atol=1e-10)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(16), atol=1e-10)
    # The leading directions agree up to sign (they are distinct: the variances differ).
    np.testing.assert_allclose(np.abs(np.sum(pca.components[:3] * right[:3], axis=1)), 1.0, atol=1e-8)


def test_pca_reconstruction_error_is_the_variance_left_out(pairs):
    clean, _ = pairs
    pca = fit_pca(clean)
    codes = pca.encode(clean, size=2)
    left_out = mse(pca.decode(codes), clean) * 16  # summed over the 16 pixels
    np.testing.assert_allclose(left_out, pca.variances[2:].sum(), rtol=1e-8)
    np.testing.assert_allclose(pca.reconstruct(clean, size=16), clean, atol=1e-6)


def test_linear_denoiser_is_least_squares_with_an_intercept(pairs):
    clean, noisy = pairs
    denoiser = fit_linear_denoiser(clean, noisy)
    design = np.hstack([noisy.reshape(600, -1), np.ones((600, 1))]).astype(np.float64)
    by_hand = np.clip(design @ np.linalg.lstsq(design, clean.reshape(600, -1), rcond=None)[0], 0, 1)
    np.testing.assert_allclose(denoiser(noisy).reshape(600, -1), by_hand, atol=1e-5)
    assert denoiser.rank == 16


def test_reduced_rank_maps_are_the_best_of_their_rank(pairs):
    clean, noisy = pairs
    full = fit_linear_denoiser(clean, noisy)
    unclipped = {}
    for rank in range(1, 17):
        reduced = full.with_rank(rank)
        assert reduced.rank == rank
        flat = reduced.clean_mean + (noisy.reshape(600, -1) - reduced.noisy_mean) @ reduced.matrix
        unclipped[rank] = mse(flat, clean.reshape(600, -1))
    assert all(unclipped[rank + 1] <= unclipped[rank] + 1e-12 for rank in range(1, 16))
    np.testing.assert_allclose(full.with_rank(16).matrix, full.matrix, atol=1e-10)
    # Another rank-3 map: the full map followed by projection on the clean images' top 3 PCA directions.
    top = fit_pca(clean).components[:3].T
    other = full.clean_mean + (noisy.reshape(600, -1) - full.noisy_mean) @ full.matrix @ top @ top.T
    assert unclipped[3] <= mse(other, clean.reshape(600, -1))


def test_without_noise_the_best_rank_k_map_is_pca(pairs):
    clean, _ = pairs
    reduced = fit_linear_denoiser(clean, clean).with_rank(3)
    np.testing.assert_allclose(reduced(clean), fit_pca(clean).reconstruct(clean, size=3), atol=1e-5)


def test_principal_angles_match_scipy():
    generator = np.random.default_rng(1)
    first, second = generator.standard_normal((3, 10)), generator.standard_normal((4, 10))
    expected = np.sort(np.degrees(scipy.linalg.subspace_angles(first.T, second.T)))
    np.testing.assert_allclose(principal_angles(first, second), expected, atol=1e-8)
    np.testing.assert_allclose(principal_angles(first, 2 * first[::-1]), 0.0, atol=1e-5)


def test_layer_features_of_a_dense_autoencoder(pairs):
    model = build_dense_autoencoder(code_size=3, hidden_units=8, input_shape=(4, 4, 1))
    codes = layer_features(model, pairs[0][:10], layer=CODE_LAYER, batch_size=4)
    assert codes.shape == (10, 3) and codes.dtype == np.float32
    assert model.output_shape == (None, 4, 4, 1) and model.name == "dense_autoencoder_3"
    with pytest.raises(ValueError, match="layer='nope'"):
        layer_features(model, pairs[0][:2], layer="nope")


def test_linear_probe_separates_separable_classes_and_is_seeded(tmp_path):
    generator = np.random.default_rng(2)
    labels = generator.integers(0, 3, size=300)
    features = generator.standard_normal((300, 5)) + 4.0 * np.eye(3, 5)[labels]
    options = {"validation": (features[:50], labels[:50]), "epochs": 6, "seed": 3}
    options |= {"batch_size": 32, "learning_rate": 0.05}
    probe = fit_linear_probe(features, labels, output_dir=tmp_path / "a", **options)
    again = fit_linear_probe(features, labels, output_dir=tmp_path / "b", **options)
    assert probe.accuracy(features, labels) > 0.95
    assert len(probe.history["val_accuracy"]) == options["epochs"]
    np.testing.assert_array_equal(probe.model.get_weights()[0], again.model.get_weights()[0])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda clean, noisy: fit_linear_denoiser(clean, noisy[:10]), ValueError, "shape"),
        (lambda clean, noisy: fit_linear_denoiser(clean, noisy).with_rank(0), ValueError, "rank"),
        (lambda clean, noisy: fit_linear_denoiser(clean, noisy).with_rank(17), ValueError, "at most 16"),
        (lambda clean, noisy: fit_linear_denoiser(clean, noisy)(clean[:, :2]), ValueError, "as fitted"),
        (lambda clean, noisy: fit_pca(clean).encode(clean, size=2.0), TypeError, "size"),
        (lambda clean, noisy: fit_pca(clean).decode(np.zeros((2, 17))), ValueError, "codes"),
        (lambda clean, noisy: principal_angles(np.zeros((3, 4)), np.zeros((2, 5))), ValueError, "same length"),
        (lambda clean, noisy: principal_angles(np.zeros((5, 4)), np.zeros((2, 4))), ValueError, "k <= D"),
        (lambda clean, noisy: fit_pca(clean * 2), ValueError, r"\[0, 1\]"),
    ],
)
def test_bad_input_is_named(pairs, call, error, message):
    with pytest.raises(error, match=message):
        call(*pairs)


@pytest.mark.parametrize(
    ("features", "labels", "message"),
    [
        (np.zeros(5), np.zeros(5, int), "features"),
        (np.zeros((5, 2)), np.zeros(4, int), "one non-negative integer label"),
        (np.zeros((5, 2)), np.full(5, 0.5), "one non-negative integer label"),
    ],
)
def test_linear_probe_rejects_bad_features(tmp_path, features, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_linear_probe(features, labels, validation=(features, labels), epochs=1, seed=0, output_dir=tmp_path)


def test_dense_autoencoder_rejects_a_bad_code_size():
    with pytest.raises(ValueError, match="code_size"):
        build_dense_autoencoder(code_size=0)
    assert isinstance(build_dense_autoencoder(code_size=2), keras.Model)
