"""A release-format frozen graph run the way the classic DeepLab demo does (the oracle).

The one place that opens a ``tf.compat.v1.Session`` on a frozen graph. The demo finds the tar
member whose name contains ``frozen_inference_graph``, imports the GraphDef into a session,
resizes the photo so its longer side is 513 and feeds it as ``ImageTensor:0`` (uint8
``[1, H, W, 3]``), fetching ``SemanticPredictions:0``. Official graphs also hold the full-size
logits ``ResizeBilinear_2:0`` (padded to at least 513); this project's ``compat`` exports hold
``SemanticProbabilities:0``.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from deeplab import contract_tf
from deeplab.input_format import CROP_SIZE, InputContract
from deeplab.runtimes.base import Runtime

INPUT_TENSOR = "ImageTensor:0"
OUTPUT_TENSOR = "SemanticPredictions:0"
LOGITS_TENSOR = "ResizeBilinear_2:0"
PROBABILITIES_TENSOR = "SemanticProbabilities:0"
#: The demo picks the first archive member whose file name contains this.
GRAPH_MEMBER_SUBSTRING = "frozen_inference_graph"


def read_graph_def(path: str | os.PathLike):
    """GraphDef from a ``.pb`` file or from the first tarball member named like the frozen graph."""
    path = Path(path)
    data = None
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                if GRAPH_MEMBER_SUBSTRING in os.path.basename(member.name):
                    data = archive.extractfile(member).read()
                    break
        if data is None:
            raise ValueError(f"{path} has no member named like {GRAPH_MEMBER_SUBSTRING}: "
                             f"expected a DeepLab release archive holding "
                             f"<name>/{GRAPH_MEMBER_SUBSTRING}.pb")
    else:
        data = path.read_bytes()
    try:
        return tf.compat.v1.GraphDef.FromString(data)
    except Exception as error:  # protobuf raises its own DecodeError
        raise ValueError(f"{path}: not a TensorFlow frozen graph ({error})") from error


class FrozenGraphRuntime(Runtime):
    """A frozen DeepLab graph in its own ``tf.compat.v1.Session``.

    ``crop_size``: the size the graph pads to (513 for the releases; a ``compat`` export's own).
    ``remapping=False`` turns off grappler's op fusions, so the graph computes with the same
    kernels as when it was made (for bit-level comparisons).
    """

    def __init__(self, path: str | os.PathLike, *, crop_size: int = CROP_SIZE,
                 threads: int | None = None, remapping: bool = True, class_names=None):
        self.path = Path(path)
        graph_def = read_graph_def(path)
        nodes = {node.name for node in graph_def.node}
        if INPUT_TENSOR.split(":")[0] not in nodes:
            raise ValueError(f"{path}: frozen graph has no tensor {INPUT_TENSOR}")
        self._logits = next((t for t in (LOGITS_TENSOR, PROBABILITIES_TENSOR)
                             if t.split(":")[0] in nodes), None)
        if self._logits is None:
            raise ValueError(f"{path}: frozen graph has no tensor {LOGITS_TENSOR}")
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        config = tf.compat.v1.ConfigProto()
        if threads:
            config.intra_op_parallelism_threads = threads
            config.inter_op_parallelism_threads = threads
        if not remapping:
            config.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        self.contract = InputContract(crop_size)
        if class_names is None:
            from deeplab.config import default_class_names

            semantic = "logits/semantic/BiasAdd"
            count = int(self.graph.get_tensor_by_name(f"{semantic}:0").shape[-1]) \
                if semantic in nodes else \
                self.predict_logits(np.zeros((33, 33, 3), np.uint8)).shape[-1]
            class_names = default_class_names(count)
        self.class_names = tuple(class_names)

    def fetch(self, tensor: str, image: np.ndarray) -> np.ndarray:
        """Any tensor of the graph for one uint8 RGB image ``[H, W, 3]`` fed as it is."""
        return self.session.run(tensor, {INPUT_TENSOR: image[np.newaxis]})

    def run(self, image: np.ndarray) -> np.ndarray:
        """``SemanticPredictions`` ``[H, W]`` (int64) for one uint8 RGB image ``[H, W, 3]``
        (already resized as the demo does)."""
        return self.fetch(OUTPUT_TENSOR, image)[0]

    def _working(self, image: np.ndarray, resize: bool) -> np.ndarray:
        if not resize or max(image.shape[:2]) == self.crop_size:
            return image
        return contract_tf.resize_to_crop(image[np.newaxis], self.crop_size).numpy()[0]

    def predict_logits(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        image = self._working(image, resize)
        height, width = image.shape[:2]
        values = self.fetch(self._logits, image)[0, :height, :width]
        if self._logits == PROBABILITIES_TENSOR:  # a compat export: log-probabilities
            return np.log(np.maximum(values, np.finfo(np.float32).tiny))
        return values

    def predict_labels(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        return self.run(self._working(image, resize))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "FrozenGraphRuntime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
