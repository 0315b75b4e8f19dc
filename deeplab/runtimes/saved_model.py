"""An exported DeepLab SavedModel folder run by TensorFlow through its ``serving_default``
signature (see :mod:`deeplab.export.serving`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from deeplab import contract_np, contract_tf
from deeplab.inference import Prediction
from deeplab.input_format import CROP_SIZE, InputContract
from deeplab.runtimes.base import Runtime


def _stored_class_names(loaded) -> tuple[str, ...] | None:
    """The class names this project's exports keep on the loaded object, if present."""
    value = getattr(loaded, "class_names", None)
    if value is None:
        return None
    return tuple(v.decode() for v in value.numpy())


class SavedModelRuntime(Runtime):
    """``serving_default(images=uint8 [B, H, W, 3])`` -> ``labels`` and ``probabilities``.

    The signature returns probabilities, not logits: :meth:`predict_logits` gives their
    logarithm, which differs from the logits by a per-pixel constant (same softmax and argmax).
    """

    def __init__(self, path: str | os.PathLike, class_names=None):
        self.path = Path(path)
        self.loaded = tf.saved_model.load(str(self.path))  # keeps the signatures' variables alive
        if "serving_default" not in self.loaded.signatures:
            raise ValueError(f"{path}: SavedModel has no 'serving_default' signature")
        self.signatures = self.loaded.signatures
        self._serve = self.signatures["serving_default"]
        crop_size = getattr(self.loaded, "crop_size", None)
        self.contract = InputContract(CROP_SIZE if crop_size is None else int(crop_size.numpy()))
        names = class_names or _stored_class_names(self.loaded)
        if names is None:
            from deeplab.config import default_class_names

            probe = self.probabilities(np.zeros((1, 33, 33, 3), np.uint8))
            names = default_class_names(probe.shape[-1])
        self.class_names = tuple(names)

    def serve(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """The signature's outputs for a uint8 batch, as numpy arrays."""
        outputs = self._serve(images=tf.constant(np.ascontiguousarray(images, np.uint8)))
        if "probabilities" not in outputs:
            raise ValueError(f"{self.path}: serving_default returns {sorted(outputs)}, "
                             "expected 'probabilities'")
        return {name: value.numpy() for name, value in outputs.items()}

    def predict(self, images) -> Prediction:
        """Labels and probabilities at the images' own resolution (one image or a batch)."""
        batch, single = contract_np.to_batch(images)
        outputs = self.serve(batch)
        labels, probabilities = outputs["labels"], outputs["probabilities"]
        return Prediction(labels[0], probabilities[0]) if single else \
            Prediction(labels, probabilities)

    def _working(self, image: np.ndarray, resize: bool) -> np.ndarray:
        """The image at the working size, resized as the signature itself resizes."""
        batch = contract_np.to_batch(image)[0]
        return contract_tf.resize_to_crop(batch, self.crop_size).numpy() if resize else batch

    def predict_logits(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        probabilities = self.serve(self._working(image, resize))["probabilities"][0]
        return np.log(np.maximum(probabilities, np.finfo(np.float32).tiny))

    def predict_labels(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        return self.serve(self._working(image, resize))["labels"][0]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return self.serve(images)["probabilities"].astype(np.float32, copy=False)
