"""Part III's denoiser: EDM's preconditioning by hand, the training batches, guidance, bad input."""

import numpy as np
import pytest

from dae_utils.generative import (
    LABEL_DROPOUT,
    NULL_LABEL,
    P_MEAN,
    P_STD,
    SIGMA_DATA,
    Autoguided,
    Denoiser,
    build_edm_unet,
    check_autoguidance,
    check_guidance,
    check_guidance_interval,
    check_labels,
    check_sigma,
    edm_batches,
    edm_validation_set,
    from_model_scale,
    preconditioning,
    to_model_scale,
)


@pytest.mark.parametrize("sigma", [0.002, 0.1, SIGMA_DATA, 3.0, 80.0])
def test_preconditioning_is_karras_table_1_by_hand(sigma):
    c_skip, c_out, c_in, c_noise = preconditioning(sigma)
    total = sigma**2 + SIGMA_DATA**2
    assert c_skip == pytest.approx(SIGMA_DATA**2 / total)
    assert c_out == pytest.approx(sigma * SIGMA_DATA / np.sqrt(total))
    assert c_in == pytest.approx(1 / np.sqrt(total))
    assert c_noise == pytest.approx(np.log(sigma) / 4)
    # The network's input has unit variance when the data's std is SIGMA_DATA, and its effective
    # target too: Var(x - c_skip (x + sigma n)) / c_out^2 = 1.
    assert c_in**2 * total == pytest.approx(1.0)
    target_variance = ((1 - c_skip) ** 2 * SIGMA_DATA**2 + c_skip**2 * sigma**2) / c_out**2
    assert target_variance == pytest.approx(1.0)


def test_a_network_that_outputs_the_effective_target_denoises_perfectly():
    (inputs, c_noise, _), target = edm_validation_set(
        np.random.default_rng(0).random((16, 28, 28, 1)), np.arange(16) % 10, seed=0
    )
    sigma = np.exp(4 * c_noise).reshape(-1, 1, 1, 1)
    c_skip, c_out, c_in, _ = preconditioning(sigma)
    noisy = inputs / c_in
    clean = c_skip * noisy + c_out * target  # D with F = the effective target
    images = np.random.default_rng(0).random((16, 28, 28, 1))
    np.testing.assert_allclose(clean, to_model_scale(images), atol=1e-4)


def test_batches_are_reproducible_change_every_epoch_and_drop_the_share_of_labels_asked_for():
    images = np.random.default_rng(1).random((2_000, 28, 28, 1)).astype(np.float32)
    labels = np.arange(2_000) % 10
    first, second = (
        edm_batches(images, labels, batch_size=1_000, seed=3),
        edm_batches(images, labels, batch_size=1_000, seed=3),
    )
    assert len(first) == 2
    (a_inputs, a_noise, a_labels), a_target = first[0]
    (b_inputs, _, _), b_target = second[0]
    np.testing.assert_array_equal(a_inputs, b_inputs)
    np.testing.assert_array_equal(a_target, b_target)
    assert a_inputs.dtype == np.float32 and a_noise.shape == (1_000, 1) and a_labels.shape == (1_000, 1)
    first.set_epoch(1)
    assert not np.array_equal(first[0][1], a_target)
    assert np.mean(a_labels == NULL_LABEL) == pytest.approx(LABEL_DROPOUT, abs=0.03)
    (half_inputs, half_noise, half_dropped), half_target = edm_batches(
        images, labels, batch_size=1_000, seed=3, label_dropout=0.5
    )[0]
    assert np.mean(half_dropped == NULL_LABEL) == pytest.approx(0.5, abs=0.05)
    # Only the labels change: the images, levels and noise draw the same random numbers.
    np.testing.assert_array_equal(half_inputs, a_inputs)
    np.testing.assert_array_equal(half_noise, a_noise)
    np.testing.assert_array_equal(half_target, a_target)
    assert not np.any(edm_batches(images, labels, batch_size=1_000, seed=3, label_dropout=0.0)[0][0][2] == NULL_LABEL)


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("label_dropout", 1.0, ValueError),
        ("label_dropout", -0.1, ValueError),
        ("label_dropout", float("nan"), ValueError),
        ("label_dropout", "0.1", TypeError),
        ("label_dropout", True, TypeError),
        ("label_dropout", None, TypeError),
        ("p_mean", float("inf"), ValueError),
        ("p_mean", float("nan"), ValueError),
        ("p_mean", "0", TypeError),
        ("p_mean", None, TypeError),
    ],
)
def test_a_bad_label_dropout_or_p_mean_is_refused_with_what_was_received(option, value, error):
    images, labels = np.zeros((4, 28, 28, 1), np.float32), np.arange(4)
    message = rf"Expected `{option}`.*Received: {option}="
    with pytest.raises(error, match=message):
        edm_batches(images, labels, batch_size=2, seed=0, **{option: value})
    with pytest.raises(error, match=message):
        edm_validation_set(images, labels, seed=0, **{option: value})


