"""Semantic segmentation of uint8 photos as TensorFlow ops, computed exactly as the original
frozen graph, for every TensorFlow runtime and export (SavedModel serving, the Keras runtime).

uint8 RGB -> resize (longer side = crop size) -> pad with 127.5 -> [-1, 1] -> network ->
align-corners upsampling of the logits to the padded size -> crop -> argmax / softmax.
Unlike the original graph, :func:`segment` returns results at the caller's original resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from deeplab.contract_tf import (pad_and_normalize, resize_from_working_size, resize_to_crop,
                                 upsample_and_crop)

#: A batch of uint8 RGB photos of any size: the input of ``segment`` and of SavedModel serving.
IMAGES_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")


def logits_at_working_size(model: keras.Model, images: tf.Tensor, crop_size: int, *,
                           resize: bool = True) -> tf.Tensor:
    """Logits at the resized input's resolution (the network's working size), valid region only
    (``resize=False``: ``images`` are already at the working size).

    This equals the original graph's ``ResizeBilinear_2`` output cropped to the fed image.
    """
    resized = resize_to_crop(images, crop_size) if resize else images
    inputs = pad_and_normalize(resized, crop_size)
    logits = tf.cast(model(inputs, training=False), tf.float32)
    return upsample_and_crop(logits, tf.shape(inputs)[1:3], tf.shape(resized)[1:3])


def segment(model: keras.Model, images: tf.Tensor, crop_size: int):
    """(labels int32 ``[B, H, W]``, probabilities float32 ``[B, H, W, C]``) at the input's size:
    the original graph up to the working size, then :func:`resize_from_working_size`."""
    logits = logits_at_working_size(model, images, crop_size)
    logits = resize_from_working_size(logits, tf.shape(images)[1:3])
    labels = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return labels, tf.nn.softmax(logits, axis=-1)


@dataclass(frozen=True)
class Prediction:
    """Per-pixel results at the caller's resolution (no batch axis for a single image)."""

    labels: np.ndarray          # int32 [B, H, W] class ids
    probabilities: np.ndarray   # float32 [B, H, W, C]
