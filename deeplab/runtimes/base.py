"""The one interface every runtime has: logits at the working size for an image, the class
names, and the input contract it expects. TensorFlow-free."""

from __future__ import annotations

import abc

import numpy as np

from deeplab import contract_np
from deeplab.input_format import InputContract


class Runtime(abc.ABC):
    """A DeepLab artifact opened for inference (one subclass per kind of artifact)."""

    #: Label of each class id.
    class_names: tuple[str, ...]
    #: What :meth:`predict_logits` expects.
    contract: InputContract

    @property
    def crop_size(self) -> int:
        """The working size: the longer side of the image the network is fed."""
        return self.contract.crop_size

    @abc.abstractmethod
    def predict_logits(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        """float32 logits ``[h, w, C]`` at the working size for one uint8 RGB image ``[h, w, 3]``
        (the original graph's ``ResizeBilinear_2`` cropped to the image). An image whose longer
        side is not the crop size is resized first, unless ``resize`` is False: the image is
        already the working-size image (e.g. TensorFlow's resize, whose rounding can leave the
        longer side one pixel short)."""

    def predict_labels(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        """Class ids ``[h, w]`` at the working size; an artifact with its own labels output
        answers with it (in its own integer type)."""
        return np.argmax(self.predict_logits(image, resize=resize), axis=-1).astype(np.int32)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 ``[B, h, w, 3]`` -> float32 class probabilities ``[B, h, w, C]`` at the images'
        own size: working-size logits brought to the image size (bilinear), then softmax."""
        images, _ = contract_np.to_batch(images)
        out = [contract_np.resize_from_working_size(self.predict_logits(image)[np.newaxis],
                                                    image.shape[:2])[0] for image in images]
        return contract_np.softmax(np.stack(out))
