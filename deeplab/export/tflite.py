"""TFLite export (float32, float16 weights, full-integer int8) with XNNPACK-friendly static shapes.

The ``.tflite`` model runs the network on one padded crop: input ``image`` float32
``[1, S, S, 3]`` (S = crop size: the photo resized so its longer side is S, padded bottom/right,
mapped to [-1, 1] with padding exactly 0.0), outputs ``labels`` int32 ``[1, S, S]`` (argmax of
the align-corners upsampled logits; crop it to the photo's resized size) and ``logits`` float32
at the output stride. A sidecar ``<name>.json`` carries class names and preprocessing constants.
:class:`deeplab.runtimes.litert.LiteRTRuntime` does that preparation for Python callers.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from deeplab.config import ModelConfig
from deeplab.contract_tf import pad_and_normalize, resize_to_crop
from deeplab.export.formats import FORMATS, WriteOptions
from deeplab.export.padded_crop import padded_crop_outputs, padded_crop_spec
from deeplab.export.serving import serving_metadata
from deeplab.export.verify import ExportError
from deeplab.rewrites import optimize_for_inference
from deeplab.runtimes.litert import LiteRTRuntime


class _TFLiteNetwork(tf.Module):
    def __init__(self, network: keras.Model, crop_size: int):
        super().__init__()
        self.network = network
        self.serve = tf.function(lambda image: padded_crop_outputs(network, image, crop_size),
                                 input_signature=[padded_crop_spec(crop_size)])


def representative_dataset(images: Sequence[tuple[str, np.ndarray]],
                           crop_size: int) -> Iterator[list[np.ndarray]]:
    """Prepared network inputs of the calibration images, as the int8 converter wants them."""
    for _name, image in images:
        yield [pad_and_normalize(resize_to_crop(image[np.newaxis], crop_size), crop_size).numpy()]


def convert(network: keras.Model, crop_size: int, precision: str,
            calibration: Sequence[tuple[str, np.ndarray]] = (), labels: bool = True) -> bytes:
    """The ``.tflite`` flatbuffer of ``network`` at ``precision``. ``labels=False`` leaves the
    full-size ``labels`` output out (logits only: what portrait mode reads, without the
    resize and argmax at the input's size that a real-time network cannot afford)."""
    precisions = FORMATS["tflite"].precisions
    if precision not in precisions:
        raise ValueError(f"TFLite precision must be one of {precisions}, got {precision!r}")
    frozen = convert_variables_to_constants_v2(
        _TFLiteNetwork(network, crop_size).serve.get_concrete_function())
    module = tf.Module()
    # A variable-free wrapper keeps the output names in the TFLite signature.
    names = ("labels", "logits")
    module.serve = tf.function(
        lambda image: {name: out for name, out in zip(names, frozen(image))
                       if labels or name == "logits"},
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


def write(model: keras.Model, config: ModelConfig, path: Path,
          options: WriteOptions) -> dict[str, str]:
    """The ``.tflite`` file at ``path``; its JSON sidecar (class names, preprocessing) comes back
    to be published beside the output after the check."""
    network = optimize_for_inference(model, fold=options.fold_batch_norm)
    crop_size = config.crop_size
    path.write_bytes(convert(network, crop_size, options.precision, options.calibration))
    metadata = serving_metadata(config, crop_size, tflite={
        "precision": options.precision,
        "input": "image float32 [1, S, S, 3]: resized, padded, [-1, 1]",
        "outputs": {"labels": "int32 [1, S, S], crop to the resized size",
                    "logits": "float32 at the output stride"}})
    metadata.pop("signatures")
    return {".json": json.dumps(metadata, indent=2)}


def open_runtime(path: Path, config: ModelConfig) -> LiteRTRuntime:
    return LiteRTRuntime(path)
