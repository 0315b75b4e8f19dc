"""What portrait mode needs from a segmentation model, and adapters for each kind of weights.

Portrait mode needs one thing: per-class probabilities (softmax of the logits, upsampled from
the network's stride) at the resolution of the image it was given, plus the class names. The
caller hands in the photo already downscaled to the working size (~513 px for photos, smaller for
video), so the probabilities stay small; the matte is then refined against the full photo.

Adapters: a LiteRT network (default: fast start, no TensorFlow; ``deeplab.portrait.litert``),
the project's ``deeplab.inference.Segmenter`` (any weights source the project knows),
an exported SavedModel folder (``serving_default`` signature), and a bare official
``frozen_inference_graph.pb`` run through ``tf.compat.v1`` (used when the native model is not
available, and by the benchmark to run the original graph).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from deeplab.portrait.matte import softmax

DEFAULT_WEIGHTS = "person"  # the bundled model (deeplab/models/): no download
BACKGROUND_NAMES = ("background", "bg", "__background__")
ALL_CLASSES = ("all", "*", "non-background")


@runtime_checkable
class ProbabilityModel(Protocol):
    """A segmentation model as portrait mode sees it."""

    class_names: Sequence[str]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB ``[B, h, w, 3]`` -> float32 class probabilities ``[B, h, w, C]``."""
        ...


def _default_class_names(num_classes: int) -> tuple[str, ...]:
    from deeplab.config import default_class_names

    return tuple(default_class_names(num_classes))


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


class SegmenterModel:
    """Adapter for the project's ``deeplab.inference.Segmenter``."""

    def __init__(self, segmenter):
        self.segmenter = segmenter
        config = getattr(segmenter, "config", None)
        names = getattr(segmenter, "class_names", None) or getattr(config, "class_names", None)
        self.class_names = tuple(names)

    def for_input_size(self, longer_side: int) -> "SegmenterModel":
        """The same network run at another working size (e.g. smaller for video)."""
        segmenter = type(self.segmenter)(self.segmenter.model, self.segmenter.config,
                                         longer_side)
        return SegmenterModel(segmenter)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        prediction = self.segmenter.predict(images)
        return np.asarray(prediction.probabilities, np.float32)


class SavedModelModel:
    """An exported SavedModel folder: ``serving_default(images=uint8[B,H,W,3])`` -> probabilities."""

    def __init__(self, path: str | Path, class_names: Sequence[str] | None = None):
        import tensorflow as tf

        self.path = Path(path)
        loaded = tf.saved_model.load(str(self.path))
        self._loaded = loaded  # keep the object alive: the signature refers to its variables
        if "serving_default" not in loaded.signatures:
            raise ValueError(f"{path}: SavedModel has no 'serving_default' signature")
        self._serve = loaded.signatures["serving_default"]
        names = class_names or _saved_class_names(loaded, self.path)
        if names is None:
            probe = self.probabilities(np.zeros((1, 33, 33, 3), np.uint8))
            names = _default_class_names(probe.shape[-1])
        self.class_names = tuple(names)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        outputs = self._serve(images=tf.constant(np.ascontiguousarray(images, np.uint8)))
        if "probabilities" not in outputs:
            raise ValueError(f"{self.path}: serving_default returns {sorted(outputs)}, "
                             "expected 'probabilities'")
        return outputs["probabilities"].numpy().astype(np.float32, copy=False)


def _saved_class_names(loaded, path: Path) -> tuple[str, ...] | None:
    """Class names stored with an exported model, if the export recorded them."""
    for attribute in ("class_names",):
        value = getattr(loaded, attribute, None)
        if value is not None:
            try:
                return tuple(v.decode() if isinstance(v, bytes) else str(v)
                             for v in np.asarray(value.numpy() if hasattr(value, "numpy") else value))
            except Exception:
                pass
    for candidate in (path / "config.json", path / "assets" / "config.json",
                      path / "assets" / "class_names.txt"):
        if candidate.is_file():
            if candidate.suffix == ".txt":
                return tuple(line.strip() for line in candidate.read_text().splitlines()
                             if line.strip())
            import json

            names = json.loads(candidate.read_text()).get("class_names")
            if names:
                return tuple(names)
    return None


