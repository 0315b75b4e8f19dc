"""Loss: 255 ignored, class weights, hard-pixel mining, align-corners upsampling, weight decay."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeplab.training.losses import (l2_regularization, pixel_losses, segmentation_loss,
                                     upsample_logits_to)
from deeplab.training.schedules import PolyWithWarmup


def _reference_ce(logits, labels):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]


def test_ignored_pixels_do_not_change_the_loss(rng):
    logits = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, (2, 5, 5)).astype(np.int32)
    ignored = labels.copy()
    ignored[:, :2] = 255
    loss = float(segmentation_loss(logits, ignored, 3))
    keep = ignored != 255
    expected = _reference_ce(logits, labels)[keep].mean()
    assert loss == pytest.approx(expected, rel=1e-5)
    # Whatever the ignored pixels' logits are, the loss and its gradient there are zero.
    other = logits.copy()
    other[:, :2] = 100 * rng.normal(size=other[:, :2].shape)
    x = tf.Variable(other)
    with tf.GradientTape() as tape:
        value = segmentation_loss(x, ignored, 3)
    assert float(value) == pytest.approx(loss, rel=1e-5)
    assert np.all(tape.gradient(value, x).numpy()[:, :2] == 0)


def test_all_ignored_gives_zero_not_nan():
    labels = np.full((1, 4, 4), 255, np.int32)
    assert float(segmentation_loss(np.zeros((1, 4, 4, 2), np.float32), labels, 2)) == 0.0


def test_class_weights_scale_each_class(rng):
    logits = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    labels = rng.integers(0, 2, (1, 4, 4)).astype(np.int32)
    per_pixel = _reference_ce(logits, labels)
    weights = np.where(labels == 1, 3.0, 0.5)
    loss = float(segmentation_loss(logits, labels, 2, class_weights=[0.5, 3.0]))
    assert loss == pytest.approx((per_pixel * weights).sum() / labels.size, rel=1e-5)


def test_top_k_keeps_the_hardest_pixels(rng):
    logits = rng.normal(size=(1, 10, 10, 3)).astype(np.float32)
    labels = rng.integers(0, 3, (1, 10, 10)).astype(np.int32)
    per_pixel = np.sort(_reference_ce(logits, labels).ravel())[::-1]
    loss = float(segmentation_loss(logits, labels, 3, top_k_percent_pixels=0.25))
    assert loss == pytest.approx(per_pixel[:25].mean(), rel=1e-5)
    # Ramp: at step 0 of a 100-step ramp every pixel still counts.
    ramp0 = float(segmentation_loss(logits, labels, 3, top_k_percent_pixels=0.25,
                                    hard_mining_steps=100, step=0))
    assert ramp0 == pytest.approx(per_pixel.mean(), rel=1e-5)


def test_logits_are_upsampled_with_align_corners_and_labels_untouched(rng):
    logits = rng.normal(size=(1, 3, 3, 2)).astype(np.float32)
    labels = np.zeros((1, 9, 9, 1), np.uint8)
    up = upsample_logits_to(logits, labels).numpy()
    expected = tf.compat.v1.image.resize_bilinear(logits, [9, 9], align_corners=True).numpy()
    np.testing.assert_allclose(up, expected, atol=1e-6)
    np.testing.assert_allclose(up[0, ::4, ::4], logits[0], atol=1e-6)  # corners line up
    losses, valid = pixel_losses(logits, labels, 2)
    assert losses.shape == (1, 9, 9) and float(tf.reduce_sum(valid)) == 81


def test_weight_decay_covers_conv_kernels_only():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=True, name="conv")(inputs)
    x = keras.layers.DepthwiseConv2D(3, use_bias=False, name="dw")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="logits.semantic")(x))
    kernels = [model.get_layer("conv").kernel, model.get_layer("logits.semantic").kernel]
    expected = 4e-5 * sum(float(np.sum(np.square(k))) / 2 for k in kernels)
    assert float(l2_regularization(model, 4e-5)) == pytest.approx(expected, rel=1e-5)


def test_poly_schedule_with_warmup():
    schedule = PolyWithWarmup(0.01, decay_steps=100, power=0.9, warmup_steps=10,
                              warmup_start_factor=0.1)
    assert float(schedule(0)) == pytest.approx(0.001)
    assert float(schedule(10)) == pytest.approx(0.01 * (1 - 0.1) ** 0.9, rel=1e-5)
    assert float(schedule(55)) == pytest.approx(0.01 * (1 - 0.55) ** 0.9, rel=1e-5)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    assert 0.001 < float(schedule(5)) < float(schedule(10))
    assert PolyWithWarmup.from_config(schedule.get_config()).get_config() == schedule.get_config()


# --- coarser labels than the model's classes, and distillation ----------------------------------

def test_label_set_matrix_background_is_every_class_no_other_label_names():
    from deeplab.config import PASCAL_VOC_CLASSES
    from deeplab.training.losses import label_set_matrix

    matrix = label_set_matrix(["background", "person"], PASCAL_VOC_CLASSES)
    assert matrix.shape == (2, 21)
    assert matrix[1].tolist() == [1.0 if i == 15 else 0.0 for i in range(21)]
    assert matrix[0].tolist() == [0.0 if i == 15 else 1.0 for i in range(21)]
    with pytest.raises(ValueError, match="persn"):
        label_set_matrix(["background", "persn"], PASCAL_VOC_CLASSES)


def test_label_set_loss_is_minus_log_of_the_labels_set_probability():
    import numpy as np
    from deeplab.training.losses import label_set_loss, label_set_matrix

    classes = ("background", "cat", "person")
    allowed = label_set_matrix(["background", "person"], classes)
    logits = np.array([[[[2.0, 1.0, 0.5], [0.1, 3.0, 0.2], [0.0, 0.0, 5.0]]]], np.float32)
    labels = np.array([[[0, 0, 255]]], np.int32)
    p = np.exp(logits[0, 0]) / np.exp(logits[0, 0]).sum(-1, keepdims=True)
    expected = np.mean([-np.log(1 - p[0, 2]), -np.log(1 - p[1, 2])])  # the cat pixel is fine
    got = float(label_set_loss(tf.constant(logits), tf.constant(labels), allowed))
    assert got == pytest.approx(expected, rel=1e-5)
    person = np.array([[[2, 2, 1]]], np.int32)  # id 2 is not a data label: ignored
    got = float(label_set_loss(tf.constant(logits), tf.constant(person), allowed))
    assert got == pytest.approx(-np.log(p[2, 2]), rel=1e-4)


def test_distillation_is_zero_for_the_teacher_itself_and_within_the_labels_set():
    import numpy as np
    from deeplab.training.losses import distillation_loss, label_set_matrix

    rng = np.random.default_rng(0)
    teacher = tf.constant(rng.normal(size=(1, 4, 4, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 2, (1, 4, 4)), tf.int32)
    allowed = label_set_matrix(["background", "person"], ("background", "cat", "person"))
    assert float(distillation_loss(teacher, teacher, labels, allowed)) == pytest.approx(0, abs=1e-6)
    student = teacher + tf.constant([0.0, 0.0, 3.0])  # only the person logit moves
    # background pixels compare background vs cat only, person pixels have one class: no loss
    assert float(distillation_loss(student, teacher, labels, allowed)) == pytest.approx(0,
                                                                                       abs=1e-5)
    assert float(distillation_loss(student, teacher, labels)) > 0.1  # over all classes it counts
    moved = teacher + tf.constant([0.0, 2.0, 0.0])  # cat vs background changes: counted
    assert float(distillation_loss(moved, teacher, labels, allowed)) > 0.05
