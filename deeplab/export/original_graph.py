"""Run a release-format frozen graph the way the classic DeepLab demo does (the oracle).

The demo finds the tar member whose name contains ``frozen_inference_graph``, imports the GraphDef
into a ``tf.compat.v1`` session, resizes the photo so its longer side is 513 and feeds it as
``ImageTensor:0`` (uint8 ``[1, H, W, 3]``), fetching ``SemanticPredictions:0``. Benchmarks and
tests use this to compare our exports with the original graphs and with ``compat`` exports.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np
import tensorflow as tf

INPUT_TENSOR = "ImageTensor:0"
OUTPUT_TENSOR = "SemanticPredictions:0"
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
    return tf.compat.v1.GraphDef.FromString(data)


class OriginalGraph:
    """A frozen DeepLab graph in its own ``tf.compat.v1.Session``."""

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None):
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(read_graph_def(path), name="")
        config = None
        if threads:
            config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads,
                                              inter_op_parallelism_threads=threads)
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)

    def run(self, image: np.ndarray) -> np.ndarray:
        """``SemanticPredictions`` ``[H, W]`` for one uint8 RGB image ``[H, W, 3]`` (already
        resized as the demo does)."""
        return self.session.run(OUTPUT_TENSOR, {INPUT_TENSOR: image[np.newaxis]})[0]

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "OriginalGraph":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

