"""Export a DeepLab Keras model as a self-contained, self-checked TensorFlow SavedModel."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.export.optimize import PRECISIONS, optimize_for_inference, with_precision
from deeplab.export.serving import METADATA_FILENAME, DeepLabServing, serving_metadata
from deeplab.export.verify import DEFAULT_MIN_AGREEMENT, Agreement, atomic_output, check
from deeplab.inference import IMAGE_SPEC, segment

from deeplab.export.formats import SAVED_MODEL_PRECISIONS  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class InferenceOptions:
    """How the exported network computes. The default is the fastest path that keeps >= 99.9%
    label agreement on this project's measurements (see docs/benchmarks.md): the exact rewrites
    of :func:`~deeplab.export.optimize.optimize_for_inference` (batch norm folded, ASPP head
    simplified, dilated depthwise convolutions as one native kernel), float32, no XLA (XLA's CPU
    convolutions were much slower here)."""

    precision: str = "float32"
    fold_batch_norm: bool = True  # also simplifies the ASPP head and uses native dilated kernels
    jit_compile: bool = False

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


def inference_network(model: keras.Model, options: InferenceOptions) -> keras.Model:
    """The network the export runs: ``model`` rewritten for inference and/or at reduced
    precision, as ``options`` say."""
    network = optimize_for_inference(model, fold=options.fold_batch_norm, native_kernels=True)
    return with_precision(network, options.precision)


def keras_reference(model: keras.Model, crop_size: int):
    """``image uint8 [H, W, 3] -> (labels, probabilities)`` of the unmodified Keras model."""
    run = tf.function(lambda x: segment(model, x, crop_size), input_signature=[IMAGE_SPEC])

    def reference(image: np.ndarray):
        labels, probabilities = run(image[np.newaxis])
        return labels.numpy()[0], probabilities.numpy()[0]

    return reference


def encoded_like_opencv(image: np.ndarray) -> list[tuple[str, bytes, np.ndarray]]:
    """``(kind, encoded bytes, the pixels OpenCV decodes from them)`` for PNG and JPEG: what
    ``serving_bytes`` must reproduce."""
    import cv2

    pairs = []
    for kind, extension in (("PNG", ".png"), ("JPEG", ".jpg")):
        ok, buffer = cv2.imencode(extension, np.ascontiguousarray(image[..., ::-1]))
        if not ok:
            raise ValueError(f"OpenCV could not encode a {kind} check image")
        decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)[..., ::-1]
        pairs.append((kind, buffer.tobytes(), np.ascontiguousarray(decoded)))
    return pairs


def verify_saved_model(path: str | os.PathLike, reference, images: Sequence, *,
                       min_agreement: float, label: str | None = None) -> Agreement:
    """Reload the SavedModel at ``path`` and compare every signature with ``reference``."""
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    serve_bytes = loaded.signatures["serving_bytes"]
    agreement = Agreement()
    for name, image in images:
        out = serve(images=tf.constant(image[np.newaxis]))
        labels, probabilities = reference(image)
        agreement.add(name, out["labels"].numpy()[0], labels)
        agreement.add_probabilities(out["probabilities"].numpy()[0], probabilities)
    name, image = images[0]
    for kind, encoded, pixels in encoded_like_opencv(image):
        by_bytes = serve_bytes(image_bytes=encoded)["labels"].numpy()[0]
        direct = serve(images=tf.constant(pixels[np.newaxis]))["labels"].numpy()[0]
        if not np.array_equal(by_bytes, direct):
            agreement.add(f"{name} (serving_bytes, {kind})", by_bytes, direct)
    metadata = loaded.signatures["metadata"]()
    names = [n.decode() for n in metadata["class_names"].numpy()]
    if len(names) != int(metadata["num_classes"].numpy()):
        raise ValueError(f"{path}: metadata lists {len(names)} class names for "
                         f"{int(metadata['num_classes'].numpy())} classes")
    check(agreement, min_agreement, label or f"SavedModel {path}")
    return agreement


def write_saved_model(model: keras.Model, config: ModelConfig, path: str | os.PathLike, *,
                      options: InferenceOptions = InferenceOptions(),
                      crop_size: int | None = None, source: str | None = None) -> None:
    """Write the SavedModel (no checking, no atomic rename: see :func:`export_saved_model`)."""
    crop_size = int(crop_size or config.crop_size)
    network = inference_network(model, options)
    metadata = serving_metadata(config, crop_size, inference=asdict(options),
                                source=str(source) if source else None)
    with tempfile.TemporaryDirectory(prefix="deeplab-export-") as scratch:
        metadata_path = Path(scratch) / METADATA_FILENAME
        metadata_path.write_text(json.dumps(metadata, indent=2))
        module = DeepLabServing(network, config, metadata, str(metadata_path),
                                crop_size=crop_size, jit_compile=options.jit_compile)
        tf.saved_model.save(module, str(path), signatures=module.signatures())


def export_saved_model(model: keras.Model, config: ModelConfig, output: str | os.PathLike, *,
                       options: InferenceOptions = InferenceOptions(), images: Sequence = (),
                       min_agreement: float | None = None, crop_size: int | None = None,
                       source: str | None = None, overwrite: bool = False) -> Agreement:
    """Write a SavedModel to ``output`` atomically, after checking it against ``model``.

    The SavedModel is written beside ``output``, reloaded and run on ``images`` (``(name, uint8
    [H, W, 3])`` pairs); its labels must agree with the Keras model's on ``min_agreement`` of the
    pixels, else it is deleted and :class:`~deeplab.export.verify.VerificationError` is raised.
    """
    if min_agreement is None:
        min_agreement = DEFAULT_MIN_AGREEMENT[options.precision]
    if not images:
        raise ValueError("export_saved_model needs sample images to check the export")
    reference = keras_reference(model, int(crop_size or config.crop_size))
    with atomic_output(output, directory=True, overwrite=overwrite) as temporary:
        write_saved_model(model, config, temporary, options=options, crop_size=crop_size,
                          source=source)
        return verify_saved_model(temporary, reference, images, min_agreement=min_agreement,
                                  label=f"SavedModel {output}")
