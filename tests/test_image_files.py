"""Reading photos and masks from disk: orientation, channels, clear errors."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from deeplab.image_files import read_mask, read_rgb


def test_exif_orientation_is_applied_or_ignored_on_request(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(path, exif=exif)
    assert read_rgb(path).shape == (40, 20, 3)  # as a viewer shows the photo
    stored = read_rgb(path, apply_orientation=False)
    assert stored.shape == (20, 40, 3)
    # the stored grid is what the tf.data pipelines decode (and what masks are drawn on)
    assert tf.io.decode_image(path.read_bytes(), channels=3).shape == stored.shape


def test_grey_photo_becomes_rgb_and_unreadable_files_say_what_was_expected(tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((5, 6), 77, np.uint8)).save(grey)
    image = read_rgb(grey)
    assert image.shape == (5, 6, 3) and np.all(image == 77)
    assert read_mask(grey).shape == (5, 6)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot read image .*broken.jpg.*expected a JPEG"):
        read_rgb(broken)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_mask(tmp_path / "missing.png")
