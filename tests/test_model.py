"""DeepLab model structure: shapes at output strides 8/16, original names, weight loading, saving."""

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import PROJECT_ROOT, shared_path
from deeplab.config import ModelConfig, mobilenet_v2_pascal, xception_65_pascal
from deeplab.model import (WeightMappingError, assign_original_weights, build_deeplab, load_model,
                           original_variable_map, original_weights, save_model)


def stride_size(size: int, stride: int) -> int:
    """Spatial size of the original's SAME-padded strided features: (size - 1) / stride + 1."""
    return (size - 1) // stride + 1


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("depth_multiplier", [1.0, 0.5])
def test_mobilenet_v2_output_shape(output_stride, depth_multiplier):
    config = ModelConfig("mobilenet_v2", depth_multiplier, 5, output_stride)
    model = build_deeplab(config)
    logits = model(np.zeros((2, 97, 65, 3), np.float32), training=False)
    assert logits.shape == (2, stride_size(97, output_stride), stride_size(65, output_stride), 5)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_xception_v3_plus_output_shape_is_stride_4(output_stride):
    model = build_deeplab(xception_65_pascal(output_stride))
    logits = model(np.zeros((1, 65, 49, 3), np.float32), training=False)
    assert logits.shape == (1, 17, 13, 21)


def test_mobilenet_v2_v3_plus_decoder_taps_layer_4_depthwise_output():
    """The original's MobileNetV2 decoder end point: ``layer_4/depthwise_output`` (stride 4)."""
    config = ModelConfig("mobilenet_v2", 1.0, 4, 16, atrous_rates=(6, 12, 18),
                         decoder_output_stride=4)
    model = build_deeplab(config)
    assert model(np.zeros((1, 65, 49, 3), np.float32)).shape == (1, 17, 13, 4)
    shapes = {name: tuple(v.shape) for name, v in original_variable_map(model).items()}
    assert shapes["decoder/feature_projection0/weights"] == (1, 1, 144, 48)
    assert shapes["decoder/decoder_conv0_depthwise/depthwise_weights"] == (3, 3, 304, 1)


def test_mobilenet_v2_with_atrous_aspp_and_no_image_pooling():
    config = ModelConfig("mobilenet_v2", 0.5, 3, 16, atrous_rates=(6, 12, 18),
                         aspp_with_separable_conv=False, image_pooling=False)
    model = build_deeplab(config)
    names = set(original_variable_map(model))
    assert "aspp3/weights" in names and "image_pooling/weights" not in names
    assert model(np.zeros((1, 33, 33, 3), np.float32)).shape == (1, 3, 3, 3)


def manifest_variables(path) -> dict[str, tuple[int, ...]]:
    """Checkpoint variables (name -> shape) listed in a release manifest, minus optimizer state."""
    text = path.read_text().split("## checkpoint variables", 1)[1]
    found = {}
    for name, shape in re.findall(r"^(\S+)\s+float32\s+\[([\d, ]*)\]", text, re.M):
        if name.endswith("/Momentum") or name == "global_step":
            continue
        found[name] = tuple(int(d) for d in shape.split(",") if d.strip())
    return found


@pytest.mark.parametrize("manifest,config", [
    ("deeplabv3_pascal_train_aug_2018_01_04.txt", xception_65_pascal(8)),
    ("deeplabv3_mnv2_pascal_train_aug_2018_01_29.txt", mobilenet_v2_pascal(1.0)),
    ("deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.txt", mobilenet_v2_pascal(0.5)),
])
def test_variables_match_official_release_one_to_one(manifest, config):
    expected = manifest_variables(shared_path("fixtures", "official", "manifests", manifest))
    ours = {name: tuple(v.shape) for name, v in original_variable_map(build_deeplab(config)).items()}
    assert sorted(set(expected) - set(ours)) == []
    assert sorted(set(ours) - set(expected)) == []
    assert {n: s for n, s in ours.items() if expected[n] != s} == {}


