"""What portrait mode needs from a segmentation model, and how it gets one from any weights.

Portrait mode needs one thing: per-class probabilities (softmax of the logits, upsampled from
the network's stride) at the resolution of the image it was given, plus the class names. The
caller hands in the photo already downscaled to the working size (~513 px for photos, smaller for
video), so the probabilities stay small; the matte is then refined against the full photo.

Every model is a runtime (:mod:`deeplab.runtimes`) in a :class:`PortraitModel`: a LiteRT network
(default: fast start, no TensorFlow; :mod:`deeplab.portrait.litert`), the Keras runtime (any
weights source the project knows), or an exported SavedModel folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from deeplab.portrait.litert import load_litert_model
from deeplab.portrait.probability_model import PortraitModel, ProbabilityModel
from deeplab.runtimes import open_runtime

DEFAULT_WEIGHTS = "person"  # the bundled model (deeplab/models/): no download
#: The bundled fast model (a prebuilt LiteRT network) that video frames use by default.
FAST_WEIGHTS = "person_fast"
BACKGROUND_NAMES = ("background", "bg", "__background__")
ALL_CLASSES = ("all", "*", "non-background")


def resolve_classes(class_names: Sequence[str], spec: str | Sequence[str]) -> tuple[int, ...]:
    """Indices of the subject classes named in ``spec`` ("person", "person,cat,dog", "all").

    "all" keeps every class except background, so that whatever the subject holds stays sharp.
    Names are matched case-insensitively; an unknown name raises a ValueError listing the labels.
    """
    names = [str(n).lower() for n in class_names]
    wanted = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    wanted = [w for w in wanted if w]
    if not wanted:
        raise ValueError("no classes given")
    if any(w in ALL_CLASSES for w in wanted):
        indices = tuple(i for i, n in enumerate(names) if n not in BACKGROUND_NAMES)
        if not indices:
            raise ValueError(f"the model has no non-background class: {list(class_names)}")
        return indices
    indices = []
    for w in wanted:
        if w not in names:
            raise ValueError(f"class {w!r} is not in the model's label set: {list(class_names)}")
        indices.append(names.index(w))
    return tuple(dict.fromkeys(indices))


def video_weights_for(weights: str, video_weights: str | None = None) -> str:
    """The model for video frames: the one asked for; else the fast bundled model when photos
    use the default model; else the photos' own model (a user's model is used throughout)."""
    if video_weights:
        return video_weights
    return FAST_WEIGHTS if str(weights) == DEFAULT_WEIGHTS else str(weights)


def keras_model(source: str | Path, input_size: int) -> PortraitModel:
    """The Keras runtime of any weights source, fed ``input_size`` px (imports TensorFlow)."""
    from deeplab.runtimes.keras import Segmenter

    segmenter = Segmenter.from_source(str(source), crop_size=input_size)

    def reload(size: int) -> PortraitModel:
        return PortraitModel(Segmenter(segmenter.model, segmenter.config, size), reload)

    return PortraitModel(segmenter, reload)


BACKENDS = ("litert", "tensorflow")


def load_probability_model(source: str | Path = DEFAULT_WEIGHTS, *, backend: str = "litert",
                           input_size: int = 513, precision: str = "float32",
                           use_cache: bool = True) -> ProbabilityModel:
    """A model for portrait mode from any weights source.

    ``backend="litert"`` (default): this project's ``.tflite`` exports directly, any other source
    (official DeepLab ``.tflite`` files included) converted once to a TFLite network fed
    ``input_size`` px and cached (see :mod:`deeplab.portrait.litert`), so later runs never import
    TensorFlow. Exported SavedModel folders (``saved_model.pb``) always run with TensorFlow.
    ``backend="tensorflow"``: the Keras runtime (registry names, release archives, checkpoints,
    ``.pb``, ``.keras``, ``.tflite``).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    path = Path(str(source)).expanduser()
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return PortraitModel(open_runtime(path))
    if backend == "litert":
        return load_litert_model(source, crop_size=input_size, precision=precision,
                                 use_cache=use_cache)
    return keras_model(source, input_size)
