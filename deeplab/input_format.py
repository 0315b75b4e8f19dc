"""The network's input contract, shared by TensorFlow code and TensorFlow-free runtimes (LiteRT).

The original demo resizes a photo so its longer side is the crop size (513); the graph pads
bottom/right to the crop size with 127.5 and maps pixels to [-1, 1] as ``pixel * SCALE - 1``
(padded pixels become exactly 0.0). The arithmetic itself is :mod:`deeplab.contract_np` and
:mod:`deeplab.contract_tf`. This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CROP_SIZE = 513
#: The original's mean pixel: the padding value of inference inputs and of training crops.
PAD_VALUE = 127.5
#: The graph multiplies by float32(2/255) and subtracts 1, in that order.
SCALE = np.float32(2.0 / 255.0)


@dataclass(frozen=True)
class InputContract:
    """What a runtime's ``predict_logits`` expects: one uint8 RGB image ``[h, w, 3]`` resized so
    its longer side is ``crop_size`` (the working size; other sizes are resized first). The
    runtime pads, normalises and upsamples the logits itself, as above.

    ``fixed``: the artifact only runs ``crop_size`` (one padded ``[1, S, S, 3]`` crop, TFLite
    and ONNX); otherwise it pads to at least ``crop_size`` and another working size needs only a
    new runtime of the same weights.
    """

    crop_size: int = CROP_SIZE
    fixed: bool = False
