"""TensorBoard logging: scalars (loss, learning rate, mIoU) and images (input, truth, prediction).

Only the chief writes; other processes get a logger that does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from deeplab.data.masks import colorize
from deeplab.layers import resize_bilinear_align_corners


def overlay_panels(images: np.ndarray, labels: np.ndarray, logits: np.ndarray,
                   alpha: float = 0.5) -> np.ndarray:
    """``[B, H, 3W, 3]`` uint8 rows of input | ground truth | prediction over the input.

    ``images`` in [-1, 1], ``labels`` ``[B, H, W(, 1)]`` class ids, ``logits`` at any stride
    (resized with align corners to the image size before the argmax).
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels)
    if labels.ndim == 4:
        labels = labels[..., 0]
    photo = np.clip((images + 1.0) * 127.5, 0, 255)
    size = images.shape[1:3]
    logits = resize_bilinear_align_corners(tf.cast(logits, tf.float32), size)
    prediction = np.argmax(np.asarray(logits), axis=-1)
    truth = colorize(labels).astype(np.float32)
    predicted = (1 - alpha) * photo + alpha * colorize(prediction).astype(np.float32)
    return np.concatenate([photo, truth, predicted], axis=2).astype(np.uint8)


class SummaryLogger:
    """Writers for ``<model_dir>/train`` and ``<model_dir>/eval`` (none when ``model_dir`` is
    None, e.g. on non-chief workers)."""

    def __init__(self, model_dir: str | Path | None, class_names: Sequence[str] = ()):
        self.class_names = tuple(class_names)
        self.writers = {}
        if model_dir is not None:
            for name in ("train", "eval"):
                self.writers[name] = tf.summary.create_file_writer(str(Path(model_dir) / name))

    def scalars(self, writer: str, step: int, values: Mapping[str, float]) -> None:
        if writer not in self.writers:
            return
        with self.writers[writer].as_default(step=step):
            for key, value in values.items():
                if key in ("step", "time") or value is None:
                    continue
                if isinstance(value, (int, float)) and np.isfinite(value):
                    tf.summary.scalar(key, float(value))

    def images(self, step: int, images, labels, logits, max_outputs: int = 2) -> None:
        if "train" not in self.writers:
            return
        panels = overlay_panels(images, labels, logits)
        with self.writers["train"].as_default(step=step):
            tf.summary.image("input | truth | prediction", panels, max_outputs=max_outputs)

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()
