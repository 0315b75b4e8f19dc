"""One runtime per kind of artifact, with one interface (:class:`~deeplab.runtimes.base.Runtime`):
``predict_logits(image)`` at the working size, ``class_names`` and the ``contract`` it expects.

- :class:`Segmenter` (``keras``): a Keras model, from any weights source;
- :class:`SavedModelRuntime` (``saved_model``): an exported SavedModel folder;
- :class:`LiteRTRuntime` (``litert``): a ``.tflite`` file, without TensorFlow;
- :class:`FrozenGraphRuntime` (``frozen_graph``): a release-format frozen graph (the oracle);
- :class:`OnnxRuntime` (``onnx``): a ``.onnx`` export.

Names are imported on first use, so the LiteRT path never imports TensorFlow.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

_HOMES = {
    "Runtime": "deeplab.runtimes.base",
    "Segmenter": "deeplab.runtimes.keras",
    "SavedModelRuntime": "deeplab.runtimes.saved_model",
    "LiteRTRuntime": "deeplab.runtimes.litert",
    "FrozenGraphRuntime": "deeplab.runtimes.frozen_graph",
    "OnnxRuntime": "deeplab.runtimes.onnx",
}

__all__ = sorted([*_HOMES, "open_runtime"])


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'deeplab.runtimes' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def open_runtime(path: str | os.PathLike, **options):
    """Open an artifact as the runtime its kind needs: a SavedModel folder, ``.tflite``,
    ``.onnx``, ``.keras``, or a frozen graph (``.pb``, release ``.tar.gz`` / ``.tgz``).
    ``options`` go to that runtime's constructor."""
    path = Path(path).expanduser()
    name = path.name.lower()
    if path.is_dir() and (path / "saved_model.pb").is_file():
        kind = "SavedModelRuntime"
    elif name.endswith(".tflite"):
        kind = "LiteRTRuntime"
    elif name.endswith(".onnx"):
        kind = "OnnxRuntime"
    elif name.endswith(".keras"):
        return __getattr__("Segmenter").from_file(path, **options)
    elif name.endswith((".pb", ".tar.gz", ".tgz")):
        kind = "FrozenGraphRuntime"
    else:
        raise ValueError(f"{path}: not an artifact a runtime opens (a SavedModel folder, "
                         ".tflite, .onnx, .keras, .pb or release .tar.gz)")
    return __getattr__(kind)(path, **options)
