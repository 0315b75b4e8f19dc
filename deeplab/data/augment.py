"""Training augmentation of the original DeepLab recipe, on one example at a time.

Order as the original ``preprocess_image_and_label``: (optional colour jitter), random scale
(image bilinear, label nearest, both align-corners), (optional blur and noise: not in the
original), pad bottom/right to at least the crop size (image with the mean 127.5, label with
255 = ignore), random crop, random horizontal flip. The
label is only ever moved, never interpolated, so its values after augmentation are a subset of
its values before plus 255.
"""

from __future__ import annotations

import tensorflow as tf

from deeplab.data.config import IGNORE_LABEL, MEAN_PIXEL, AugmentConfig
from deeplab.data.masks import resize_mask_nearest
from deeplab.layers import resize_bilinear_align_corners


def random_scale_factor(config: AugmentConfig) -> tf.Tensor:
    """A scale in [min, max]: on the ``scale_step`` grid, or uniform when the step is 0."""
    if config.min_scale == config.max_scale:
        return tf.constant(config.min_scale, tf.float32)
    if config.scale_step > 0:
        count = int(round((config.max_scale - config.min_scale) / config.scale_step)) + 1
        index = tf.random.uniform([], 0, count, dtype=tf.int32)
        return config.min_scale + tf.cast(index, tf.float32) * config.scale_step
    return tf.random.uniform([], config.min_scale, config.max_scale)


def scale_image_and_label(image: tf.Tensor, label: tf.Tensor, scale: tf.Tensor):
    """Resize float image bilinearly and the label by nearest neighbour (align corners)."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    size = tf.maximum(tf.cast(tf.floor(shape * scale), tf.int32), 1)
    image = resize_bilinear_align_corners(image[tf.newaxis], size)[0]
    return image, resize_mask_nearest(label, size[0], size[1])


def pad_to_at_least(image: tf.Tensor, label: tf.Tensor, size: int):
    """Pad bottom/right so both sides are >= ``size``: image with the mean, label with 255."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    pad_h = tf.maximum(size - height, 0)
    pad_w = tf.maximum(size - width, 0)
    paddings = [[0, pad_h], [0, pad_w], [0, 0]]
    image = tf.pad(image, paddings, constant_values=MEAN_PIXEL)
    label = tf.pad(label, paddings, constant_values=IGNORE_LABEL)
    return image, label


def random_crop_pair(image: tf.Tensor, label: tf.Tensor, size: int):
    """The same random ``size`` x ``size`` window of image and label."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    top = tf.random.uniform([], 0, height - size + 1, dtype=tf.int32)
    left = tf.random.uniform([], 0, width - size + 1, dtype=tf.int32)
    image = image[top:top + size, left:left + size]
    label = label[top:top + size, left:left + size]
    return tf.ensure_shape(image, [size, size, 3]), tf.ensure_shape(label, [size, size, 1])


def random_flip_pair(image: tf.Tensor, label: tf.Tensor):
    """Mirror image and label left-right together, with probability 1/2."""
    flip = tf.random.uniform([]) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    return image, label


def color_jitter(image: tf.Tensor, strength: float) -> tf.Tensor:
    """Random brightness, contrast, saturation and hue on a float [0, 255] image."""
    x = image / 255.0
    x = tf.image.random_brightness(x, 0.4 * strength)
    x = tf.image.random_contrast(x, 1 - 0.4 * strength, 1 + 0.4 * strength)
    x = tf.image.random_saturation(x, 1 - 0.4 * strength, 1 + 0.4 * strength)
    x = tf.image.random_hue(x, 0.1 * strength)
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def random_grayscale(image: tf.Tensor, probability: float) -> tf.Tensor:
    """With ``probability``, the image's luma (ITU-R BT.601) in all three channels."""
    gray = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
    return tf.cond(tf.random.uniform([]) < probability, lambda: gray, lambda: image)


def random_blur(image: tf.Tensor, probability: float, max_sigma: float) -> tf.Tensor:
    """With ``probability``, a separable Gaussian blur of sigma drawn from [0.3, ``max_sigma``]."""
    radius = int(max(1, round(3 * max_sigma)))
    sigma = tf.random.uniform([], 0.3, max_sigma)
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * tf.square(offsets / sigma))
    weights /= tf.reduce_sum(weights)
    rows = tf.tile(tf.reshape(weights, [-1, 1, 1, 1]), [1, 1, 3, 1])
    columns = tf.tile(tf.reshape(weights, [1, -1, 1, 1]), [1, 1, 3, 1])

    def blur():
        padded = tf.pad(image[tf.newaxis], [[0, 0], [radius, radius], [radius, radius], [0, 0]],
                        mode="SYMMETRIC")
        x = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
        return tf.nn.depthwise_conv2d(x, columns, [1, 1, 1, 1], "VALID")[0]

    return tf.cond(tf.random.uniform([]) < probability, blur, lambda: image)


def random_noise(image: tf.Tensor, max_stddev: float) -> tf.Tensor:
    """Gaussian noise of a standard deviation drawn from [0, ``max_stddev``] (of 0-255)."""
    stddev = tf.random.uniform([], 0.0, max_stddev) * 255.0
    noisy = image + tf.random.normal(tf.shape(image), stddev=stddev)
    return tf.clip_by_value(noisy, 0.0, 255.0)


def augment_example(image: tf.Tensor, label: tf.Tensor, config: AugmentConfig):
    """uint8 image ``[H, W, 3]`` + uint8 label ``[H, W, 1]`` -> float32 image in [0, 255] and
    uint8 label, both ``crop_size`` square."""
    image = tf.cast(image, tf.float32)
    if config.color_jitter > 0:
        image = color_jitter(image, config.color_jitter)
    if config.grayscale_probability > 0:
        image = random_grayscale(image, config.grayscale_probability)
    image, label = scale_image_and_label(image, label, random_scale_factor(config))
    if config.blur_probability > 0:
        image = random_blur(image, config.blur_probability, config.max_blur_sigma)
    if config.noise_stddev > 0:
        image = random_noise(image, config.noise_stddev)
    image, label = pad_to_at_least(image, label, config.crop_size)
    image, label = random_crop_pair(image, label, config.crop_size)
    if config.flip:
        image, label = random_flip_pair(image, label)
    return image, label
