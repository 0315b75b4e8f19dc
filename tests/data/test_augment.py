"""Augmentation: labels only move (never interpolated), padding is mean / 255, flips align."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from deeplab.contract_tf import to_model_range
from deeplab.data.augment import augment_example, pad_to_at_least, random_scale_factor
from deeplab.data.config import AugmentConfig, DataConfig


def _example(rng, height=37, width=29, values=(0, 3, 7, 12)):
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    label = rng.choice(np.array(values, np.uint8), size=(height, width, 1))
    return tf.constant(image), tf.constant(label)


@pytest.mark.parametrize("crop", [17, 33, 65])
def test_label_values_after_augmentation_are_input_values_plus_ignore(rng, crop):
    tf.random.set_seed(3)
    config = AugmentConfig(crop_size=crop, color_jitter=0.5)
    values = {0, 3, 7, 12}
    for _ in range(12):
        image, label = _example(rng)
        out_image, out_label = augment_example(image, label, config)
        assert out_image.shape == (crop, crop, 3) and out_label.shape == (crop, crop, 1)
        assert set(np.unique(out_label.numpy())) <= values | {255}


def test_padding_uses_mean_for_image_and_ignore_for_label():
    image = tf.fill([4, 6, 3], 10.0)
    label = tf.ones([4, 6, 1], tf.uint8)
    padded_image, padded_label = pad_to_at_least(image, label, 9)
    assert padded_image.shape == (9, 9, 3)
    assert np.all(padded_image.numpy()[4:] == 127.5)
    assert np.all(padded_image.numpy()[:, 6:] == 127.5)
    assert np.all(padded_label.numpy()[4:] == 255) and np.all(padded_label.numpy()[:4, :6] == 1)
    assert float(to_model_range(tf.constant(127.5))) == 0.0


def test_scale_factors_follow_the_grid():
    tf.random.set_seed(0)
    config = AugmentConfig(min_scale=0.5, max_scale=2.0, scale_step=0.25)
    seen = {round(float(random_scale_factor(config)), 4) for _ in range(200)}
    assert seen <= {0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0} and len(seen) >= 5


def test_image_and_label_stay_aligned_through_scale_crop_and_flip():
    """A label equal to a function of the image (bright -> 1) still matches after augmenting."""
    tf.random.set_seed(5)
    yy, xx = np.mgrid[:40, :50]
    bright = ((xx // 10 + yy // 10) % 2).astype(np.uint8)
    image = np.repeat((bright * 255)[..., None], 3, axis=2).astype(np.uint8)
    config = AugmentConfig(crop_size=33, min_scale=0.5, max_scale=2.0)
    for _ in range(10):
        out_image, out_label = augment_example(tf.constant(image), tf.constant(bright[..., None]),
                                               config)
        out_image, out_label = out_image.numpy()[..., 0], out_label.numpy()[..., 0]
        inside = out_label != 255
        # pixels far from an edge of the checkerboard: image value decides the label
        clear = inside & ((out_image < 20) | (out_image > 235))
        assert np.mean((out_image[clear] > 127) == (out_label[clear] == 1)) > 0.97


def test_bad_augment_config_is_rejected():
    with pytest.raises(ValueError, match="min_scale"):
        AugmentConfig(min_scale=2.0, max_scale=1.0)
    with pytest.raises(ValueError, match="mask_encoding"):
        DataConfig(mask_encoding="rgb")


def test_grayscale_turns_the_chosen_share_of_photos_black_and_white(rng):
    image = tf.constant(rng.integers(0, 256, (24, 24, 3)), tf.uint8)
    label = tf.zeros((24, 24, 1), tf.uint8)
    always = AugmentConfig(crop_size=24, min_scale=1.0, max_scale=1.0, flip=False,
                           grayscale_probability=1.0)
    out, _ = augment_example(image, label, always)
    out = out.numpy()
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-3)
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-3)
    luma = image.numpy().astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(out[..., 0], luma, atol=1.0)
    never, _ = augment_example(image, label, AugmentConfig(
        crop_size=24, min_scale=1.0, max_scale=1.0, flip=False))
    np.testing.assert_allclose(never.numpy(), image.numpy())
    with pytest.raises(ValueError, match="grayscale_probability"):
        AugmentConfig(grayscale_probability=1.5)
