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
import tarfile
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from deeplab.config import ModelConfig
from deeplab.contract_tf import pad_and_normalize
from deeplab.export.formats import FORMATS, WriteOptions
from deeplab.layers import resize_bilinear_align_corners
from deeplab.rewrites import optimize_for_inference
from deeplab.runtimes.frozen_graph import FrozenGraphRuntime
from deeplab.weights.archive import FROZEN_GRAPH_NAME


def compat_graph_def(network: keras.Model, crop_size: int):
    """A frozen GraphDef with the original's tensor names and pre/post-processing."""

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                                name="ImageTensor")])
    def graph(image):
        size = tf.shape(image)[1:3]
        inputs = pad_and_normalize(image, crop_size)
        logits = tf.cast(network(inputs, training=False), tf.float32)
        # The original's full upsampling, not deeplab.contract_tf.upsample_and_crop: its tf.cond
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
    suffix = next(s for s in FORMATS["compat"].suffixes if name.endswith(s))
    return name[: -len(suffix)]


def write_archive(graph_def, path: Path, folder: str) -> None:
    """A ``.tar.gz`` holding only ``<folder>/frozen_inference_graph.pb``, as the releases do."""
    data = graph_def.SerializeToString()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"{folder}/{FROZEN_GRAPH_NAME}")
        info.size = len(data)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))


def write(model: keras.Model, config: ModelConfig, path: Path, options: WriteOptions) -> None:
    """The archive at ``path``, its folder named after the final output (``options.name``)."""
    network = optimize_for_inference(model, fold=options.fold_batch_norm)
    write_archive(compat_graph_def(network, config.crop_size), path,
                  archive_name(Path(options.name or path.name)))


def open_runtime(path: Path, config: ModelConfig) -> FrozenGraphRuntime:
    """The archive loaded as the demo loads a release."""
    return FrozenGraphRuntime(path, crop_size=config.crop_size)
