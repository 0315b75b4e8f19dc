"""The network graph of the fixed-size formats (TFLite, ONNX): one prepared padded crop in,
``labels`` and stride-level ``logits`` out. Not a format itself."""

from __future__ import annotations

import keras
import tensorflow as tf

from deeplab.layers import resize_bilinear_align_corners


def padded_crop_spec(crop_size: int) -> tf.TensorSpec:
    """The static input: one prepared ``[1, S, S, 3]`` crop (resized, padded, [-1, 1])."""
    return tf.TensorSpec([1, crop_size, crop_size, 3], tf.float32, name="image")


def padded_crop_outputs(network: keras.Model, image: tf.Tensor, crop_size: int) -> dict:
    """``labels`` (argmax of the logits upsampled with align corners to ``S x S``) and the raw
    ``logits`` of a prepared crop."""
    logits = tf.cast(network(image, training=False), tf.float32)
    upsampled = resize_bilinear_align_corners(logits, [crop_size, crop_size])
    return {"labels": tf.argmax(upsampled, axis=-1, output_type=tf.int32), "logits": logits}
