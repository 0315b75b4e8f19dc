"""Test-time flip: mirrored answers averaged, wrapped model's size handling kept."""

from __future__ import annotations

import numpy as np

from deeplab.portrait.test_time import FlipAveraged


class LeftHalfModel:
    """Says "person" on the left half of whatever it is shown (so a mirror disagrees)."""

    class_names = ("background", "person")
    crop_size = 513

    def __init__(self, size=513):
        self.crop_size = size

    def probabilities(self, images):
        batch, height, width, _ = images.shape
        person = np.zeros((batch, height, width), np.float32)
        person[:, :, : width // 2] = 1.0
        return np.stack([1 - person, person], axis=-1)

    def for_input_size(self, longer_side):
        return LeftHalfModel(longer_side)


def test_flip_averages_the_mirrored_answer_back_into_place():
    images = np.zeros((1, 4, 6, 3), np.uint8)
    averaged = FlipAveraged(LeftHalfModel()).probabilities(images)[0, ..., 1]
    np.testing.assert_allclose(averaged, 0.5)      # left half once, right half once


def test_flip_keeps_the_wrapped_models_sizes_and_classes():
    model = FlipAveraged(LeftHalfModel())
    assert model.crop_size == 513 and model.class_names == ("background", "person")
    smaller = model.for_input_size(257)
    assert isinstance(smaller, FlipAveraged) and smaller.crop_size == 257
