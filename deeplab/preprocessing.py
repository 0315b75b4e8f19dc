"""Input preparation exactly as the original export graph and its demo do it.

The demo resizes the photo so its longer side is the crop size (513); the graph pads bottom/right
to the crop size with 127.5 and maps pixels to [-1, 1] (padded pixels become exactly 0.0).
All functions are TensorFlow ops so they run inside ``tf.function`` and SavedModel signatures.
"""

from __future__ import annotations

import tensorflow as tf

from deeplab.input_format import CROP_SIZE, PAD_VALUE, SCALE

__all__ = ["CROP_SIZE", "PAD_VALUE", "SCALE", "pad_and_normalize", "resize_to_crop",
           "resized_size", "to_batch", "to_model_range"]


def resized_size(height, width, crop_size: int = CROP_SIZE):
    """(h, w) with the longer side equal to ``crop_size`` (truncated as the demo's ``int()``)."""
    height = tf.cast(height, tf.float64)
    width = tf.cast(width, tf.float64)
    ratio = tf.cast(crop_size, tf.float64) / tf.maximum(height, width)
    return (tf.cast(tf.floor(ratio * height), tf.int32),
            tf.cast(tf.floor(ratio * width), tf.int32))


def resize_to_crop(images: tf.Tensor, crop_size: int = CROP_SIZE) -> tf.Tensor:
    """uint8 ``[B, H, W, 3]`` -> uint8 with the longer side ``crop_size`` (unchanged if it already is).

    Downscaling uses an antialiased bilinear filter (like the demo's PIL resize); the result is
    rounded back to uint8 so the network sees what the original graph would be fed.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    new_height, new_width = resized_size(height, width, crop_size)

    def resize():
        resized = tf.image.resize(tf.cast(images, tf.float32), (new_height, new_width),
                                  method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    return tf.cond(tf.maximum(height, width) == crop_size, lambda: images, resize)


def to_model_range(images: tf.Tensor) -> tf.Tensor:
    """Pixel values [0, 255] -> float32 [-1, 1] as the graph computes it (``x * SCALE - 1``; the
    pad value 127.5 becomes exactly 0.0). Training and evaluation inputs use it too."""
    return tf.cast(images, tf.float32) * SCALE - 1.0


def pad_and_normalize(images: tf.Tensor, crop_size: int = CROP_SIZE) -> tf.Tensor:
    """uint8/float ``[B, h, w, 3]`` -> float32 ``[B, max(h, crop), max(w, crop), 3]`` in [-1, 1]."""
    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    pad_height = tf.maximum(crop_size - shape[1], 0)
    pad_width = tf.maximum(crop_size - shape[2], 0)
    centred = images - PAD_VALUE
    padded = tf.pad(centred, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]]) + PAD_VALUE
    return to_model_range(padded)


def to_batch(images) -> tuple[tf.Tensor, bool]:
    """Accept one ``[H, W, 3]`` image or a ``[B, H, W, 3]`` batch; validate and return a batch."""
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise TypeError(f"images must be uint8 RGB, got {images.dtype.name}")
    single = images.shape.rank == 3
    if single:
        images = images[tf.newaxis]
    if images.shape.rank != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [H, W, 3] or [B, H, W, 3] RGB, got {images.shape}")
    return images, single
