"""Inferring a :class:`ModelConfig` from the variable names and shapes of an original release.

The user never says which network a release is: the variables tell.

- backbone: the top scope, ``MobilenetV2/`` or ``xception_65/``;
- depth multiplier (MobileNetV2): the channel counts, e.g. ``MobilenetV2/Conv/weights`` has 32
  output channels at 1.0 and 16 at 0.5 (checked against every ``project`` layer);
- classes: the last dimension of ``logits/semantic/weights``;
- ASPP: ``aspp1..N`` branches, separable (``aspp1_depthwise``) or plain (``aspp1/weights``);
  image pooling when ``image_pooling/weights`` exists;
- v3+ decoder: ``decoder/feature_projection0``, separable when ``decoder_conv0_depthwise`` exists.

The output stride and ASPP rates are not in the variables. A frozen graph fixes them (see
:mod:`deeplab.weights.frozen_graph`); otherwise the caller passes them (e.g. from the registry), and
the defaults are the releases' evaluation settings: 8 for MobileNetV2, 16 for Xception-65, with the
rates of :func:`deeplab.config.default_atrous_rates`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from deeplab.config import ModelConfig, default_atrous_rates
from deeplab.weights.errors import ArchitectureError

BACKBONE_SCOPES = {"MobilenetV2": "mobilenet_v2", "xception_65": "xception_65"}
DEFAULT_OUTPUT_STRIDE = {"mobilenet_v2": 8, "xception_65": 16}
LOGITS_WEIGHTS = "logits/semantic/weights"

MOBILENET_V2_STEM_CHANNELS = 32
_DEPTH_MULTIPLIER_CANDIDATES = (0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
#: ``aspp<N>/...`` (plain branch) or ``aspp<N>_depthwise/...`` (separable branch).
ASPP_BRANCH = re.compile(r"^aspp(\d+)(_depthwise)?/")


def mobilenet_v2_channels(depth_multiplier: float) -> list[tuple[int | None, int]]:
    """(expansion channels or None, output channels) of ``MobilenetV2/Conv`` then
    ``expanded_conv``, ``expanded_conv_1`` ... ``expanded_conv_16``, with the backbone's own
    channel rounding (:mod:`deeplab.backbones.mobilenet_v2`)."""
    from deeplab.backbones.mobilenet_v2 import BLOCKS, make_divisible, output_channels

    plan: list[tuple[int | None, int]] = [
        (None, output_channels(MOBILENET_V2_STEM_CHANNELS, depth_multiplier))]
    inputs = plan[0][1]
    for expansion, channels, _ in BLOCKS:
        expand = None if expansion == 1 else make_divisible(inputs * expansion, 8)
        outputs = output_channels(channels, depth_multiplier)
        plan.append((expand, outputs))
        inputs = outputs
    return plan


def mobilenet_v2_scope(index: int) -> str:
    """``MobilenetV2/Conv`` for 0, ``MobilenetV2/expanded_conv`` for 1, ``..._N`` for N+1."""
    if index == 0:
        return "MobilenetV2/Conv"
    return "MobilenetV2/expanded_conv" + ("" if index == 1 else f"_{index - 1}")


def _observed_mobilenet_channels(shapes: Mapping[str, tuple[int, ...]]) -> list[int | None]:
    observed: list[int | None] = []
    for index in range(len(mobilenet_v2_channels(1.0))):
        name = ("MobilenetV2/Conv/weights" if index == 0
                else f"{mobilenet_v2_scope(index)}/project/weights")
        shape = shapes.get(name)
        observed.append(int(shape[-1]) if shape and len(shape) == 4 else None)
    return observed


def infer_depth_multiplier(shapes: Mapping[str, tuple[int, ...]]) -> float:
    """MobileNetV2 width from its channel counts (stem and every block's projection)."""
    stem = shapes.get("MobilenetV2/Conv/weights")
    if stem is None or len(stem) != 4:
        raise ArchitectureError("MobilenetV2/Conv/weights is missing or not a 4-d kernel: cannot "
                                "tell the depth multiplier")
    observed = _observed_mobilenet_channels(shapes)
    guess = round(stem[-1] / MOBILENET_V2_STEM_CHANNELS, 4)
    for candidate in (guess, *_DEPTH_MULTIPLIER_CANDIDATES):
        plan = [out for _, out in mobilenet_v2_channels(candidate)]
        if all(seen is None or seen == expected for seen, expected in zip(observed, plan)):
            return candidate
    raise ArchitectureError(
        f"MobileNetV2 channel counts {observed} (stem, then each block's projection) match no "
        f"depth multiplier (tried {guess} and {_DEPTH_MULTIPLIER_CANDIDATES})")


def infer_backbone(names: Sequence[str]) -> str:
    """``mobilenet_v2`` or ``xception_65`` from the top variable scope."""
    scopes = {name.split("/")[0] for name in names}
    found = [BACKBONE_SCOPES[s] for s in BACKBONE_SCOPES if s in scopes]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ArchitectureError(f"variables of several backbones found: {sorted(found)}")
    others = sorted(s for s in scopes if s not in {"aspp0", "image_pooling", "concat_projection",
                                                   "logits", "decoder"}
                    and not s.startswith("aspp"))
    raise ArchitectureError(
        f"no supported backbone: expected variables under MobilenetV2/ or xception_65/, found "
        f"top-level scopes {others[:10]}")


def infer_config(shapes: Mapping[str, tuple[int, ...]], *, output_stride: int | None = None,
                 atrous_rates: Sequence[int] | None = None, crop_size: int | None = None,
                 class_names: Sequence[str] | None = None) -> ModelConfig:
    """The :class:`ModelConfig` whose variables are ``shapes`` (name -> shape).

    ``output_stride`` / ``atrous_rates`` / ``crop_size`` come from a frozen graph or a registry
    entry when known; ``atrous_rates`` are otherwise the defaults of the output stride.
    """
    names = sorted(shapes)
    backbone = infer_backbone(names)
    logits = shapes.get(LOGITS_WEIGHTS)
    if logits is None or len(logits) != 4:
        raise ArchitectureError(
            f"no {LOGITS_WEIGHTS}: not a DeepLab segmentation model (an ImageNet backbone "
            f"checkpoint has no segmentation head)")
    num_classes = int(logits[-1])
    depth_multiplier = infer_depth_multiplier(shapes) if backbone == "mobilenet_v2" else 1.0

    branches: dict[int, bool] = {}
    for name in names:
        match = ASPP_BRANCH.match(name)
        if match and int(match.group(1)) > 0:
            index = int(match.group(1))
            branches[index] = branches.get(index, False) or match.group(2) is not None
    if sorted(branches) != list(range(1, len(branches) + 1)):
        raise ArchitectureError(f"ASPP branches {sorted(branches)} are not numbered 1..N")
    separable = set(branches.values())
    if len(separable) > 1:
        raise ArchitectureError("ASPP mixes separable (aspp*_depthwise) and plain branches")
    aspp_with_separable_conv = separable.pop() if separable else True

    if output_stride is None:
        output_stride = DEFAULT_OUTPUT_STRIDE[backbone]
    if atrous_rates is None:
        defaults = default_atrous_rates(output_stride) if branches else ()
        if len(defaults) != len(branches):
            raise ArchitectureError(
                f"{len(branches)} ASPP branches but the atrous rates are unknown (a checkpoint "
                f"does not store them; the default has {len(defaults)}): pass atrous_rates")
        atrous_rates = defaults
    atrous_rates = tuple(int(r) for r in atrous_rates)
    if len(atrous_rates) != len(branches):
        raise ArchitectureError(f"{len(atrous_rates)} atrous rates {atrous_rates} given for "
                                f"{len(branches)} ASPP branches")

    decoder = "decoder/feature_projection0/weights" in shapes
    decoder_separable = "decoder/decoder_conv0_depthwise/depthwise_weights" in shapes
    if decoder and not decoder_separable and "decoder/decoder_conv0/weights" not in shapes:
        raise ArchitectureError("decoder/feature_projection0 present but no decoder/decoder_conv0"
                                " (separable or plain)")
    options = dict(
        backbone=backbone, depth_multiplier=depth_multiplier, num_classes=num_classes,
        output_stride=int(output_stride), atrous_rates=atrous_rates,
        aspp_with_separable_conv=aspp_with_separable_conv,
        image_pooling="image_pooling/weights" in shapes,
        decoder_output_stride=4 if decoder else None,
        decoder_use_separable_conv=decoder_separable if decoder else True,
        class_names=tuple(class_names) if class_names else (),
    )
    if crop_size is not None:
        options["crop_size"] = int(crop_size)
    try:
        return ModelConfig(**options)
    except ValueError as error:
        raise ArchitectureError(
            f"the variables describe an unsupported network: {error}") from error
