"""Fast, geometry-exact down- and upscaling between a large photo and its working resolution.

OpenCV's area resampling is ~5x faster for exact integer factors. ``shrink`` first averages
k x k blocks of the largest region divisible by k, then finishes with a small area resize;
``Shrunk.expand`` maps a low-resolution map back onto exactly that region and replicates the
last row/column over the < k leftover pixels, so low-res results line up with the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Shrunk:
    """A downscaled image and the full-resolution region it covers (top-left ``covered_hw``)."""

    image: np.ndarray
    covered_hw: tuple[int, int]
    full_hw: tuple[int, int]

    @property
    def scale(self) -> float:
        """Full-resolution pixels per low-resolution pixel (along the longer side)."""
        return max(self.covered_hw) / max(self.image.shape[:2])

    def expand(self, low_res: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Upsample a map aligned with ``image`` to the full photo size."""
        return expand(low_res, self.covered_hw, self.full_hw, interpolation)


def fit_size(height: int, width: int, longer_side: int) -> tuple[int, int]:
    """(h, w) with the longer side at most ``longer_side``, aspect kept (never upscaled)."""
    scale = min(1.0, longer_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink(image: np.ndarray, size_hw: tuple[int, int]) -> Shrunk:
    """Area-downscale ``image`` to ``size_hw`` using an integer-factor fast path first."""
    height, width = image.shape[:2]
    target_h, target_w = size_hw
    if (target_h, target_w) == (height, width):
        return Shrunk(image, (height, width), (height, width))
    factor = int(min(height / target_h, width / target_w))
    covered_h, covered_w = height, width
    if factor >= 2:
        covered_h, covered_w = (height // factor) * factor, (width // factor) * factor
        image = cv2.resize(image[:covered_h, :covered_w], (covered_w // factor,
                                                           covered_h // factor),
                           interpolation=cv2.INTER_AREA)
    if image.shape[:2] != (target_h, target_w):
        interpolation = cv2.INTER_AREA if image.shape[0] >= target_h else cv2.INTER_LINEAR
        image = cv2.resize(image, (target_w, target_h), interpolation=interpolation)
    return Shrunk(np.ascontiguousarray(image), (covered_h, covered_w), (height, width))


def shrink_to_longer_side(image: np.ndarray, longer_side: int) -> Shrunk:
    return shrink(image, fit_size(image.shape[0], image.shape[1], longer_side))


def expand(low_res: np.ndarray, covered_hw: tuple[int, int], full_hw: tuple[int, int],
           interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resize ``low_res`` onto ``covered_hw`` and replicate its edge to fill ``full_hw``."""
    covered_h, covered_w = covered_hw
    full_h, full_w = full_hw
    if (covered_h, covered_w) == (full_h, full_w):
        if low_res.shape[:2] == (full_h, full_w):
            return low_res
        return cv2.resize(low_res, (full_w, full_h), interpolation=interpolation)
    out = np.empty((full_h, full_w) + low_res.shape[2:], low_res.dtype)
    view = out[:covered_h, :covered_w]
    resized = cv2.resize(low_res, (covered_w, covered_h), dst=view, interpolation=interpolation)
    if not np.shares_memory(resized, out):  # the binding may have allocated: copy it in
        view[...] = resized
    if covered_w < full_w:
        out[:covered_h, covered_w:] = out[:covered_h, covered_w - 1:covered_w]
    if covered_h < full_h:
        out[covered_h:] = out[covered_h - 1:covered_h]
    return out
