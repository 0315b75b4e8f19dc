"""``compat`` export: a release-style ``.tar.gz`` with ``<name>/frozen_inference_graph.pb``.

The graph behaves like the official ones, so the classic demo's ``DeepLabModel`` class runs a
converted or fine-tuned model unchanged: ``ImageTensor:0`` uint8 ``[1, H, W, 3]`` (the photo
already resized so its longer side is 513) -> pad bottom/right to 513 with 127.5 -> [-1, 1] ->
network -> align-corners upsampling to the padded size -> argmax (int64) -> crop ->
``SemanticPredictions:0`` int64 ``[1, H, W]``; ``SemanticProbabilities:0`` holds the softmax.
Built by tracing a ``tf.function`` and freezing the variables into constants.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from deeplab.config import ModelConfig
from deeplab.export.optimize import optimize_for_inference
from deeplab.export.original_graph import OriginalGraph
from deeplab.export.saved_model import keras_reference
from deeplab.export.verify import DEFAULT_MIN_AGREEMENT, Agreement, atomic_output, check
from deeplab.layers import resize_bilinear_align_corners
from deeplab.preprocessing import pad_and_normalize, resize_to_crop
from deeplab.weights.archive import FROZEN_GRAPH_NAME


def compat_graph_def(network: keras.Model, crop_size: int):
    """A frozen GraphDef with the original's tensor names and pre/post-processing."""

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                                name="ImageTensor")])
    def graph(image):
        size = tf.shape(image)[1:3]
        inputs = pad_and_normalize(image, crop_size)
        logits = tf.cast(network(inputs, training=False), tf.float32)
        # The original's full upsampling, not deeplab.inference.upsample_and_crop: its tf.cond
        # becomes an If op, which the TF1 runtimes this graph is made for may lack.
        upsampled = resize_bilinear_align_corners(logits, tf.shape(inputs)[1:3])
        upsampled = upsampled[:, :size[0], :size[1], :]
        predictions = tf.argmax(upsampled, axis=-1, output_type=tf.int64)
        return {"SemanticPredictions": tf.identity(predictions, name="SemanticPredictions"),
                "SemanticProbabilities": tf.nn.softmax(upsampled, axis=-1,
                                                       name="SemanticProbabilities")}

    frozen = convert_variables_to_constants_v2(graph.get_concrete_function())
    return frozen.graph.as_graph_def()


def archive_name(output: Path) -> str:
    """Folder name inside the archive: the output name without ``.tar.gz`` / ``.tgz``."""
    name = output.name
    for suffix in (".tar.gz", ".tgz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    raise ValueError(f"--format compat writes a .tar.gz archive; got --output {output}")


def write_archive(graph_def, path: Path, folder: str) -> None:
    """A ``.tar.gz`` holding only ``<folder>/frozen_inference_graph.pb``, as the releases do."""
    data = graph_def.SerializeToString()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"{folder}/{FROZEN_GRAPH_NAME}")
        info.size = len(data)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))


def export_compat(model: keras.Model, config: ModelConfig, output: str | os.PathLike, *,
                  images: Sequence = (), fold_batch_norm: bool = True,
                  min_agreement: float | None = None, overwrite: bool = False) -> Agreement:
    """Write the archive atomically, load it as the demo does and compare with the Keras model
    on ``images`` resized so their longer side is the crop size."""
    output = Path(output)
    folder = archive_name(output)
    if min_agreement is None:
        min_agreement = DEFAULT_MIN_AGREEMENT["float32"]
    network = optimize_for_inference(model, fold=fold_batch_norm)
    graph_def = compat_graph_def(network, config.crop_size)
    reference = keras_reference(model, config.crop_size)
    with atomic_output(output, directory=False, overwrite=overwrite) as temporary:
        write_archive(graph_def, temporary, folder)
        agreement = Agreement()
        with OriginalGraph(temporary) as demo:
            for name, image in images:
                resized = resize_to_crop(image[np.newaxis], config.crop_size).numpy()[0]
                agreement.add(name, demo.run(resized), reference(resized)[0])
        check(agreement, min_agreement, f"compat archive {output}")
        return agreement

