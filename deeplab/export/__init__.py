"""Deployment formats for DeepLab models: SavedModel, TFLite, release-style frozen graph (compat),
.keras and ONNX, each a record in :mod:`deeplab.export.formats`, each checked against the Keras
model through its runtime after writing (:func:`export`, :func:`export_model`).

Names are imported on first use, so ``deeplab.export.formats`` (and ``export.py --help``) stay
free of TensorFlow.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "FORMATS": "deeplab.export.formats",
    "ExportResult": "deeplab.export.api", "export": "deeplab.export.api",
    "export_model": "deeplab.export.api",
    "InferenceOptions": "deeplab.export.saved_model",
    "Agreement": "deeplab.export.verify", "ExportError": "deeplab.export.verify",
    "VerificationError": "deeplab.export.verify",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'deeplab.export' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
