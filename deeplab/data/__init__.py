"""Data for fine-tuning: folder, TFDS and PASCAL VOC sources, augmentation, tf.data pipelines.

The pipelines are imported on first use, so the configs (``deeplab.data.config``) and the
data-set checks load without TensorFlow.
"""

from __future__ import annotations

import importlib

from deeplab.data.config import IGNORE_LABEL, MEAN_PIXEL, AugmentConfig, DataConfig

_PIPELINE = ("eval_dataset", "source_dataset", "train_dataset")

__all__ = ["IGNORE_LABEL", "MEAN_PIXEL", "AugmentConfig", "DataConfig", *_PIPELINE]


def __getattr__(name: str):
    if name not in _PIPELINE:
        raise AttributeError(f"module 'deeplab.data' has no attribute {name!r}")
    return getattr(importlib.import_module("deeplab.data.pipeline"), name)
