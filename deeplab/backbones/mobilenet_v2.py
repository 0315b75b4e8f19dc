"""MobileNetV2 feature extractor as DeepLab uses it (slim ``mobilenet_v2``, up to ``layer_18``).

Output stride 8 or 16 is reached the way the original does: once the running stride equals the
target, later strides become 1 and the depthwise convolutions dilate instead.
"""

from __future__ import annotations

import keras

from deeplab.layers import BACKBONE_BN_EPSILON, conv_bn, depthwise_bn

SCOPE = "MobilenetV2"

#: (expansion factor, output channels, stride) of the 17 inverted-residual blocks.
BLOCKS = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor``, never dropping more than 10%."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def output_channels(channels: int, depth_multiplier: float) -> int:
    """Width after the depth multiplier. DeepLab rounds to multiples of 8 only at multiplier 1.0."""
    divisor = 8 if depth_multiplier == 1.0 else 1
    return make_divisible(channels * depth_multiplier, divisor)


def block_name(index: int) -> str:
    """Keras name of inverted-residual block ``index``: ``MobilenetV2.expanded_conv[_N]``."""
    return f"{SCOPE}.expanded_conv" + (f"_{index}" if index else "")


#: The v3+ decoder's stride-4 tap, the original's ``layer_4/depthwise_output`` (after ReLU6).
DECODER_TAP_BLOCK = 2


def mobilenet_v2(images, *, depth_multiplier: float = 1.0, output_stride: int = 8):
    """Returns (features of ``expanded_conv_16`` at ``output_stride``, stride-4 decoder features)."""
    x = conv_bn(images, output_channels(32, depth_multiplier), 3, f"{SCOPE}.Conv", strides=2,
                epsilon=BACKBONE_BN_EPSILON, activation="relu6")
    current_stride, rate, low_level = 2, 1, None
    for index, (expansion, channels, stride) in enumerate(BLOCKS):
        if current_stride == output_stride:
            layer_stride, layer_rate, rate = 1, rate, rate * stride
        else:
            layer_stride, layer_rate, current_stride = stride, 1, current_stride * stride
        x, depthwise_output = inverted_residual(
            x, expansion, output_channels(channels, depth_multiplier), block_name(index),
            stride=layer_stride, rate=layer_rate)
        if index == DECODER_TAP_BLOCK:
            low_level = depthwise_output
    return x, low_level


def inverted_residual(x, expansion: int, channels: int, name: str, *, stride: int, rate: int):
    """expand 1x1 (ReLU6) -> depthwise 3x3 (ReLU6) -> project 1x1 (linear) [+ input].

    Returns (output, depthwise output)."""
    inputs = x
    in_channels = x.shape[-1]
    if expansion != 1:
        x = conv_bn(x, make_divisible(in_channels * expansion, 8), 1, f"{name}.expand",
                    epsilon=BACKBONE_BN_EPSILON, activation="relu6")
    x = depthwise_output = depthwise_bn(x, f"{name}.depthwise", strides=stride, dilation_rate=rate,
                                        epsilon=BACKBONE_BN_EPSILON, activation="relu6")
    x = conv_bn(x, channels, 1, f"{name}.project", epsilon=BACKBONE_BN_EPSILON, activation=None)
    if stride == 1 and in_channels == channels:
        x = keras.layers.Add(name=f"{name}.add")([inputs, x])
    return x, depthwise_output