class FrozenGraphModel:
    """An official ``frozen_inference_graph.pb`` run with ``tf.compat.v1``.

    Feeds ``ImageTensor:0`` one image at a time and reads the full-size logits
    ``ResizeBilinear_2:0`` (the graph pads inputs to at least 513x513), sliced to the image.
    """

    INPUT = "ImageTensor:0"
    LOGITS = "ResizeBilinear_2:0"

    def __init__(self, path: str | Path, class_names: Sequence[str] | None = None):
        import tensorflow as tf

        self.path = Path(path)
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(self.path.read_bytes())
        except Exception as error:  # protobuf raises its own DecodeError
            raise ValueError(f"{path}: not a TensorFlow frozen graph ({error})") from error
        node_names = {node.name for node in graph_def.node}
        for tensor in (self.INPUT, self.LOGITS):
            if tensor.split(":")[0] not in node_names:
                raise ValueError(f"{path}: frozen graph has no tensor {tensor}")
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        self.session = tf.compat.v1.Session(graph=self.graph)
        num_classes = int(self.graph.get_tensor_by_name("logits/semantic/BiasAdd:0").shape[-1]) \
            if "logits/semantic/BiasAdd" in node_names else None
        if class_names is None and num_classes is None:
            num_classes = self.logits(np.zeros((1, 33, 33, 3), np.uint8)).shape[-1]
        self.class_names = tuple(class_names or _default_class_names(num_classes))

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Full-size float logits ``[B, h, w, C]`` for uint8 RGB ``[B, h, w, 3]``."""
        outputs = []
        for image in np.asarray(images, np.uint8):
            h, w = image.shape[:2]
            full = self.session.run(self.LOGITS, {self.INPUT: image[None]})
            outputs.append(full[0, :h, :w])
        return np.stack(outputs)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return softmax(self.logits(images))


BACKENDS = ("litert", "tensorflow")


def load_probability_model(source: str | Path = DEFAULT_WEIGHTS, *, backend: str = "litert",
                           input_size: int = 513, precision: str = "float32",
                           use_cache: bool = True, log=None) -> ProbabilityModel:
    """A model for portrait mode from any weights source.

    ``backend="litert"`` (default): this project's ``.tflite`` exports directly, any other source
    (official DeepLab ``.tflite`` files included) converted once
    to a TFLite network fed ``input_size`` px and cached (see ``deeplab.portrait.litert``), so
    later runs never import TensorFlow. Exported SavedModel folders (``saved_model.pb``) always
    run with TensorFlow. ``backend="tensorflow"``: the project's Keras ``Segmenter`` (registry
    names, release archives, checkpoints, ``.pb``, ``.keras``); a bare frozen graph is run with
    ``tf.compat.v1`` when ``deeplab.inference`` is not available.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    path = Path(str(source)).expanduser()
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return SavedModelModel(path)
    if backend == "litert":
        from deeplab.portrait.litert import load_litert_model

        return load_litert_model(source, crop_size=input_size, precision=precision,
                                 use_cache=use_cache, log=log)
    try:
        from deeplab.inference import Segmenter
    except ImportError:
        Segmenter = None
    if Segmenter is not None:
        return SegmenterModel(Segmenter.from_source(str(source), crop_size=input_size))
    if path.suffix == ".pb" and path.is_file():
        return FrozenGraphModel(path)
    if path.is_dir() and (path / "frozen_inference_graph.pb").is_file():
        return FrozenGraphModel(path / "frozen_inference_graph.pb")
    raise ValueError(f"cannot load weights {source!r}: not a SavedModel folder or frozen graph, "
                     "and deeplab.inference is not available")
