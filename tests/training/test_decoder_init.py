"""Adding the v3+ decoder to a release without one: step 0 predicts what the release predicts."""

from __future__ import annotations

import numpy as np

from weights_fixtures import mobilenet_v2_shapes, random_weights

from deeplab.config import ModelConfig
from deeplab.layers import resize_bilinear_align_corners
from deeplab.model import assign_original_weights, build_deeplab
from deeplab.training.head_init import initialize_from, pass_through_decoder


def _release_and_decoder_model():
    config = ModelConfig("mobilenet_v2", 0.5, 21, 16, crop_size=129)
    release = build_deeplab(config)
    assign_original_weights(release, random_weights(mobilenet_v2_shapes(0.5, 21), 0))
    return release, config, build_deeplab(config.replace(decoder_output_stride=4))


def test_a_new_decoder_passes_the_aspp_features_through(rng):
    release, config, target = _release_and_decoder_model()
    report = initialize_from(target, release, config.class_names, config.class_names)
    assert report.pass_through_decoder
    assert "pass-through" in report.format()

    pass_through_decoder(target, low_level_std=0.0)
    image = rng.uniform(-1, 1, (1, 129, 129, 3)).astype(np.float32)
    decoded = target(image).numpy()
    expected = resize_bilinear_align_corners(release(image), decoded.shape[1:3]).numpy()
    np.testing.assert_allclose(decoded, expected, atol=1e-5 * np.abs(expected).max())


def test_the_stride_4_features_still_get_gradients(rng):
    import tensorflow as tf

    release, config, target = _release_and_decoder_model()
    initialize_from(target, release, config.class_names, config.class_names)
    image = tf.constant(rng.uniform(-1, 1, (1, 129, 129, 3)).astype(np.float32))
    projection = target.get_layer("decoder.feature_projection0").kernel
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(target(image)))
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, projection)))) > 0


def test_a_source_with_its_own_decoder_is_copied_not_reset(rng):
    config = ModelConfig("mobilenet_v2", 0.5, 3, 16, crop_size=65, decoder_output_stride=4)
    source, target = build_deeplab(config), build_deeplab(config)
    report = initialize_from(target, source, config.class_names, config.class_names)
    assert not report.pass_through_decoder
    kernel = "decoder.decoder_conv1_pointwise"
    np.testing.assert_array_equal(target.get_layer(kernel).get_weights()[0],
                                  source.get_layer(kernel).get_weights()[0])
