"""The align-corners resize and the fused batch norm against independent references."""

import numpy as np
import pytest
import tensorflow as tf

from deeplab.layers import BatchNorm, ResizeBilinear, resize_bilinear_align_corners


def numpy_align_corners(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Plain-numpy bilinear resize where output corners land exactly on input corners."""
    in_h, in_w = image.shape[:2]
    ys = np.arange(out_h) * ((in_h - 1) / (out_h - 1) if out_h > 1 else 0.0)
    xs = np.arange(out_w) * ((in_w - 1) / (out_w - 1) if out_w > 1 else 0.0)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = image[y0][:, x0] * (1 - wx) + image[y0][:, x1] * wx
    bottom = image[y1][:, x0] * (1 - wx) + image[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


@pytest.mark.parametrize("in_size,out_size", [((65, 65), (513, 513)), ((9, 7), (65, 49)),
                                              ((1, 1), (5, 4)), ((33, 17), (12, 30))])
def test_resize_matches_tf1_align_corners_and_numpy(rng, in_size, out_size):
    image = rng.normal(size=(2, *in_size, 3)).astype(np.float32)
    ours = resize_bilinear_align_corners(tf.constant(image), out_size).numpy()
    tf1 = tf.compat.v1.image.resize_bilinear(image, out_size, align_corners=True).numpy()
    np.testing.assert_array_equal(ours, tf1)
    np.testing.assert_allclose(ours[0], numpy_align_corners(image[0], *out_size), atol=1e-5)


def test_resize_differs_from_tf2_half_pixel_resize(rng):
    """The reason the layer exists: TF2's default resize gives other numbers."""
    image = rng.normal(size=(1, 9, 9, 1)).astype(np.float32)
    ours = resize_bilinear_align_corners(tf.constant(image), (65, 65)).numpy()
    tf2 = tf.image.resize(image, (65, 65), method="bilinear").numpy()
    assert np.abs(ours - tf2).max() > 1e-2
    assert ours[0, 0, 0, 0] == image[0, 0, 0, 0] and ours[0, -1, -1, 0] == image[0, -1, -1, 0]


def test_resize_layer_matches_reference_shape_and_fixed_size(rng):
    image = tf.constant(rng.normal(size=(1, 5, 6, 2)).astype(np.float32))
    reference = tf.zeros((1, 17, 21, 7))
    like = ResizeBilinear()([image, reference])
    fixed = ResizeBilinear(size=(17, 21))(image)
    assert like.shape == (1, 17, 21, 2)
    np.testing.assert_array_equal(like.numpy(), fixed.numpy())
    assert ResizeBilinear.from_config(ResizeBilinear(size=(3, 4)).get_config()).size == (3, 4)
    with pytest.raises(ValueError, match="size"):
        ResizeBilinear()(image)


def test_batch_norm_inference_equals_fused_kernel_and_training_updates(rng):
    x = rng.normal(size=(2, 5, 5, 4)).astype(np.float32) * 3
    layer = BatchNorm(epsilon=1e-3)
    layer.build(x.shape)
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    mean, var = rng.normal(size=4), rng.uniform(0.1, 2.0, size=4)
    layer.set_weights([w.astype(np.float32) for w in (gamma, beta, mean, var)])
    expected = (x - mean) / np.sqrt(var + 1e-3) * gamma + beta
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, atol=1e-5)
    fused, _, _ = tf.compat.v1.nn.fused_batch_norm(
        x, *[w.astype(np.float32) for w in (gamma, beta)], mean=mean.astype(np.float32),
        variance=var.astype(np.float32), epsilon=1e-3, is_training=False)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), fused.numpy())
    before = layer.moving_mean.numpy().copy()
    layer(x, training=True)
    assert not np.allclose(before, layer.moving_mean.numpy())


@pytest.mark.parametrize("rate,padding", [(2, "same"), (4, "same"), (2, "valid")])
def test_native_dilated_depthwise_equals_the_stock_layer(rng, rate, padding):
    import keras

    from deeplab.layers import NativeDilatedDepthwiseConv2D

    stock = keras.layers.DepthwiseConv2D(3, dilation_rate=rate, padding=padding, use_bias=True,
                                         activation="relu")
    native = NativeDilatedDepthwiseConv2D.from_config(stock.get_config())
    images = rng.normal(size=(2, 17, 23, 8)).astype(np.float32)
    stock.build(images.shape)
    native.build(images.shape)
    stock.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in stock.get_weights()])
    native.set_weights(stock.get_weights())
    np.testing.assert_allclose(native(images).numpy(), stock(images).numpy(), atol=1e-5)
    # the native kernel's CPU gradient ignores the dilation: training uses the stock path
    inputs = tf.constant(images)
    gradients = []
    for layer, training in ((stock, None), (native, True)):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(tf.square(layer(inputs, training=training)))
        gradients.append(tape.gradient(loss, [inputs, layer.kernel]))
    for got, expected in zip(gradients[1], gradients[0]):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-3)
    assert NativeDilatedDepthwiseConv2D.from_config(native.get_config()).dilation_rate == \
        (rate, rate)


@pytest.mark.parametrize("source,padded,valid", [
    ((65, 65), (513, 513), (385, 513)),   # landscape photo, output stride 8: rows skipped
    ((33, 33), (513, 513), (513, 300)),   # portrait photo, stride 16: columns skipped
    ((129, 129), (513, 513), (200, 513)),  # decoder output (stride 4)
    ((65, 65), (513, 513), (1, 2)),
    ((41, 41), (321, 321), (321, 321)),
    ((1, 1), (513, 513), (385, 513)),
    ((65, 70), (513, 560), (400, 560)),   # 559 / 69 is not whole: the full upsampling
    ((64, 64), (512, 512), (385, 512)),
])
def test_upsample_and_crop_equals_full_upsampling_then_crop(rng, source, padded, valid):
    from deeplab.contract_tf import upsample_and_crop

    logits = tf.constant(rng.normal(size=(2, *source, 5)).astype(np.float32))
    expected = resize_bilinear_align_corners(logits, padded)[:, :valid[0], :valid[1]]
    got = upsample_and_crop(logits, padded, valid)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected.numpy())  # same positions and weights
