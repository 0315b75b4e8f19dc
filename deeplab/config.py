"""Typed configuration of a DeepLab network.

One frozen dataclass says everything needed to rebuild a model: the backbone, its width, the output
stride, the ASPP head, the optional v3+ decoder and the label set. The weight converter infers it
from a release's variable names and shapes; training reads it from YAML; export stores it beside the
model so a SavedModel knows its own class names.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

BACKBONES = ("mobilenet_v2", "xception_65")

PASCAL_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tv",
)
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
    "bicycle",
)
PERSON_CLASSES = ("background", "person")


def default_atrous_rates(output_stride: int) -> tuple[int, ...]:
    """ASPP rates of the Xception-65 releases: 6/12/18 at stride 16, scaled with the stride
    (12/24/36 at 8)."""
    return scale_atrous_rates((6, 12, 18), 16, output_stride)


def scale_atrous_rates(rates: tuple[int, ...], from_stride: int, to_stride: int
                       ) -> tuple[int, ...]:
    """ASPP rates for another output stride: the same receptive field in input pixels
    (6/12/18 at stride 16 are 12/24/36 at stride 8)."""
    return tuple(max(1, int(round(rate * from_stride / to_stride))) for rate in rates)


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """Best-guess label names for a class count (PASCAL 21, Cityscapes 19, person 2)."""
    known = {21: PASCAL_VOC_CLASSES, 19: CITYSCAPES_CLASSES, 2: PERSON_CLASSES}
    if num_classes in known:
        return known[num_classes]
    return tuple(f"class_{i}" for i in range(num_classes))


def _check_keys(cls, data: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the keys of ``data`` that are not fields of ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown model config keys: {sorted(unknown)}; expected some of "
                         f"{sorted(known)}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one DeepLab v3 / v3+ network.

    ``atrous_rates`` are the absolute dilation rates of the ASPP branches (empty: only the 1x1
    branch and image pooling, as in the MobileNetV2 releases). ``decoder_output_stride`` set to 4
    adds the v3+ decoder. ``residual_decoder_filters`` set to N adds instead a light residual
    decoder (:func:`deeplab.layers.residual_decoder`, N channels at stride 4) that corrects the
    upsampled logits and starts as an exact pass-through. ``crop_size`` is the side the original
    graph pads inputs to.
    """

    backbone: str = "mobilenet_v2"
    depth_multiplier: float = 1.0
    num_classes: int = 21
    output_stride: int = 8
    atrous_rates: tuple[int, ...] = ()
    aspp_with_separable_conv: bool = True
    image_pooling: bool = True
    decoder_output_stride: int | None = None
    decoder_use_separable_conv: bool = True
    residual_decoder_filters: int | None = None
    crop_size: int = 513
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {self.output_stride}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")
        if self.decoder_output_stride not in (None, 4):
            raise ValueError(f"decoder_output_stride must be None or 4, got "
                             f"{self.decoder_output_stride}")
        if self.residual_decoder_filters is not None:
            if int(self.residual_decoder_filters) < 1:
                raise ValueError(f"residual_decoder_filters must be positive, got "
                                 f"{self.residual_decoder_filters}")
            if self.decoder_output_stride is not None:
                raise ValueError("residual_decoder_filters and decoder_output_stride are two "
                                 "decoders: set one of them")
        if self.depth_multiplier <= 0:
            raise ValueError(f"depth_multiplier must be positive, got {self.depth_multiplier}")
        if self.crop_size < 1:
            raise ValueError(f"crop_size must be positive, got {self.crop_size}")
        if any(int(rate) < 1 for rate in self.atrous_rates):
            raise ValueError(f"atrous_rates must be positive, got {self.atrous_rates}")
        object.__setattr__(self, "atrous_rates", tuple(int(r) for r in self.atrous_rates))
        names = tuple(self.class_names) or default_class_names(self.num_classes)
        if len(names) != self.num_classes:
            raise ValueError(
                f"{len(names)} class names given for {self.num_classes} classes: {names}")
        object.__setattr__(self, "class_names", names)

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with some fields changed (class names reset when the class count changes)."""
        _check_keys(type(self), changes)
        if "num_classes" in changes and "class_names" not in changes:
            changes["class_names"] = ()
        return dataclasses.replace(self, **changes)

    def at_output_stride(self, output_stride: int) -> "ModelConfig":
        """The same network run at another output stride, ASPP rates rescaled to match (the
        weights do not depend on the stride)."""
        if output_stride == self.output_stride:
            return self
        rates = scale_atrous_rates(self.atrous_rates, self.output_stride, output_stride)
        return self.replace(output_stride=output_stride, atrous_rates=rates)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready values (tuples as lists)."""
        data = dataclasses.asdict(self)
        data["atrous_rates"] = list(self.atrous_rates)
        data["class_names"] = list(self.class_names)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        _check_keys(cls, data)
        data = dict(data)
        for key in ("atrous_rates", "class_names"):
            if key in data and data[key] is not None:
                data[key] = tuple(data[key])
        return cls(**data)

    def to_json(self) -> str:
        """The config as indented JSON (stored beside models: ``.keras`` files, run folders)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelConfig":
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"a model config must be a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)


def mobilenet_v2_pascal(depth_multiplier: float = 1.0, output_stride: int = 8) -> ModelConfig:
    """The MobileNetV2 PASCAL releases: no atrous ASPP branches, no decoder."""
    return ModelConfig("mobilenet_v2", depth_multiplier, 21, output_stride)


def xception_65_pascal(output_stride: int = 16) -> ModelConfig:
    """The Xception-65 v3+ PASCAL releases: separable ASPP 6/12/18 (at OS 16) and the decoder."""
    return ModelConfig("xception_65", 1.0, 21, output_stride, default_atrous_rates(output_stride),
                       decoder_output_stride=4)
