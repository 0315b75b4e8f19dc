"""Xception-65 feature extractor as DeepLab v3+ uses it (the "modified aligned" Xception).

Facts reproduced from the original: ReLU comes *before* each separable conv and none sits between
the depthwise batch norm and the pointwise conv, except in exit-flow block 2 where each separable
conv ends in its own ReLUs; stride-2 convolutions pad 1 pixel explicitly and run VALID.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from deeplab.layers import BACKBONE_BN_EPSILON, conv_bn, depthwise_bn

SCOPE = "xception_65"
#: Where the v3+ decoder taps its stride-4 features (before that conv's ReLU).
DECODER_TAP = f"{SCOPE}.entry_flow.block2.unit_1.xception_module.separable_conv2_pointwise"


@dataclass(frozen=True)
class XceptionBlock:
    """One block of the network: ``units`` Xception modules of three separable convs of
    ``depths`` channels, a ``conv`` / ``sum`` / ``none`` shortcut, and the block's stride."""

    scope: str
    depths: tuple[int, int, int]
    skip: str            # "conv", "sum" or "none"
    units: int
    stride: int
    activation_in_separable_conv: bool = False


BLOCKS = (
    XceptionBlock("entry_flow.block1", (128, 128, 128), "conv", 1, 2),
    XceptionBlock("entry_flow.block2", (256, 256, 256), "conv", 1, 2),
    XceptionBlock("entry_flow.block3", (728, 728, 728), "conv", 1, 2),
    XceptionBlock("middle_flow.block1", (728, 728, 728), "sum", 16, 1),
    XceptionBlock("exit_flow.block1", (728, 1024, 1024), "conv", 1, 2),
    XceptionBlock("exit_flow.block2", (1536, 1536, 2048), "none", 1, 1, True),
)


def xception_65(images, *, output_stride: int = 16):
    """Returns (features at ``output_stride``, stride-4 features for the decoder)."""
    x = keras.layers.ZeroPadding2D(1, name=f"{SCOPE}.Pad")(images)
    x = conv_bn(x, 32, 3, f"{SCOPE}.entry_flow.conv1_1", strides=2, padding="valid",
                epsilon=BACKBONE_BN_EPSILON)
    x = conv_bn(x, 64, 3, f"{SCOPE}.entry_flow.conv1_2", epsilon=BACKBONE_BN_EPSILON)
    current_stride, rate, low_level = 2, 1, None
    for block in BLOCKS:
        for unit in range(1, block.units + 1):
            if current_stride == output_stride:
                unit_stride, unit_rate, rate = 1, rate, rate * block.stride
            else:
                unit_stride, unit_rate = block.stride, 1
                current_stride *= block.stride
            name = f"{SCOPE}.{block.scope}.unit_{unit}.xception_module"
            x, taps = xception_module(x, block, name, stride=unit_stride, rate=unit_rate)
            low_level = taps.get(DECODER_TAP, low_level)
    return x, low_level


def xception_module(x, block: XceptionBlock, name: str, *, stride: int, rate: int):
    """Three separable convs with a conv, identity or no shortcut. Returns (output, taps)."""
    inputs, residual, taps = x, x, {}
    activation = "relu" if block.activation_in_separable_conv else None
    for index, depth in enumerate(block.depths, start=1):
        conv_name = f"{name}.separable_conv{index}"
        if not block.activation_in_separable_conv:
            residual = keras.layers.ReLU(name=f"{conv_name}.pre_relu")(residual)
        conv_stride = stride if index == 3 else 1
        residual = separable_conv_same(residual, depth, conv_name, stride=conv_stride, rate=rate,
                                       activation=activation)
        taps[f"{conv_name}_pointwise"] = residual
    if block.skip == "conv":
        shortcut = conv_bn(inputs, block.depths[-1], 1, f"{name}.shortcut", strides=stride,
                           epsilon=BACKBONE_BN_EPSILON, activation=None)
        residual = keras.layers.Add(name=f"{name}.add")([residual, shortcut])
    elif block.skip == "sum":
        residual = keras.layers.Add(name=f"{name}.add")([residual, inputs])
    return residual, taps


def separable_conv_same(x, filters: int, name: str, *, stride: int, rate: int,
                        activation: str | None):
    """Depthwise (explicitly padded when strided) + BN [+ act], pointwise + BN [+ act]."""
    padding = "same"
    if stride > 1:
        effective = 3 + 2 * (rate - 1)
        pad_total = effective - 1
        x = keras.layers.ZeroPadding2D(
            ((pad_total // 2, pad_total - pad_total // 2),) * 2, name=f"{name}.Pad")(x)
        padding = "valid"
    x = depthwise_bn(x, f"{name}_depthwise", strides=stride, dilation_rate=rate, padding=padding,
                     epsilon=BACKBONE_BN_EPSILON, activation=activation)
    x = conv_bn(x, filters, 1, f"{name}_pointwise", epsilon=BACKBONE_BN_EPSILON,
                activation=activation)
    return x
