"""Xception-65 v3+: a release-format checkpoint and frozen graph, written with the original
names, load into the Keras model with the architecture inferred and the outputs unchanged."""

import numpy as np
import pytest

from deeplab.config import xception_65_pascal
from deeplab.model import assign_original_weights, build_deeplab, original_weights
from weights_fixtures import write_release_folder


@pytest.fixture(scope="module")
def xception_release(tmp_path_factory):
    model = build_deeplab(xception_65_pascal(16))
    rng = np.random.default_rng(1)
    weights = {}
    for name, value in original_weights(model).items():
        if name.endswith("moving_variance"):
            weights[name] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        else:
            scale = 1.0 / np.sqrt(np.prod(value.shape[:-1])) if value.ndim == 4 else 0.1
            weights[name] = (rng.normal(size=value.shape) * scale).astype(np.float32)
    assign_original_weights(model, weights)
    folder = write_release_folder(tmp_path_factory.mktemp("xc") / "deeplabv3_pascal_train_aug",
                                  weights, checkpoint="model.ckpt", output_stride=16,
                                  atrous_rates=(6, 12, 18))
    return model, folder


@pytest.mark.parametrize("member", ["model.ckpt", "frozen_inference_graph.pb"])
def test_xception_release_loads_with_inferred_architecture(xception_release, member):
    from deeplab.weights import load_release

    model, folder = xception_release
    release = load_release(folder / member)
    config = release.config
    assert (config.backbone, config.output_stride, config.atrous_rates) == \
        ("xception_65", 16, (6, 12, 18))
    assert config.decoder_output_stride == 4 and config.aspp_with_separable_conv
    loaded = build_deeplab(config)
    assign_original_weights(loaded, release.weights)
    image = np.random.default_rng(2).uniform(-1, 1, (1, 97, 81, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded(image, training=False).numpy(),
                               model(image, training=False).numpy(), atol=1e-5)
