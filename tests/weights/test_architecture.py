"""Inferring the architecture of a release from its variable names and shapes."""

from __future__ import annotations

import pytest
from conftest import shared_path
from weights_fixtures import (
    head_shapes, manifest_variables, mobilenet_v2_shapes, xception_65_shapes)

from deeplab.config import PASCAL_VOC_CLASSES, ModelConfig
from deeplab.weights.architecture import infer_config, infer_depth_multiplier
from deeplab.weights.errors import ArchitectureError


@pytest.mark.parametrize("depth_multiplier", [1.0, 0.75, 0.5, 0.35])
def test_mobilenet_v2_depth_multiplier_and_classes(depth_multiplier):
    shapes = mobilenet_v2_shapes(depth_multiplier, num_classes=7)
    config = infer_config(shapes)
    assert config.backbone == "mobilenet_v2"
    assert config.depth_multiplier == depth_multiplier
    assert config.num_classes == 7 and len(config.class_names) == 7
    assert config.output_stride == 8 and config.atrous_rates == ()
    assert config.image_pooling and config.decoder_output_stride is None


def test_stem_channels_alone_do_not_decide_the_multiplier():
    shapes = mobilenet_v2_shapes(0.5)
    shapes["MobilenetV2/expanded_conv_16/project/weights"] = (1, 1, 480, 96)
    with pytest.raises(ArchitectureError, match="match no depth multiplier"):
        infer_depth_multiplier(shapes)


def test_xception_65_v3_plus():
    config = infer_config(xception_65_shapes(21))
    assert config.backbone == "xception_65" and config.depth_multiplier == 1.0
    assert config.output_stride == 16 and config.atrous_rates == (6, 12, 18)
    assert config.aspp_with_separable_conv and config.image_pooling
    assert config.decoder_output_stride == 4 and config.decoder_use_separable_conv
    at_8 = infer_config(xception_65_shapes(21), output_stride=8)
    assert at_8.output_stride == 8 and at_8.atrous_rates == (12, 24, 36)
    given = infer_config(xception_65_shapes(21), output_stride=8, atrous_rates=(10, 20, 30))
    assert given.atrous_rates == (10, 20, 30)


def test_plain_aspp_and_no_image_pooling():
    shapes = {"MobilenetV2/Conv/weights": (3, 3, 3, 32),
              **head_shapes(320, 5, atrous_branches=2, separable=False, image_pooling=False)}
    config = infer_config(shapes, atrous_rates=(6, 12))
    assert not config.aspp_with_separable_conv and not config.image_pooling
    assert config.atrous_rates == (6, 12)
    with pytest.raises(ArchitectureError, match="2 ASPP branches but the atrous rates are unknown"):
        infer_config(shapes)
    with pytest.raises(ArchitectureError, match="3 atrous rates"):
        infer_config(shapes, atrous_rates=(6, 12, 18))


def test_mobilenet_v2_with_decoder_is_inferred_as_v3_plus():
    """The ADE20K MobileNetV2 release has the v3+ decoder on ``layer_4/depthwise_output``."""
    from deeplab.model import build_deeplab, original_variable_map

    expected = ModelConfig("mobilenet_v2", 1.0, 151, 16, decoder_output_stride=4)
    shapes = {n: tuple(v.shape) for n, v in original_variable_map(build_deeplab(expected)).items()}
    config = infer_config(shapes, output_stride=16)
    assert config.decoder_output_stride == 4 and config.backbone == "mobilenet_v2"
    assert config.replace(class_names=()) == expected.replace(class_names=())


def test_class_names_and_crop_size_pass_through():
    config = infer_config(mobilenet_v2_shapes(1.0, 21), class_names=PASCAL_VOC_CLASSES,
                          crop_size=321, output_stride=16)
    assert config.class_names == PASCAL_VOC_CLASSES
    assert config.crop_size == 321 and config.output_stride == 16


@pytest.mark.parametrize("change, message", [
    (lambda s: {k.replace("MobilenetV2/", "resnet_v1_101/"): v for k, v in s.items()},
     "no supported backbone.*resnet_v1_101"),
    (lambda s: {k: v for k, v in s.items() if not k.startswith("logits/")},
     "not a DeepLab segmentation model"),
    (lambda s: {**s, "aspp3_depthwise/depthwise_weights": (3, 3, 320, 1)},
     r"ASPP branches \[3\] are not numbered"),
    (lambda s: {**s, "xception_65/entry_flow/conv1_1/weights": (3, 3, 3, 32)},
     "several backbones"),
])
def test_architecture_errors(change, message):
    with pytest.raises(ArchitectureError, match=message):
        infer_config(change(mobilenet_v2_shapes()))


@pytest.mark.parametrize("manifest, generated, expected", [
    ("deeplabv3_mnv2_pascal_train_aug_2018_01_29.txt", lambda: mobilenet_v2_shapes(1.0),
     dict(backbone="mobilenet_v2", depth_multiplier=1.0, atrous_rates=())),
    ("deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.txt", lambda: mobilenet_v2_shapes(0.5),
     dict(backbone="mobilenet_v2", depth_multiplier=0.5, atrous_rates=())),
    ("deeplabv3_pascal_train_aug_2018_01_04.txt", xception_65_shapes,
     dict(backbone="xception_65", depth_multiplier=1.0, atrous_rates=(6, 12, 18),
          decoder_output_stride=4)),
])
def test_official_manifests(manifest, generated, expected):
    variables = manifest_variables(shared_path("fixtures", "official", "manifests", manifest))
    # the test writers produce exactly the official names and shapes
    assert generated() == variables
    config = infer_config(variables)
    assert config.num_classes == 21
    for field, value in expected.items():
        assert getattr(config, field) == value