def test_the_noise_levels_centre_on_the_p_mean_asked_for_and_default_to_P_MEAN():
    images = np.random.default_rng(1).random((2_000, 28, 28, 1)).astype(np.float32)
    labels = np.arange(2_000) % 10

    def log_sigmas(**options) -> np.ndarray:
        (_, noise_level, _), _ = edm_batches(images, labels, batch_size=2_000, seed=3, **options)[0]
        return 4 * noise_level[:, 0]  # c_noise = ln(sigma) / 4

    default = log_sigmas()
    np.testing.assert_allclose(default, log_sigmas(p_mean=P_MEAN), rtol=1e-6)
    for p_mean in (-1.2, 0.0, 1.5):
        shifted = log_sigmas(p_mean=p_mean)
        # The same standard normals, shifted: the mean moves and the spread (P_STD) stays.
        np.testing.assert_allclose(shifted - default, p_mean - P_MEAN, atol=1e-5)
        assert np.mean(shifted) == pytest.approx(p_mean, abs=0.1) and np.std(shifted) == pytest.approx(P_STD, rel=0.05)
    (_, curve_levels, _), _ = edm_validation_set(images[:500], labels[:500], seed=0, p_mean=2.0)
    assert np.mean(4 * curve_levels) == pytest.approx(2.0, abs=0.2)


