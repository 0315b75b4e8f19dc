"""The PASCAL VOC colour map: class ``i`` gets the colour built from the bits of ``i`` (the
devkit's rule). Used to read VOC palette masks, to colour label maps and by the tutorial view."""

from __future__ import annotations

import numpy as np


def voc_colormap(num_colors: int = 256) -> np.ndarray:
    """``[num_colors, 3]`` uint8 RGB colours of the PASCAL VOC palette."""
    colormap = np.zeros((num_colors, 3), dtype=np.int64)
    labels = np.arange(num_colors, dtype=np.int64)
    for shift in range(7, -1, -1):
        for channel in range(3):
            colormap[:, channel] |= ((labels >> channel) & 1) << shift
        labels >>= 3
    return colormap.astype(np.uint8)
