"""Label masks: decoding, encodings (class ids or 0/255 binary) and nearest-neighbour resizing.

Masks are class ids and must never be interpolated: every resize here is nearest neighbour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import tensorflow as tf

from deeplab.data.config import IGNORE_LABEL
from deeplab.image_files import read_mask
from deeplab.palette import voc_colormap

#: A 0/255 binary mask's pixel is foreground (class 1) from this grey level up.
BINARY_THRESHOLD = 128


def decode_mask(encoded: tf.Tensor) -> tf.Tensor:
    """PNG bytes of a single-channel class-id mask -> uint8 ``[H, W, 1]`` (a grey + alpha PNG
    keeps its grey channel; a colour mask is an error, never silently reduced to one channel)."""
    mask = tf.io.decode_png(encoded, channels=0)
    mask = tf.ensure_shape(mask, [None, None, None])
    check = tf.debugging.assert_less_equal(
        tf.shape(mask)[-1], 2,
        message="label masks must be single-channel PNGs of class ids, got a colour PNG "
                "(palette PNGs: convert to grey-level ids first)")
    with tf.control_dependencies([check]):
        return tf.cast(mask[..., :1], tf.uint8)


def binary_to_ids(mask: tf.Tensor) -> tf.Tensor:
    """A 0/255 foreground mask -> 0/1 class ids (>= 128 counts as foreground, so slightly lossy
    masks saved as JPEG-like greys still split cleanly)."""
    return tf.cast(mask >= BINARY_THRESHOLD, tf.uint8)


def resize_mask_nearest(mask: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Nearest-neighbour resize of a ``[H, W, 1]`` mask (class ids survive untouched), with
    align-corners sampling as the original's label resizing."""
    resized = tf.raw_ops.ResizeNearestNeighbor(
        images=mask[tf.newaxis], size=tf.cast(tf.stack([height, width]), tf.int32),
        align_corners=True, half_pixel_centers=False)
    return tf.cast(resized[0], mask.dtype)


def match_mask_to_image(image: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Resize a mask to its photo's size when they differ (some sets ship smaller masks)."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    same = tf.logical_and(tf.equal(tf.shape(mask)[0], h), tf.equal(tf.shape(mask)[1], w))
    return tf.cond(same, lambda: mask, lambda: resize_mask_nearest(mask, h, w))


def detect_mask_encoding(mask_paths: Iterable[str | Path], sample: int = 16) -> str:
    """'binary' when the sampled masks only hold 0 and 255 (with some 255), else 'class_ids'.

    A class-id mask uses 255 only as "ignore" next to real ids (1, 2, ...), so a set of masks
    made only of 0 and 255 is read as foreground masks.
    """
    seen: set[int] = set()
    paths = sorted(str(p) for p in mask_paths)[:sample]
    if not paths:
        raise ValueError("no masks to inspect")
    for path in paths:
        seen.update(np.unique(read_mask(path)).tolist())
    return "binary" if seen <= {0, IGNORE_LABEL} and IGNORE_LABEL in seen else "class_ids"


def colorize(labels: np.ndarray) -> np.ndarray:
    """Class ids ``[..., H, W]`` -> RGB uint8 with the VOC palette (255 = ignore is cream)."""
    return voc_colormap()[np.asarray(labels).astype(np.int64) % 256]
