"""Deployment formats for DeepLab models: SavedModel, TFLite, release-style frozen graph (compat),
.keras and ONNX, each checked against the Keras model after writing; plus inference-only rewrites
(batch-norm folding, ASPP head simplification, native dilated kernels, reduced precision)."""

from deeplab.export.api import FORMATS, ExportResult, export
from deeplab.export.optimize import (fold_batch_norm, optimize_for_inference, simplify_head,
                                     with_precision)
from deeplab.export.saved_model import InferenceOptions, export_saved_model
from deeplab.export.verify import Agreement, ExportError, VerificationError

__all__ = [
    "Agreement", "ExportError", "ExportResult", "FORMATS", "InferenceOptions",
    "VerificationError", "export", "export_saved_model", "fold_batch_norm",
    "optimize_for_inference", "simplify_head", "with_precision",
]
