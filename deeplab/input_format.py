"""The network's input contract, shared by TensorFlow code and TensorFlow-free runtimes (LiteRT).

The original demo resizes a photo so its longer side is the crop size (513); the graph pads
bottom/right to the crop size with 127.5 and maps pixels to [-1, 1] as ``pixel * SCALE - 1``
(padded pixels become exactly 0.0). This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import numpy as np

CROP_SIZE = 513
#: The original's mean pixel: the padding value of inference inputs and of training crops.
PAD_VALUE = 127.5
#: The graph multiplies by float32(2/255) and subtracts 1, in that order.
SCALE = np.float32(2.0 / 255.0)


def resized_size(height: int, width: int, crop_size: int = CROP_SIZE) -> tuple[int, int]:
    """(h, w) with the longer side equal to ``crop_size`` (truncated as the demo's ``int()``)."""
    ratio = crop_size / max(height, width)
    return int(np.floor(ratio * height)), int(np.floor(ratio * width))
