"""The inference contract in TensorFlow ops (they run inside ``tf.function`` and SavedModel
signatures), exactly as the original export graph and its demo compute it.

The demo resizes the photo so its longer side is the crop size (513); the graph pads bottom/right
to the crop size with 127.5, maps pixels to [-1, 1] (padded pixels become exactly 0.0), runs the
network and upsamples the logits with align corners to the padded size. :mod:`deeplab.contract_np`
has the same functions in numpy for the runtimes without TensorFlow.
"""

from __future__ import annotations

import tensorflow as tf

from deeplab.input_format import CROP_SIZE, PAD_VALUE, SCALE
from deeplab.layers import resize_bilinear_align_corners


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


def upsample_and_crop(logits: tf.Tensor, padded_size, valid_size) -> tf.Tensor:
    """The original graph's align-corners upsampling of ``logits`` to ``padded_size``, cropped to
    ``valid_size`` (top-left), computing only the rows and columns the crop keeps.

    When ``padded_size - 1`` is a whole multiple ``k`` of ``logits``' size - 1 (always for crop
    sizes of the form ``n * stride + 1``, such as 513), output pixel ``y`` samples source
    ``y / k``: the same positions and weights come from resizing only the source rows the crop
    reads to ``k * (rows - 1) + 1``. Otherwise the whole padded size is upsampled and cropped.
    """
    padded_size = tf.cast(padded_size, tf.int32)
    valid_size = tf.cast(valid_size, tf.int32)
    source_size = tf.shape(logits)[1:3]
    intervals = tf.maximum(source_size - 1, 1)
    step = (padded_size - 1) // intervals
    whole = tf.reduce_all((source_size > 1) & ((padded_size - 1) % intervals == 0))

    def valid_part():
        rows = tf.minimum((valid_size - 1 + step - 1) // step + 1, source_size)
        upsampled = resize_bilinear_align_corners(logits[:, :rows[0], :rows[1], :],
                                                  step * (rows - 1) + 1)
        return upsampled[:, :valid_size[0], :valid_size[1], :]

    def everything():
        upsampled = resize_bilinear_align_corners(logits, padded_size)
        return upsampled[:, :valid_size[0], :valid_size[1], :]

    return tf.cond(whole, valid_part, everything)


def resize_from_working_size(values: tf.Tensor, size) -> tf.Tensor:
    """Per-pixel maps ``[B, h, w, C]`` at the working size -> ``size`` (the photo's own).

    Not part of the original graph (it returns results at the working size). Half-pixel-centre
    bilinear, the same pixel geometry as the resize that made the working-size image from the
    photo (align corners would misplace the map by up to half a working-size pixel towards the
    borders). Unchanged when the sizes already match.
    """
    size = tf.cast(size, tf.int32)
    return tf.cond(tf.reduce_all(tf.shape(values)[1:3] == size), lambda: values,
                   lambda: tf.image.resize(values, size, method="bilinear"))


def softmax(logits: tf.Tensor, axis: int = -1) -> tf.Tensor:
    """Class probabilities of ``logits`` (the graph's ``SemanticProbabilities``)."""
    return tf.nn.softmax(logits, axis=axis)
