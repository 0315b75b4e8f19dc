"""TFLite export (float32, float16 weights, full-integer int8) with XNNPACK-friendly static shapes.

The ``.tflite`` model runs the network on one padded crop: input ``image`` float32
``[1, S, S, 3]`` (S = crop size: the photo resized so its longer side is S, padded bottom/right,
mapped to [-1, 1] with padding exactly 0.0), outputs ``labels`` int32 ``[1, S, S]`` (argmax of
the align-corners upsampled logits; crop it to the photo's resized size) and ``logits`` float32
at the output stride. A sidecar ``<name>.json`` carries class names and preprocessing constants.
:class:`TFLiteSegmenter` does that preparation for Python callers.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from deeplab.config import ModelConfig
from deeplab.export.optimize import optimize_for_inference
from deeplab.export.serving import serving_metadata
from deeplab.export.verify import (CHECK_IMAGE_MAX_SIDE, DEFAULT_MIN_AGREEMENT, Agreement,
                                   ExportError, atomic_output, check, folder_images)
from deeplab.inference import logits_at_working_size
from deeplab.layers import resize_bilinear_align_corners
from deeplab.preprocessing import pad_and_normalize, resize_to_crop

from deeplab.export.formats import TFLITE_PRECISIONS  # noqa: E402


def padded_crop_spec(crop_size: int) -> tf.TensorSpec:
    """The static input of the TFLite and ONNX models: one prepared ``[1, S, S, 3]`` crop."""
    return tf.TensorSpec([1, crop_size, crop_size, 3], tf.float32, name="image")


def padded_crop_outputs(network: keras.Model, image: tf.Tensor, crop_size: int) -> dict:
    """What the TFLite and ONNX models return for a prepared crop: ``labels`` (argmax of the
    logits upsampled with align corners to ``S x S``) and the raw ``logits``."""
    logits = tf.cast(network(image, training=False), tf.float32)
    upsampled = resize_bilinear_align_corners(logits, [crop_size, crop_size])
    return {"labels": tf.argmax(upsampled, axis=-1, output_type=tf.int32), "logits": logits}


class _TFLiteNetwork(tf.Module):
    def __init__(self, network: keras.Model, crop_size: int):
        super().__init__()
        self.network = network
        self.serve = tf.function(lambda image: padded_crop_outputs(network, image, crop_size),
                                 input_signature=[padded_crop_spec(crop_size)])


def network_input(image: np.ndarray, crop_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 ``[H, W, 3]`` -> (float32 ``[1, S, S, 3]`` network input, (h, w) resized size)."""
    resized = resize_to_crop(tf.constant(image[np.newaxis]), crop_size)
    height, width = int(resized.shape[1]), int(resized.shape[2])
    return pad_and_normalize(resized, crop_size).numpy(), (height, width)


def representative_dataset(images: Sequence[tuple[str, np.ndarray]],
                           crop_size: int) -> Iterator[list[np.ndarray]]:
    """Prepared network inputs of the calibration images, as the int8 converter wants them."""
    for _name, image in images:
        yield [network_input(image, crop_size)[0]]


def convert(network: keras.Model, crop_size: int, precision: str,
            calibration: Sequence[tuple[str, np.ndarray]] = ()) -> bytes:
    """The ``.tflite`` flatbuffer of ``network`` at ``precision``."""
    if precision not in TFLITE_PRECISIONS:
        raise ValueError(f"TFLite precision must be one of {TFLITE_PRECISIONS}, got {precision!r}")
    frozen = convert_variables_to_constants_v2(
        _TFLiteNetwork(network, crop_size).serve.get_concrete_function())
    module = tf.Module()
    # A variable-free wrapper keeps the output names in the TFLite signature.
    module.serve = tf.function(lambda image: dict(zip(("labels", "logits"), frozen(image))),
                               input_signature=[padded_crop_spec(crop_size)])
    with tempfile.TemporaryDirectory(prefix="deeplab-tflite-") as scratch:
        tf.saved_model.save(module, scratch,
                            signatures={"serving_default": module.serve.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch)
        if precision == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif precision == "int8":
            if not calibration:
                raise ExportError("int8 quantization needs calibration images")
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: representative_dataset(calibration,
                                                                               crop_size)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()


def _interpreter_class():
    """LiteRT's interpreter (a declared dependency); TensorFlow's deprecated one without it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the environment
        return tf.lite.Interpreter
    return Interpreter


class TFLiteSegmenter:
    """Runs an exported ``.tflite`` DeepLab on uint8 photos (XNNPACK, ``num_threads`` threads)."""

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int = 2):
        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.interpreter = _interpreter_class()(model_content=content, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.runner = self.interpreter.get_signature_runner("serving_default")
        shape = self.runner.get_input_details()["image"]["shape"]
        self.crop_size = int(shape[1])

    def run_network(self, network_image: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs for a prepared float32 ``[1, S, S, 3]`` input."""
        return self.runner(image=network_image)

    def labels_at_working_size(self, image: np.ndarray) -> np.ndarray:
        """int32 ``[h, w]`` class ids of the photo resized so its longer side is S."""
        prepared, (height, width) = network_input(image, self.crop_size)
        return self.run_network(prepared)["labels"][0, :height, :width]


def export_tflite(model: keras.Model, config: ModelConfig, output: str | os.PathLike, *,
                  precision: str = "float32", images: Sequence = (),
                  calibration_dir: str | os.PathLike | None = None, calibration_limit: int = 100,
                  fold_batch_norm: bool = True, min_agreement: float | None = None,
                  overwrite: bool = False) -> Agreement:
    """Convert, write ``output`` (+ ``.json`` sidecar) atomically, reload and compare labels at
    the working size with the Keras model on ``images``."""
    output = Path(output)
    if output.suffix != ".tflite":
        raise ValueError(f"--format tflite writes a .tflite file; got --output {output}")
    if min_agreement is None:
        min_agreement = DEFAULT_MIN_AGREEMENT[precision]
    crop_size = config.crop_size
    calibration = folder_images(calibration_dir, calibration_limit, CHECK_IMAGE_MAX_SIDE) \
        if calibration_dir else ()
    if precision == "int8" and not calibration:
        raise ExportError("--precision int8 needs --calibration-dir with representative images")
    network = optimize_for_inference(model, fold=fold_batch_norm)
    content = convert(network, crop_size, precision, calibration)
    reference = tf.function(lambda x: logits_at_working_size(model, x, crop_size))
    metadata = serving_metadata(config, crop_size, tflite={
        "precision": precision, "input": "image float32 [1, S, S, 3]: resized, padded, [-1, 1]",
        "outputs": {"labels": "int32 [1, S, S], crop to the resized size",
                    "logits": "float32 at the output stride"}})
    metadata.pop("signatures")
    sidecar = output.with_suffix(".json")
    with atomic_output(output, directory=False, overwrite=overwrite) as temporary:
        temporary.write_bytes(content)
        segmenter = TFLiteSegmenter(temporary)
        agreement = Agreement()
        for name, image in images:
            expected = tf.argmax(reference(image[np.newaxis]), -1, output_type=tf.int32)
            agreement.add(name, segmenter.labels_at_working_size(image), expected.numpy()[0])
        check(agreement, min_agreement, f"TFLite {precision} {output}")
        with atomic_output(sidecar, directory=False, overwrite=True) as temporary_sidecar:
            temporary_sidecar.write_text(json.dumps(metadata, indent=2))
    return agreement
