"""A segmentation model as portrait mode sees it (:class:`ProbabilityModel`), and
:class:`PortraitModel`, which makes one of any runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from deeplab.runtimes.base import Runtime


@runtime_checkable
class ProbabilityModel(Protocol):
    """A segmentation model as portrait mode sees it."""

    class_names: Sequence[str]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB ``[B, h, w, 3]`` -> float32 class probabilities ``[B, h, w, C]``."""
        ...


class PortraitModel:
    """A runtime as portrait mode uses it: a :class:`ProbabilityModel`, plus the same weights at
    another working size (``for_input_size``, e.g. smaller for video) when ``reload`` can make
    them. ``crop_size`` is set only for a fixed-size network, which then decides the working size.
    """

    def __init__(self, runtime: Runtime, reload: Callable[[int], "PortraitModel"] | None = None):
        self.runtime = runtime
        self.class_names = tuple(runtime.class_names)
        self.crop_size = runtime.crop_size if runtime.contract.fixed else None
        #: The working size the network was built for (a bundled prebuilt network), else None.
        self.preferred_size: int | None = None
        self._reload = reload

    @property
    def path(self) -> Path | None:
        """The file or folder the network was read from (None when built in memory)."""
        return getattr(self.runtime, "path", None)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB ``[B, h, w, 3]`` -> float32 class probabilities ``[B, h, w, C]``."""
        return self.runtime.probabilities(images)

    def for_input_size(self, longer_side: int) -> "PortraitModel":
        """The same weights with the network fed ``longer_side`` px; a bare file or folder keeps
        its own size."""
        if self._reload is None or longer_side == self.runtime.crop_size:
            return self
        return self._reload(longer_side)
