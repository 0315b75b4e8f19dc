"""Segmentation metrics from a confusion matrix: mIoU, per-class IoU, pixel accuracy.

Pixels labelled 255 (or any id outside the class range) are left out, as in the original eval.
IoU of a class that appears neither in the labels nor in the predictions is undefined and left
out of the mean (the original's ``mean_iou`` does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deeplab.data.config import IGNORE_LABEL


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int,
                     ignore_label: int = IGNORE_LABEL) -> np.ndarray:
    """``[num_classes, num_classes]`` counts, rows = ground truth, columns = prediction."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions differ in size: {labels.size} vs "
                         f"{predictions.size}")
    valid = (labels != ignore_label) & (labels >= 0) & (labels < num_classes)
    index = labels[valid] * num_classes + np.clip(predictions[valid], 0, num_classes - 1)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


@dataclass
class SegmentationMetrics:
    """Accumulates a confusion matrix over images and reports the usual scores."""

    num_classes: int
    class_names: tuple[str, ...] = ()
    ignore_label: int = IGNORE_LABEL
    matrix: np.ndarray = field(init=False)

    def __post_init__(self):
        self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)
        if not self.class_names:
            self.class_names = tuple(f"class_{i}" for i in range(self.num_classes))

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        """Add one image (or batch) of ground-truth ids and predicted ids."""
        self.matrix += confusion_matrix(labels, predictions, self.num_classes, self.ignore_label)

    def per_class_iou(self) -> np.ndarray:
        """IoU per class; NaN where the class is absent from both labels and predictions."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def mean_iou(self) -> float:
        """Mean IoU over the classes that occur (NaN when nothing was counted)."""
        iou = self.per_class_iou()
        return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else float("nan")

    def pixel_accuracy(self) -> float:
        """Share of counted (non-ignored) pixels predicted correctly."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")

    def class_iou(self, name: str) -> float:
        """IoU of a class by name (``person``); raises when the label set lacks it."""
        if name not in self.class_names:
            raise KeyError(f"class {name!r} not in {self.class_names}")
        return float(self.per_class_iou()[self.class_names.index(name)])

    def summary(self) -> dict[str, float]:
        """``miou``, ``pixel_accuracy``, ``iou/<class>`` and ``person_iou`` when there is one."""
        result = {"miou": self.mean_iou(), "pixel_accuracy": self.pixel_accuracy()}
        for name, value in zip(self.class_names, self.per_class_iou()):
            result[f"iou/{name}"] = float(value)
        if "person" in self.class_names:
            result["person_iou"] = self.class_iou("person")
        return result
