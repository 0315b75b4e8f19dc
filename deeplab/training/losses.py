"""Segmentation loss as the original: logits upsampled to the label, cross-entropy ignoring 255.

The network's logits sit at the output stride; they are resized to the label size with
align-corners bilinear interpolation (the original's ``upsample_logits=True``). Labels are never
interpolated. Pixels labelled 255 (or any id >= the class count) weigh nothing in the loss.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from deeplab.data.config import IGNORE_LABEL
from deeplab.layers import resize_bilinear_align_corners


def upsample_logits_to(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """float32 logits resized (align corners) to the labels' height and width."""
    logits = tf.cast(logits, tf.float32)
    size = tf.shape(labels)[1:3]
    same = tf.reduce_all(tf.equal(tf.shape(logits)[1:3], size))
    return tf.cond(same, lambda: logits, lambda: resize_bilinear_align_corners(logits, size))


def pixel_losses(logits: tf.Tensor, labels: tf.Tensor, num_classes: int,
                 class_weights: Sequence[float] | None = None,
                 ignore_label: int = IGNORE_LABEL) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-pixel weighted cross-entropy ``[B, H, W]`` and the valid-pixel mask (float).

    ``labels`` are ``[B, H, W]`` or ``[B, H, W, 1]`` class ids at full resolution.
    """
    labels = tf.cast(labels, tf.int32)
    if labels.shape.rank == 4:
        labels = labels[..., 0]
    logits = upsample_logits_to(logits, labels[..., tf.newaxis])
    valid = tf.logical_and(tf.not_equal(labels, ignore_label), labels < num_classes)
    valid = tf.logical_and(valid, labels >= 0)
    safe_labels = tf.where(valid, labels, tf.zeros_like(labels))
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe_labels, logits=logits)
    weights = tf.cast(valid, tf.float32)
    if class_weights is not None:
        if len(class_weights) != num_classes:
            raise ValueError(f"{len(class_weights)} class weights for {num_classes} classes")
        weights = weights * tf.gather(tf.constant(class_weights, tf.float32), safe_labels)
    return losses * weights, tf.cast(valid, tf.float32)


def top_k_fraction(step: tf.Tensor, top_k_percent_pixels: float, hard_mining_steps: int):
    """Fraction of pixels kept: 1.0 at step 0 falling linearly to the target over the ramp."""
    if hard_mining_steps <= 0:
        return tf.constant(top_k_percent_pixels, tf.float32)
    ratio = tf.minimum(tf.cast(step, tf.float32) / hard_mining_steps, 1.0)
    return 1.0 + (top_k_percent_pixels - 1.0) * ratio


def segmentation_loss(logits: tf.Tensor, labels: tf.Tensor, num_classes: int, *,
                      class_weights: Sequence[float] | None = None,
                      top_k_percent_pixels: float = 1.0, hard_mining_steps: int = 0,
                      step: tf.Tensor | int = 0,
                      ignore_label: int = IGNORE_LABEL) -> tf.Tensor:
    """Mean weighted cross-entropy over the valid pixels of the batch.

    With ``top_k_percent_pixels`` < 1 only the hardest fraction of all pixels counts (the
    original's hard-pixel mining): the loss is the mean over those pixels.
    """
    losses, valid = pixel_losses(logits, labels, num_classes, class_weights, ignore_label)
    if top_k_percent_pixels >= 1.0:
        return tf.math.divide_no_nan(tf.reduce_sum(losses), tf.reduce_sum(valid))
    flat = tf.reshape(losses, [-1])
    fraction = top_k_fraction(step, top_k_percent_pixels, hard_mining_steps)
    count = tf.cast(tf.size(flat), tf.float32)
    k = tf.maximum(tf.cast(tf.round(fraction * count), tf.int32), 1)
    hardest, _ = tf.math.top_k(flat, k=k, sorted=False)
    return tf.reduce_mean(hardest)


def l2_regularization(model, weight_decay: float) -> tf.Tensor:
    """The original's weight decay: ``weight_decay * sum(w^2) / 2`` over trainable conv kernels
    (Conv2D, including the logits), not depthwise kernels, batch norm or biases."""
    import keras

    total = tf.constant(0.0, tf.float32)
    if weight_decay <= 0:
        return total
    for layer in model.layers:
        if (isinstance(layer, keras.layers.Conv2D)
                and not isinstance(layer, keras.layers.DepthwiseConv2D) and layer.trainable):
            total += tf.nn.l2_loss(tf.cast(layer.kernel, tf.float32))
    return weight_decay * total


def label_set_matrix(label_names: Sequence[str], class_names: Sequence[str]) -> "np.ndarray":
    """``[L, C]`` 0/1 matrix: which of the model's classes each data label allows.

    Data labelled with a coarser label set than the model's (person masks, ``[background,
    person]``, for a 21-class PASCAL model): a data label is the model class of the same name,
    and ``background`` (the first label) is every model class that no other label names, so a
    car or a cat in a person photo's background may stay a car or a cat. Names match without
    case; a label the model lacks is an error naming both sets.
    """
    import numpy as np

    classes = [name.lower() for name in class_names]
    labels = [name.lower() for name in label_names]
    matrix = np.zeros((len(labels), len(classes)), np.float32)
    for row, name in enumerate(labels[1:], start=1):
        if name not in classes:
            raise ValueError(f"data label {name!r} is not a model class; the model has "
                             f"{list(class_names)}")
        matrix[row, classes.index(name)] = 1.0
    matrix[0] = 1.0 - matrix[1:].max(axis=0) if len(labels) > 1 else 1.0
    return matrix


def label_set_logits(logits: tf.Tensor, allowed: "np.ndarray") -> tf.Tensor:
    """``[..., C]`` model logits -> ``[..., L]`` logits of the data's labels: each label's
    softmax probability is the summed probability of the classes it allows."""
    log_sets = tf.math.log(tf.constant(allowed.T) + 1e-30)
    return tf.reduce_logsumexp(tf.cast(logits, tf.float32)[..., tf.newaxis] + log_sets, axis=-2)


def _flat_labels(labels: tf.Tensor) -> tf.Tensor:
    labels = tf.cast(labels, tf.int32)
    return labels[..., 0] if labels.shape.rank == 4 else labels


def label_set_loss(logits: tf.Tensor, labels: tf.Tensor, allowed: "np.ndarray",
                   ignore_label: int = IGNORE_LABEL) -> tf.Tensor:
    """Mean over valid pixels of ``-log P(label's set)``: the model may put a pixel in any class
    its label allows (:func:`label_set_matrix`). Pixels labelled 255 (or out of range) count
    nothing."""
    labels = _flat_labels(labels)
    logits = upsample_logits_to(logits, labels[..., tf.newaxis])
    valid = tf.logical_and(tf.logical_and(labels >= 0, labels < allowed.shape[0]),
                           tf.not_equal(labels, ignore_label))
    mask = tf.gather(tf.constant(allowed), tf.where(valid, labels, tf.zeros_like(labels)))
    log_set = tf.reduce_logsumexp(logits + tf.math.log(mask + 1e-30), axis=-1)
    losses = tf.reduce_logsumexp(logits, axis=-1) - log_set
    weights = tf.cast(valid, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(losses * weights), tf.reduce_sum(weights))


def distillation_loss(logits: tf.Tensor, teacher_logits: tf.Tensor, labels: tf.Tensor,
                      allowed: "np.ndarray | None" = None,
                      ignore_label: int = IGNORE_LABEL) -> tf.Tensor:
    """Mean per-pixel KL(teacher || student), each distribution taken within the classes the
    pixel's label allows (all classes for ignored pixels, or when ``allowed`` is None).

    Beside the label loss this keeps what the teacher knows that the labels do not say: which
    of the background classes a background pixel is (learning without forgetting), and the
    teacher's view where the labels say nothing.
    """
    labels = _flat_labels(labels)
    logits = upsample_logits_to(logits, labels[..., tf.newaxis])
    teacher = upsample_logits_to(tf.stop_gradient(teacher_logits), labels[..., tf.newaxis])
    if allowed is None:
        mask = tf.ones_like(logits)
    else:
        valid = tf.logical_and(tf.logical_and(labels >= 0, labels < allowed.shape[0]),
                               tf.not_equal(labels, ignore_label))
        rows = tf.gather(tf.constant(allowed), tf.where(valid, labels, tf.zeros_like(labels)))
        mask = tf.where(valid[..., tf.newaxis], rows, tf.ones_like(rows))
    log_mask = tf.math.log(mask + 1e-30)
    student_log = tf.nn.log_softmax(logits + log_mask, axis=-1)
    teacher_log = tf.nn.log_softmax(teacher + log_mask, axis=-1)
    per_pixel = tf.reduce_sum(mask * tf.exp(teacher_log) * (teacher_log - student_log), axis=-1)
    return tf.reduce_mean(per_pixel)
