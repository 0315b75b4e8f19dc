"""The export formats, their precisions and the agreement each must reach: plain data, no
TensorFlow, so ``export.py --help`` and the option checks answer at once."""

from __future__ import annotations

FORMATS = ("saved_model", "tflite", "compat", "keras", "onnx")
SAVED_MODEL_PRECISIONS = ("float32", "bfloat16")
TFLITE_PRECISIONS = ("float32", "float16", "int8")
PRECISIONS_BY_FORMAT = {
    "saved_model": SAVED_MODEL_PRECISIONS,
    "tflite": TFLITE_PRECISIONS,
    "compat": ("float32",),
    "keras": ("float32",),
    "onnx": ("float32",),
}
#: The file name an output of each single-file format must end with.
SUFFIX_BY_FORMAT = {"tflite": (".tflite",), "compat": (".tar.gz", ".tgz"), "keras": (".keras",),
                    "onnx": (".onnx",)}

#: Label agreement with the Keras model an export must reach unless the caller says otherwise, by
#: the precision it computes in (a ``.keras`` file must reproduce the labels exactly).
DEFAULT_MIN_AGREEMENT = {"float32": 0.999, "bfloat16": 0.99, "float16": 0.99, "int8": 0.98}
KERAS_FILE_MIN_AGREEMENT = 1.0
