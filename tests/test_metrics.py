import numpy as np
import pytest
from scipy import stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dae_utils.metrics import evaluate, psnr_per_image, ssim_per_image, summarize
from dae_utils.noise import add_gaussian_noise


def test_psnr_matches_its_definition(digits):
    noisy = add_gaussian_noise(digits, 0.2, seed=0)
    mse = np.mean((digits.astype(np.float64) - noisy) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(psnr_per_image(digits, noisy), 10 * np.log10(1 / mse), rtol=1e-10)


def test_identical_images_score_inf_and_one(digits):
    assert np.all(np.isinf(psnr_per_image(digits, digits)))
    np.testing.assert_allclose(ssim_per_image(digits, digits), 1.0)


def test_ssim_drops_the_channel_axis_and_uses_data_range_one(digits):
    noisy = add_gaussian_noise(digits, 0.3, seed=1)
    expected = [structural_similarity(c[..., 0], n[..., 0], data_range=1.0) for c, n in zip(digits, noisy, strict=True)]
    np.testing.assert_allclose(ssim_per_image(digits, noisy), expected)
    np.testing.assert_allclose(ssim_per_image(digits[..., 0], noisy[..., 0]), expected)


@pytest.mark.parametrize("shape", [(5, 28, 28), (3, 9, 13), (2, 7, 7)])
def test_the_batch_scores_each_image_as_scikit_image_does_alone(rng, shape):
    # the package scores a whole batch at once; scikit-image, the reference, one image per call
    clean = rng.random(shape)
    denoised = np.clip(clean + rng.normal(0, 0.2, shape), 0, 1)
    pairs = list(zip(clean, denoised, strict=True))
    np.testing.assert_allclose(
        psnr_per_image(clean, denoised), [peak_signal_noise_ratio(c, d, data_range=1.0) for c, d in pairs], rtol=1e-12
    )
    np.testing.assert_allclose(
        ssim_per_image(clean, denoised), [structural_similarity(c, d, data_range=1.0) for c, d in pairs], rtol=1e-12
    )


def test_ssim_in_chunks_equals_ssim_at_once(digits, monkeypatch):
    from dae_utils import metrics

    noisy = add_gaussian_noise(digits, 0.3, seed=2)
    at_once = ssim_per_image(digits, noisy)
    monkeypatch.setattr(metrics, "SSIM_CHUNK", 3)  # the batch spans several chunks, the last one short
    assert len(digits) % 3 != 0
    np.testing.assert_array_equal(metrics.ssim_per_image(digits, noisy), at_once)


def test_more_noise_scores_worse(digits):
    light = evaluate(digits, add_gaussian_noise(digits, 0.1, seed=0))
    heavy = evaluate(digits, add_gaussian_noise(digits, 0.5, seed=0))
    assert light.psnr.mean > heavy.psnr.mean + 5
    assert light.ssim.mean > heavy.ssim.mean


def test_summary_uses_a_student_t_interval():
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    summary = summarize(values)
    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)
    assert summary.mean == pytest.approx(4.0)
    assert summary.std == pytest.approx(values.std(ddof=1))
    assert summary.ci95_low == pytest.approx(4.0 - half)
    assert summary.ci95_high == pytest.approx(4.0 + half)
    assert summary.n == 5


def test_evaluation_to_dict_holds_plain_numbers(digits):
    result = evaluate(digits, add_gaussian_noise(digits, 0.2, seed=0)).to_dict()
    assert result["n"] == len(digits)
    assert set(result["psnr"]) == {"mean", "std", "ci95_low", "ci95_high", "n"}


@pytest.mark.parametrize(
    ("clean", "denoised", "error", "message"),
    [
        (np.zeros((2, 28, 28, 1)), np.zeros((3, 28, 28, 1)), ValueError, "same shape"),
        (np.zeros((2, 28, 28, 1), dtype=np.uint8), np.zeros((2, 28, 28, 1)), TypeError, "floats"),
        (np.zeros((2, 28, 28, 1)), np.full((2, 28, 28, 1), np.nan), ValueError, "finite"),
        (np.zeros((2, 28, 28, 1)), np.full((2, 28, 28, 1), 2.0), ValueError, r"\[0, 1\]"),
        (np.zeros((28, 28)), np.zeros((28, 28)), ValueError, "dimensions"),
        (np.zeros((2, 28, 28, 3)), np.zeros((2, 28, 28, 3)), ValueError, "grey channel"),
    ],
)
def test_bad_input_raises_a_clear_error(clean, denoised, error, message):
    with pytest.raises(error, match=message):
        evaluate(clean, denoised)


def test_ssim_needs_images_of_at_least_seven_pixels():
    with pytest.raises(ValueError, match="7x7"):
        ssim_per_image(np.zeros((2, 5, 5)), np.zeros((2, 5, 5)))


@pytest.mark.parametrize("values", [np.array([]), np.zeros((2, 2)), np.array([1.0, np.nan])])
def test_summarize_rejects_bad_values(values):
    with pytest.raises(ValueError, match="1-D"):
        summarize(values)


def test_first_n_equals_scoring_the_first_n_images_alone(digits, rng):
    denoised = np.clip(digits + rng.normal(0, 0.1, digits.shape), 0, 1).astype("float32")
    whole, head = evaluate(digits, denoised).first(3), evaluate(digits[:3], denoised[:3])
    assert whole.psnr == head.psnr and whole.ssim == head.ssim
    with pytest.raises(ValueError, match="at most 8"):
        evaluate(digits, denoised).first(9)
