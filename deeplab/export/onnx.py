"""ONNX export through tf2onnx (optional: ``pip install tf2onnx onnxruntime``).

Same contract as the TFLite model: input ``image`` float32 ``[1, S, S, 3]`` (resized, padded,
[-1, 1]), outputs ``labels`` int32 ``[1, S, S]`` and ``logits`` at the output stride. Checked after
writing with onnxruntime (:class:`deeplab.runtimes.onnx.OnnxRuntime`).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.export.formats import WriteOptions
from deeplab.export.padded_crop import padded_crop_outputs, padded_crop_spec
from deeplab.export.verify import ExportError
from deeplab.rewrites import fold_batch_norm
from deeplab.runtimes.onnx import OnnxRuntime

OPSET = 17


def check_available() -> None:
    """Raise a clear :class:`ExportError` when tf2onnx or onnxruntime cannot be used."""
    missing = []
    for module in ("tf2onnx", "onnxruntime"):
        try:
            __import__(module)
        except Exception as error:  # ImportError, or a converter broken against this TF
            missing.append(f"{module} ({type(error).__name__}: {error})")
    if missing:
        raise ExportError("--format onnx needs the maintained converter tf2onnx and onnxruntime "
                          "(to check the result): pip install tf2onnx onnxruntime; unavailable: "
                          + "; ".join(missing))


def write(model: keras.Model, config: ModelConfig, path: Path, options: WriteOptions) -> None:
    """The BN-folded network converted with tf2onnx, written to ``path``."""
    check_available()
    import tf2onnx

    crop_size = config.crop_size
    # BN folding only: tf2onnx 1.17 merges the simplified head's per-image bias Add into the
    # Conv as a fourth input, which onnxruntime rejects.
    network = fold_batch_norm(model)
    spec = (padded_crop_spec(crop_size),)

    @tf.autograph.experimental.do_not_convert
    def serve(image):
        return padded_crop_outputs(network, image, crop_size)

    try:
        proto, _ = tf2onnx.convert.from_function(tf.function(serve, input_signature=spec),
                                                 input_signature=spec, opset=OPSET)
    except Exception as error:
        raise ExportError(f"tf2onnx could not convert the model: {error}") from error
    path.write_bytes(proto.SerializeToString())


def open_runtime(path: Path, config: ModelConfig) -> OnnxRuntime:
    return OnnxRuntime(path)