def test_the_model_maps_three_inputs_to_an_image_and_reloads_in_safe_mode(tmp_path):
    import keras

    model = build_edm_unet(filters=8)
    batch = (np.zeros((2, 28, 28, 1), "float32"), np.zeros((2, 1), "float32"), np.array([[3], [NULL_LABEL]], "int32"))
    assert model.predict_on_batch(batch).shape == (2, 28, 28, 1)
    model.save(tmp_path / "edm.keras")
    reloaded = keras.models.load_model(tmp_path / "edm.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(reloaded.predict_on_batch(batch), model.predict_on_batch(batch), atol=1e-6)


class LabelEcho:
    """A stand-in network whose output is its label everywhere (to check the guidance arithmetic)."""

    def predict_on_batch(self, batch):
        _, _, labels = batch
        return np.broadcast_to(labels.reshape(-1, 1, 1, 1).astype(np.float32), (len(labels), 28, 28, 1))


def test_guidance_is_ho_and_salimans_rule():
    denoiser = Denoiser(LabelEcho())
    x = np.zeros((2, 28, 28, 1))
    sigma = 1.0
    c_skip, c_out, _, _ = preconditioning(sigma)
    for w in (0.0, 0.5, 2.0):
        output = denoiser(x, sigma, [3, 3], guidance=w)
        conditional, unconditional = 3.0, float(NULL_LABEL)
        expected = c_out * (unconditional + (1 + w) * (conditional - unconditional)) if w else c_out * conditional
        np.testing.assert_allclose(output, expected + c_skip * x)
    assert denoiser.evaluations == 2 + 4 + 4  # no guidance: one pass; guidance: two


class Constant:
    """A stand-in network whose output is one number everywhere, whatever its input."""

    def __init__(self, value):
        self.value = value

    def predict_on_batch(self, batch):
        return np.full((len(batch[0]), 28, 28, 1), self.value, np.float32)


def test_autoguidance_moves_away_from_the_weak_network_by_hand():
    main, weak = Denoiser(Constant(2.0)), Denoiser(Constant(0.5))
    guided = Autoguided(main, weak, scale=1.5)
    x = np.full((3, 28, 28, 1), 0.25)
    c_skip, c_out, _, _ = preconditioning(0.7)
    output = guided(x, 0.7)  # no label: an unconditional sampler can be guided
    d_main, d_weak = c_skip * 0.25 + c_out * 2.0, c_skip * 0.25 + c_out * 0.5
    np.testing.assert_allclose(output, d_weak + 2.5 * (d_main - d_weak))
    assert guided.evaluations == 3 + 3
    unguided = Autoguided(main, weak, scale=0)
    np.testing.assert_allclose(unguided(x, 0.7), d_main)
    assert weak.evaluations == 3  # scale 0: the weak network is not run


def test_autoguidance_in_an_interval_guides_only_the_levels_inside_it():
    main, weak = Denoiser(Constant(2.0)), Denoiser(LabelEcho())  # the guide's output depends on the label
    everywhere = Autoguided(main, weak, scale=1.5)
    limited = Autoguided(main, weak, scale=1.5, interval=(0.5, 2.0))
    x = np.arange(4, dtype=np.float64).reshape(4, 1, 1, 1) * np.ones((4, 28, 28, 1))  # each image its own
    labels, sigmas = np.array([1, 2, 3, 4]), np.array([0.5, 0.7, 2.0, 3.0])  # low edge out, high edge in
    output = limited(x, sigmas, labels)
    inside = np.array([False, True, True, False])
    np.testing.assert_allclose(output[inside], everywhere(x, sigmas, labels)[inside])
    np.testing.assert_allclose(output[~inside], main(x, sigmas, labels)[~inside])
    assert not np.allclose(output[inside], main(x, sigmas, labels)[inside])  # the guide did act there
    assert weak.evaluations == 2 + 4  # the guide ran on the two images inside, then on all four
    np.testing.assert_allclose(limited(x, 0.1), main(x, 0.1))  # a level outside: the main network alone
    assert weak.evaluations == 6
    np.testing.assert_array_equal(limited(x, 1.0, 7), everywhere(x, 1.0, 7))  # inside: the same numbers


@pytest.mark.parametrize(
    "interval", [(2.0, 1.0), (1.0, 1.0), (-0.1, 1.0), (0.0, float("inf")), (0.5,), "0.5, 2", (True, 2.0), [0.1, None]]
)
def test_guidance_interval_refuses_bad_input(interval):
    with pytest.raises(ValueError, match=r"Expected the guidance `interval` to be two finite noise levels"):
        Autoguided(Denoiser(Constant(1.0)), Denoiser(Constant(0.0)), scale=1.0, interval=interval)


def test_guidance_interval_accepts_none_and_pairs():
    assert check_guidance_interval(None) is None
    assert check_guidance_interval([0, 5]) == (0.0, 5.0)


def test_autoguidance_refuses_bad_input():
    main = Denoiser(Constant(1.0))
    with pytest.raises(TypeError, match=r"Expected `guide` to be a Denoiser\. Received: Constant"):
        Autoguided(main, Constant(0.0), scale=1.0)
    for scale in (-0.5, float("nan"), True, "2"):
        with pytest.raises(ValueError, match="finite number >= 0"):
            check_autoguidance(scale)
    with pytest.raises(ValueError, match="Expected guidance=0 with autoguidance"):
        Autoguided(main, main, scale=1.0)(np.zeros((1, 28, 28, 1)), 1.0, [3], guidance=1.0)


def test_scales_round_trip():
    images = np.linspace(0, 1, 28 * 28).reshape(1, 28, 28, 1)
    np.testing.assert_allclose(from_model_scale(to_model_scale(images)), images, atol=1e-6)


@pytest.mark.parametrize(
    ("check", "value", "error", "message"),
    [
        (check_sigma, 0.0, ValueError, "noise level"),
        (check_sigma, -1.0, ValueError, "Received: sigma=-1.0"),
        (check_sigma, "high", TypeError, "positive number"),
        (check_labels, [3, 11], ValueError, "values from 3 to 11"),
        (check_labels, [1.5], TypeError, "integers 0 to 9"),
        (check_guidance, float("nan"), ValueError, "finite number"),
        (check_guidance, float("inf"), ValueError, "Received: guidance=inf"),
    ],
)
def test_bad_input_is_refused_with_what_was_received(check, value, error, message):
    with pytest.raises(error, match=message):
        check(value)


def test_a_requested_digit_outside_0_to_9_is_refused():
    with pytest.raises(ValueError, match="digits 0 to 9"):
        check_labels([10], allow_null=False)