def test_assign_original_weights_round_trip_and_errors(rng):
    config = ModelConfig("mobilenet_v2", 0.5, 2, 16)
    model = build_deeplab(config)
    weights = {name: rng.normal(size=value.shape).astype(np.float32)
               for name, value in original_weights(model).items()}
    other = build_deeplab(config)
    assign_original_weights(other, weights)
    image = rng.uniform(-1, 1, size=(1, 33, 33, 3)).astype(np.float32)
    assign_original_weights(model, weights)
    np.testing.assert_array_equal(model(image).numpy(), other(image).numpy())

    missing = dict(weights)
    del missing["MobilenetV2/Conv/weights"]
    with pytest.raises(WeightMappingError, match="MobilenetV2/Conv/weights"):
        assign_original_weights(other, missing)
    extra = {**weights, "aspp1/weights": np.zeros((3, 3, 160, 256), np.float32)}
    with pytest.raises(WeightMappingError, match="aspp1/weights"):
        assign_original_weights(other, extra)
    wrong = {**weights, "logits/semantic/weights": np.zeros((1, 1, 256, 21), np.float32)}
    with pytest.raises(WeightMappingError, match=r"logits/semantic/weights.*\(1, 1, 256, 2\)"):
        assign_original_weights(other, wrong)


def test_keras_file_round_trip_in_fresh_process_safe_mode(tmp_path, rng):
    config = ModelConfig("mobilenet_v2", 0.5, 3, 16, class_names=("bg", "person", "dog"))
    model = build_deeplab(config)
    image = rng.uniform(-1, 1, size=(1, 41, 37, 3)).astype(np.float32)
    expected = model(image, training=False).numpy()
    path = save_model(model, config, tmp_path / "model.keras")
    np.save(tmp_path / "image.npy", image)
    script = f"""
import numpy as np, keras, deeplab.layers
model = keras.saving.load_model({str(path)!r}, safe_mode=True)
np.save({str(tmp_path / 'out.npy')!r}, model(np.load({str(tmp_path / 'image.npy')!r}), training=False).numpy())
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=PROJECT_ROOT)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)
    reloaded, reloaded_config = load_model(path)
    assert reloaded_config == config
    assert not any(type(layer).__name__ == "Lambda" for layer in reloaded.layers)


def test_residual_decoder_starts_as_the_upsampled_logits_and_learns_a_correction(tmp_path, rng):
    from deeplab.layers import RESIDUAL_DECODER_OUTPUT, resize_bilinear_align_corners

    base = ModelConfig("mobilenet_v2", 0.5, 21, 16)
    config = base.replace(residual_decoder_filters=8)
    plain, decoded = build_deeplab(base), build_deeplab(config)
    for layer in plain.layers:
        if layer.weights:
            decoded.get_layer(layer.name).set_weights(layer.get_weights())
    image = rng.uniform(-1, 1, size=(1, 65, 49, 3)).astype(np.float32)
    coarse = plain(image, training=False)
    logits = decoded(image, training=False).numpy()
    assert logits.shape == (1, stride_size(65, 4), stride_size(49, 4), 21)
    np.testing.assert_allclose(logits, resize_bilinear_align_corners(coarse, logits.shape[1:3]),
                               atol=1e-5)
    output = decoded.get_layer(RESIDUAL_DECODER_OUTPUT)
    output.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32)
                        for w in output.get_weights()])
    changed = decoded(image, training=False).numpy()
    assert np.abs(changed - logits).max() > 1e-3
    reloaded, reloaded_config = load_model(save_model(decoded, config, tmp_path / "m.keras"))
    assert reloaded_config.residual_decoder_filters == 8
    np.testing.assert_allclose(reloaded(image, training=False), changed, atol=1e-5)
    assert all(name in original_variable_map(decoded)
               for name in ("residual_decoder/logits/weights", "residual_decoder/projection/biases"))


def test_residual_decoder_config_is_checked():
    with pytest.raises(ValueError, match="positive"):
        ModelConfig(residual_decoder_filters=0)
    with pytest.raises(ValueError, match="two decoders"):
        ModelConfig(residual_decoder_filters=16, decoder_output_stride=4)
