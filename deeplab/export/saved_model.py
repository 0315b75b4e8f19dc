"""The SavedModel format: a self-contained TensorFlow SavedModel folder (see
:mod:`deeplab.export.serving`), opened as a
:class:`~deeplab.runtimes.saved_model.SavedModelRuntime`."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.export.formats import WriteOptions
from deeplab.export.serving import METADATA_FILENAME, DeepLabServing, serving_metadata
from deeplab.precision import FLOAT_PRECISIONS, check_precision
from deeplab.rewrites import optimize_for_inference, with_precision
from deeplab.runtimes.saved_model import SavedModelRuntime


@dataclass(frozen=True)
class InferenceOptions:
    """How the exported network computes. The default is the fastest path that keeps >= 99.9%
    label agreement on this project's measurements (see docs/benchmarks.md): the exact rewrites
    of :func:`~deeplab.rewrites.optimize_for_inference` (batch norm folded, ASPP head
    simplified, dilated depthwise convolutions as one native kernel), float32, no XLA (XLA's CPU
    convolutions were much slower here)."""

    precision: str = "float32"
    fold_batch_norm: bool = True  # also simplifies the ASPP head and uses native dilated kernels
    jit_compile: bool = False

    def __post_init__(self):
        check_precision(self.precision, FLOAT_PRECISIONS)


def inference_network(model: keras.Model, options: InferenceOptions) -> keras.Model:
    """The network the export runs: ``model`` rewritten for inference and/or at reduced
    precision, as ``options`` say."""
    network = optimize_for_inference(model, fold=options.fold_batch_norm, native_kernels=True)
    return with_precision(network, options.precision)


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


def extra_checks(runtime: SavedModelRuntime, images, agreement) -> None:
    """``serving_bytes`` decodes PNG and JPEG as OpenCV does (labels equal to ``serving_default``
    fed OpenCV's pixels), and ``metadata`` lists one class name per class."""
    serve = runtime.signatures["serving_default"]
    serve_bytes = runtime.signatures["serving_bytes"]
    name, image = images[0]
    for kind, encoded, pixels in encoded_like_opencv(image):
        by_bytes = serve_bytes(image_bytes=encoded)["labels"].numpy()[0]
        direct = serve(images=tf.constant(pixels[np.newaxis]))["labels"].numpy()[0]
        if not np.array_equal(by_bytes, direct):
            agreement.add(f"{name} (serving_bytes, {kind})", by_bytes, direct)
    metadata = runtime.signatures["metadata"]()
    names = [n.decode() for n in metadata["class_names"].numpy()]
    if len(names) != int(metadata["num_classes"].numpy()):
        raise ValueError(f"{runtime.path}: metadata lists {len(names)} class names for "
                         f"{int(metadata['num_classes'].numpy())} classes")


def write_saved_model(model: keras.Model, config: ModelConfig, path: str | os.PathLike, *,
                      options: InferenceOptions = InferenceOptions(),
                      crop_size: int | None = None, source: str | None = None) -> None:
    """Write the SavedModel (no check, no atomic rename: see
    :func:`deeplab.export.api.export_model`)."""
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


def write(model: keras.Model, config: ModelConfig, path: Path, options: WriteOptions) -> None:
    """The SavedModel folder at ``path`` (the record's ``write``)."""
    write_saved_model(model, config, path, source=options.source,
                      options=InferenceOptions(options.precision, options.fold_batch_norm,
                                               options.jit_compile))


def open_runtime(path: Path, config: ModelConfig) -> SavedModelRuntime:
    return SavedModelRuntime(path)
