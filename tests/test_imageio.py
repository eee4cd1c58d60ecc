import numpy as np
import pytest

from dae_utils.imageio import read_grey_png, write_grey_png


def test_round_trip_to_eight_bits(tmp_path, rng):
    image = rng.uniform(size=(28, 28)).astype(np.float32)
    write_grey_png(tmp_path / "x.png", image)
    restored = read_grey_png(tmp_path / "x.png")
    assert restored.shape == (28, 28) and restored.dtype == np.float32
    np.testing.assert_allclose(restored, np.round(image * 255) / 255, atol=1e-6)


def test_colour_images_are_converted_to_grey(tmp_path):
    from PIL import Image

    Image.new("RGB", (28, 28), (255, 255, 255)).save(tmp_path / "white.png")
    np.testing.assert_allclose(read_grey_png(tmp_path / "white.png"), 1.0)


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No image file"):
        read_grey_png(tmp_path / "missing.png")
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(ValueError, match="Could not read"):
        read_grey_png(tmp_path / "garbage.png")
    write_grey_png(tmp_path / "odd.png", np.zeros((27, 28)))
    with pytest.raises(ValueError, match="multiples of 4"):
        read_grey_png(tmp_path / "odd.png")


def test_write_rejects_bad_images(tmp_path):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_grey_png(tmp_path / "x.png", np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match="dimensions"):
        write_grey_png(tmp_path / "x.png", np.zeros((1, 4, 4)))
