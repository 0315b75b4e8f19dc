"""Feature extractors: MobileNetV2 and Xception-65, with the original variable scopes."""

from deeplab.backbones.mobilenet_v2 import mobilenet_v2
from deeplab.backbones.xception import xception_65

__all__ = ["mobilenet_v2", "xception_65"]
