"""ModelConfig: validation, output-stride changes, (de)serialisation."""

import pytest

from deeplab.config import (PASCAL_VOC_CLASSES, ModelConfig, default_atrous_rates,
                            scale_atrous_rates, xception_65_pascal)


def test_atrous_rates_follow_the_output_stride():
    assert default_atrous_rates(16) == (6, 12, 18)
    assert default_atrous_rates(8) == (12, 24, 36)
    assert default_atrous_rates(32) == (3, 6, 9)
    assert scale_atrous_rates((6, 12, 18), 16, 8) == (12, 24, 36)
    assert scale_atrous_rates((1,), 8, 32) == (1,)  # never below 1


def test_at_output_stride_keeps_everything_but_stride_and_rates():
    config = xception_65_pascal(16)
    at_8 = config.at_output_stride(8)
    assert (at_8.output_stride, at_8.atrous_rates) == (8, (12, 24, 36))
    assert at_8.replace(output_stride=16, atrous_rates=(6, 12, 18)) == config
    assert config.at_output_stride(16) is config


def test_json_round_trip_and_unknown_keys_are_named():
    config = ModelConfig("mobilenet_v2", 0.5, 3, 16, class_names=("bg", "person", "dog"))
    assert ModelConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="output_strides"):
        ModelConfig.from_dict({"output_strides": 8})
    with pytest.raises(ValueError, match="num_class"):
        config.replace(num_class=2)
    with pytest.raises(ValueError, match="JSON object"):
        ModelConfig.from_json("[1, 2]")


def test_bad_values_are_rejected_with_the_value():
    with pytest.raises(ValueError, match="resnet"):
        ModelConfig("resnet")
    with pytest.raises(ValueError, match="output_stride.*12"):
        ModelConfig(output_stride=12)
    with pytest.raises(ValueError, match="depth_multiplier"):
        ModelConfig(depth_multiplier=0)
    with pytest.raises(ValueError, match="atrous_rates"):
        ModelConfig(atrous_rates=(6, 0))
    with pytest.raises(ValueError, match="2 class names given for 21"):
        ModelConfig(class_names=("a", "b"))


def test_class_names_default_and_reset_with_the_class_count():
    assert ModelConfig().class_names == PASCAL_VOC_CLASSES
    two = ModelConfig().replace(num_classes=2)
    assert two.class_names == ("background", "person")
    assert ModelConfig(num_classes=4).class_names == ("class_0", "class_1", "class_2", "class_3")
