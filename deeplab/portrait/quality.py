"""Measures of portrait quality used by the benchmark: edge error, IoU and halo.

- Edge error: mean |matte - reference| over a band of ``band`` px around the reference's 0.5
  contour, where mattes differ and where a viewer looks.
- IoU of the matte thresholded at 0.5 against a binary mask.
- Halo: how much the composite changes the luminance just outside the subject (a band of
  ``near`` px) beyond what it changes far away (> ``far`` px): a dark or bright rim shows up as
  a large difference, a clean blur as ~0.
- Holes: the part of a subject (``matte >= 0.5`` with its holes) that its enclosed holes take,
  where the background would show through it.
"""

from __future__ import annotations

import cv2
import numpy as np


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of ``mask``."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)


def edge_band(reference: np.ndarray, band: int = 10) -> np.ndarray:
    """Pixels within ``band`` px of the boundary of ``reference >= 0.5``."""
    inside = reference >= 0.5
    eroded = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    boundary = inside & ~eroded
    if not boundary.any():
        return np.zeros_like(inside)
    return _distance_to(boundary) <= band


def edge_error(matte: np.ndarray, reference: np.ndarray, band: int = 10) -> float:
    """Mean absolute matte error in the edge band (both float in [0, 1])."""
    region = edge_band(reference, band)
    if not region.any():
        return float("nan")
    return float(np.abs(matte.astype(np.float32) - reference.astype(np.float32))[region].mean())


def iou(matte: np.ndarray, mask: np.ndarray) -> float:
    """Intersection over union of ``matte >= 0.5`` and a boolean mask."""
    predicted = matte >= 0.5
    union = np.logical_or(predicted, mask).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(predicted, mask).sum() / union)


def luminance(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def halo(original: np.ndarray, composite: np.ndarray, reference: np.ndarray,
         near: tuple[float, float] = (3, 15), far: float = 40) -> float:
    """|mean luminance shift in the near band outside the subject - shift far away| (0..255)."""
    subject = reference >= 0.5
    distance = _distance_to(subject)
    near_region = (distance > near[0]) & (distance <= near[1])
    far_region = distance > far
    if not near_region.any() or not far_region.any():
        return float("nan")
    shift = luminance(composite) - luminance(original)
    return float(abs(shift[near_region].mean() - shift[far_region].mean()))


def enclosed_holes(matte: np.ndarray) -> np.ndarray:
    """Pixels of ``matte < 0.5`` cut off from the image border by the subject (4-neighbours)."""
    low = (np.asarray(matte) < 0.5).astype(np.uint8)
    count, labels = cv2.connectedComponents(low, connectivity=4)
    outside = np.zeros(count, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        outside[edge] = True
    return (labels > 0) & ~outside[labels]


def hole_fraction(matte: np.ndarray) -> float:
    """Enclosed-hole pixels over the subject's area including them (0 = no hole)."""
    holes = int(enclosed_holes(matte).sum())
    area = int((np.asarray(matte) >= 0.5).sum()) + holes
    return holes / area if area else 0.0
