"""Reading real-world photos: EXIF orientation, gray, alpha, 16-bit, CMYK, corrupt; writing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from deeplab.portrait import io as portrait_io


def asymmetric_rgb() -> np.ndarray:
    """A 20x30 image whose orientation is unambiguous: red top-left block, green elsewhere."""
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, :, 1] = 200
    image[:5, :8] = (255, 0, 0)
    return image


@pytest.mark.parametrize("orientation, expected_shape, red_corner", [
    (1, (20, 30), (0, 0)),
    (3, (20, 30), (19, 29)),
    (6, (30, 20), (0, 19)),   # stored rotated: displayed turned 90 degrees clockwise
    (8, (30, 20), (29, 0)),
])
def test_exif_orientation_is_applied(tmp_path, orientation, expected_shape, red_corner):
    exif = Image.Exif()
    exif[portrait_io.EXIF_ORIENTATION_TAG] = orientation
    path = tmp_path / "rotated.jpg"
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif, quality=98)
    photo = portrait_io.read_photo(path)
    assert photo.rgb.shape[:2] == expected_shape
    assert photo.rgb[red_corner][0] > 200 and photo.rgb[red_corner][1] < 60


def test_grayscale_rgba_16bit_and_cmyk(tmp_path):
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (8, 1))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    photo = portrait_io.read_photo(tmp_path / "gray.png")
    assert photo.rgb.shape == (8, 25, 3) and np.array_equal(photo.rgb[..., 0], gray)

    rgba = np.dstack([asymmetric_rgb(), np.full((20, 30), 255, np.uint8)])
    rgba[0, 0, 3] = 0
    portrait_io.write_image(tmp_path / "rgba.png", rgba)
    photo = portrait_io.read_photo(tmp_path / "rgba.png")
    assert photo.rgb.shape == (20, 30, 3) and photo.alpha[0, 0] == 0 and photo.alpha[5, 5] == 255
    assert tuple(photo.rgb[1, 1]) == (255, 0, 0)

    deep = (asymmetric_rgb().astype(np.uint16) * 257)[..., ::-1]
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    photo = portrait_io.read_photo(tmp_path / "deep.png")
    assert photo.rgb.dtype == np.uint8 and np.array_equal(photo.rgb, asymmetric_rgb())

    Image.fromarray(asymmetric_rgb()).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=98)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    photo = portrait_io.read_photo(tmp_path / "cmyk.jpg")
    assert photo.rgb.shape == (20, 30, 3)
    assert np.abs(photo.rgb[12, 20].astype(int) - (0, 200, 0)).max() < 25


@pytest.mark.parametrize("content", [b"", b"GIF89a not quite", b"\xff\xd8\xff" + b"\x00" * 40])
def test_unreadable_files_raise_a_named_error(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(portrait_io.UnreadableImageError, match="bad.jpg"):
        portrait_io.read_photo(path)
    with pytest.raises(portrait_io.UnreadableImageError, match="missing.jpg"):
        portrait_io.read_photo(tmp_path / "missing.jpg")


def test_jpeg_cannot_hold_alpha(tmp_path):
    with pytest.raises(ValueError, match="alpha"):
        portrait_io.write_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.uint8))


def test_read_matte_resizes_and_takes_alpha(tmp_path):
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[:, 10:, 3] = 255
    portrait_io.write_image(tmp_path / "m.png", rgba)
    matte = portrait_io.read_matte(tmp_path / "m.png", (40, 80))
    assert matte.shape == (40, 80) and matte.dtype == np.float32
    assert matte[:, :35].max() == 0 and matte[:, 45:].min() == 1
