"""Portrait mode's network as a RunInference model handler: loaded once per worker process.

The examples are decoded photos (:class:`~deeplab.image_files.Photo`); each batch is split by
working size and run through the :class:`~deeplab.portrait.probability_model.ProbabilityModel`
that ``infer.py`` loads (the bundled LiteRT network, any weights source, or an exported
SavedModel), one network call per group, as ``infer.py`` batches. A failing network call or
resize fails the photos concerned, as a :class:`NetworkOutput` with an ``error``, never the job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from deeplab.image_files import Photo
from deeplab.portrait.models import DEFAULT_WEIGHTS, load_probability_model
from deeplab.portrait.pipeline import BATCH_PIXELS, ITEM_ERRORS, PortraitOptions
from deeplab.portrait.probability_model import ProbabilityModel
from deeplab.portrait.quiet import native_stderr_captured
from deeplab.portrait.render import PHOTO_INPUT_SIZE, working_image
from deeplab.portrait.resample import Shrunk


@dataclass(frozen=True)
class ModelSpec:
    """Which network to load on every worker, and how (``infer.py``'s model options)."""

    weights: str = DEFAULT_WEIGHTS
    backend: str = "litert"
    input_size: int = PHOTO_INPUT_SIZE
    precision: str = "float32"
    use_cache: bool = True
    flip: bool = False
    verbose: bool = False

    @classmethod
    def of(cls, options: PortraitOptions) -> "ModelSpec":
        return cls(weights=str(options.weights), backend=options.backend,
                   input_size=options.input_size, precision=options.precision,
                   use_cache=options.use_cache, flip=options.flip, verbose=options.verbose)

    def load(self) -> ProbabilityModel:
        """The model as ``infer.py`` loads it (native log lines hidden unless ``verbose``)."""
        with native_stderr_captured(not self.verbose):
            model = load_probability_model(self.weights, backend=self.backend,
                                           input_size=self.input_size, precision=self.precision,
                                           use_cache=self.use_cache)
        if self.flip:
            from deeplab.portrait.test_time import FlipAveraged

            model = FlipAveraged(model)
        return model


@dataclass(frozen=True)
class NetworkOutput:
    """The network's answer for one photo: the image it was fed (``working``, None when the
    photo was fed as given), the class probabilities at that size and the model's class names;
    or ``error``, one line saying why there is none."""

    class_names: tuple[str, ...]
    working: Shrunk | None = None
    probabilities: np.ndarray | None = None
    error: str | None = None


class PhotoWeight:
    """A photo's (keyed or not) share of a batch, for ``BatchElements``: batches are capped by
    a size only, so each photo weighs ``max(1, ceil(pixels * batch_size / batch_pixels))`` out
    of ``batch_size``: at most ``batch_size`` photos and about ``batch_pixels`` pixels, a photo
    above the budget on its own, as ``infer.py`` batches."""

    def __init__(self, batch_size: int, batch_pixels: int):
        self.batch_size = batch_size
        self.batch_pixels = batch_pixels

    def __call__(self, element: Any) -> int:
        photo = element[1] if isinstance(element, tuple) else element
        pixels = int(photo.height * photo.width)
        return max(1, -(-pixels * self.batch_size // self.batch_pixels))


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class PortraitModelHandler(ModelHandler[Photo, NetworkOutput, ProbabilityModel]):
    """RunInference handler for portrait mode's network.

    ``shrink=True`` (portrait mode): each photo is downscaled to the working size exactly as
    ``infer.py`` does (the longer side the network's own when it is fixed-size, else
    ``spec.input_size``). ``shrink=False`` (evaluation): photos are fed as given. Batches hold at
    most ``batch_size`` photos and ``batch_pixels`` full-resolution pixels.
    """

    def __init__(self, spec: ModelSpec, *, shrink: bool = True, batch_size: int = 4,
                 batch_pixels: int = BATCH_PIXELS):
        if batch_size < 1 or batch_pixels < 1:
            raise ValueError("batch size and batch pixels must be >= 1")
        super().__init__(max_batch_size=batch_size,
                         element_size_fn=PhotoWeight(batch_size, batch_pixels))
        self.spec = spec
        self.shrink = shrink

    def load_model(self) -> ProbabilityModel:
        return self.spec.load()

    def input_size(self, model: ProbabilityModel) -> int:
        """The longer side fed to the network: a fixed-size network (a ``.tflite``) decides."""
        return int(getattr(model, "crop_size", None) or self.spec.input_size)

    def run_inference(self, batch: Sequence[Photo], model: ProbabilityModel,
                      inference_args: dict[str, Any] | None = None
                      ) -> Iterable[PredictionResult]:
        names = tuple(model.class_names)
        outputs: list[NetworkOutput] = [NetworkOutput(names)] * len(batch)
        fed: dict[int, np.ndarray] = {}
        size = self.input_size(model)
        for i, photo in enumerate(batch):
            try:
                if self.shrink:
                    working = working_image(photo.rgb, size)
                    outputs[i] = NetworkOutput(names, working=working)
                    fed[i] = working.image
                else:
                    fed[i] = photo.rgb
            except ITEM_ERRORS as error:
                outputs[i] = NetworkOutput(names, error=_reason(error))
        groups: dict[tuple, list[int]] = {}
        for i, image in fed.items():
            groups.setdefault(image.shape, []).append(i)
        for indices in groups.values():
            try:
                probabilities = model.probabilities(np.stack([fed[i] for i in indices]))
            except Exception as error:  # a failing network call fails these photos, not the job
                for i in indices:
                    outputs[i] = replace(outputs[i], error=_reason(error))
                continue
            for i, probs in zip(indices, probabilities):
                outputs[i] = replace(outputs[i], probabilities=probs)
        return [PredictionResult(photo, output) for photo, output in zip(batch, outputs)]

    def get_num_bytes(self, batch: Sequence[Photo]) -> int:
        """Bytes of pixels in a batch (Beam's default would pickle every photo to count)."""
        return int(sum(p.rgb.nbytes + (0 if p.alpha is None else p.alpha.nbytes)
                       for p in batch))

    def get_metrics_namespace(self) -> str:
        return "deeplab_portrait"
