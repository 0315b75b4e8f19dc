"""ONNX export through tf2onnx (optional: ``pip install tf2onnx onnxruntime``).

Same contract as the TFLite model: input ``image`` float32 ``[1, S, S, 3]`` (resized, padded,
[-1, 1]), outputs ``labels`` int32 ``[1, S, S]`` and ``logits`` at the output stride. Checked after
writing with onnxruntime.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.export.optimize import fold_batch_norm
from deeplab.export.verify import (DEFAULT_MIN_AGREEMENT, Agreement, ExportError, atomic_output,
                                   check)
from deeplab.inference import logits_at_working_size

OPSET = 17


def check_converter() -> None:
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


def export_onnx(model: keras.Model, config: ModelConfig, output: str | os.PathLike, *,
                images: Sequence = (), min_agreement: float | None = None,
                overwrite: bool = False) -> Agreement:
    """Convert the BN-folded network with tf2onnx, write ``output`` (``.onnx``) atomically, run it
    with onnxruntime and compare its labels at the working size with the Keras model's."""
    check_converter()
    import onnxruntime
    import tf2onnx

    from deeplab.export.tflite import network_input, padded_crop_outputs, padded_crop_spec

    output = Path(output)
    if output.suffix != ".onnx":
        raise ValueError(f"--format onnx writes a .onnx file; got --output {output}")
    if min_agreement is None:
        min_agreement = DEFAULT_MIN_AGREEMENT["float32"]
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
    reference = tf.function(lambda x: logits_at_working_size(model, x, crop_size))
    with atomic_output(output, directory=False, overwrite=overwrite) as temporary:
        temporary.write_bytes(proto.SerializeToString())
        session = onnxruntime.InferenceSession(str(temporary),
                                               providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        output_names = [o.name for o in session.get_outputs()]
        agreement = Agreement()
        for name, image in images:
            prepared, (height, width) = network_input(image, crop_size)
            outputs = dict(zip(output_names, session.run(None, {input_name: prepared})))
            labels = next(v for k, v in outputs.items() if "labels" in k)
            expected = tf.argmax(reference(image[np.newaxis]), -1, output_type=tf.int32)
            agreement.add(name, labels[0, :height, :width], expected.numpy()[0])
        check(agreement, min_agreement, f"ONNX {output}")
        return agreement
