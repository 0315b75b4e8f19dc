"""Test-time flip: the network also sees the mirrored photo, and the two answers are averaged.

Measured on the bundled person model (``benchmarks/person_quality.py --flip``): a fraction of a
point of person IoU for twice the network time, so it is off unless asked for (``--flip``).
"""

from __future__ import annotations

import numpy as np


class FlipAveraged:
    """A portrait-mode probability model run on the photo and on its mirror image, averaged."""

    def __init__(self, model):
        self.model = model
        self.class_names = model.class_names

    def __getattr__(self, name):  # crop_size and the like come from the wrapped model
        return getattr(self.model, name)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB ``[B, h, w, 3]`` -> class probabilities ``[B, h, w, C]``, flip-averaged."""
        direct = self.model.probabilities(images)
        mirrored = self.model.probabilities(np.ascontiguousarray(images[:, :, ::-1]))
        return (direct + mirrored[:, :, ::-1]) / 2

    def for_input_size(self, longer_side: int) -> "FlipAveraged":
        """The same, with the wrapped network at another working size."""
        return FlipAveraged(self.model.for_input_size(longer_side))
