"""Deployment formats for DeepLab models: SavedModel, TFLite, release-style frozen graph (compat),
.keras and ONNX, each checked against the Keras model after writing; plus inference-only rewrites
(batch-norm folding, ASPP head simplification, native dilated kernels, reduced precision).

Names are imported on first use, so ``deeplab.export.formats`` (and ``export.py --help``) stay
free of TensorFlow.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "FORMATS": "deeplab.export.formats",
    "ExportResult": "deeplab.export.api", "export": "deeplab.export.api",
    "fold_batch_norm": "deeplab.export.optimize",
    "optimize_for_inference": "deeplab.export.optimize",
    "simplify_head": "deeplab.export.optimize", "with_precision": "deeplab.export.optimize",
    "InferenceOptions": "deeplab.export.saved_model",
    "export_saved_model": "deeplab.export.saved_model",
    "Agreement": "deeplab.export.verify", "ExportError": "deeplab.export.verify",
    "VerificationError": "deeplab.export.verify",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'deeplab.export' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
