"""The tutorial baseline this project started from, reimplemented step by step for comparison.

Kept deliberately naive, because its failures are what the benchmark and the README show:
argmax labels at the network's ~513-px resolution, the class mask upsampled as uint8 with linear
interpolation and thresholded at 128 (jagged, blocky edges on a large photo), the person zeroed out
of a copy of the photo that is then box-blurred with ``cv2.blur`` (zeros bleed into the background:
dark halo; square, dull bokeh), and a hard ``np.where`` paste of the person.
"""

from __future__ import annotations

import cv2
import numpy as np

from deeplab.palette import voc_colormap

TUTORIAL_KERNEL = 13  # cv2.blur((13, 13))


def tutorial_kernel_size(radius: float | None) -> int:
    """The tutorial's 13x13 box, or a box of 2r+1 to match a disc of radius r."""
    return TUTORIAL_KERNEL if radius is None else 2 * int(round(radius)) + 1


def tutorial_mask_from_labels(labels: np.ndarray, subject_classes: tuple[int, ...],
                              height: int, width: int) -> np.ndarray:
    """Boolean full-size mask: class mask as uint8 0/255, linear resize, threshold at 128."""
    mask = np.isin(labels, subject_classes).astype(np.uint8) * 255
    resized = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return resized >= 128


def tutorial_mask_from_probabilities(probabilities: np.ndarray, subject_classes: tuple[int, ...],
                                     height: int, width: int) -> np.ndarray:
    """Argmax of the class probabilities at working resolution, then the tutorial's resize."""
    labels = probabilities.argmax(axis=-1)
    return tutorial_mask_from_labels(labels, subject_classes, height, width)


def tutorial_mask_from_matte(matte: np.ndarray) -> np.ndarray:
    """A given soft matte as the tutorial would use it: uint8, threshold at 128."""
    return np.rint(np.clip(matte, 0, 1) * 255).astype(np.uint8) >= 128


def tutorial_blur(image: np.ndarray, mask: np.ndarray, kernel_size: int = TUTORIAL_KERNEL
                  ) -> np.ndarray:
    """The tutorial composite: box-blur the person-zeroed photo, paste the person with np.where."""
    mask3 = mask[..., None]
    background = np.where(mask3, 0, image).astype(np.uint8)  # person zeroed
    blurred = cv2.blur(background, (kernel_size, kernel_size))
    foreground = np.where(mask3, image, 0).astype(np.uint8)  # background zeroed
    return np.where(mask3, foreground, blurred).astype(np.uint8)


def tutorial_overlay(image: np.ndarray, labels_full: np.ndarray, opacity: float = 0.7
                     ) -> np.ndarray:
    """The tutorial's inspection view: colour-mapped labels drawn over the photo at 70%."""
    colours = voc_colormap()[np.asarray(labels_full, np.int64) % 256]
    blended = image.astype(np.float32) * (1 - opacity) + colours.astype(np.float32) * opacity
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def tutorial_labels_full(probabilities: np.ndarray, height: int, width: int) -> np.ndarray:
    """Argmax labels at working resolution brought to the photo's size (nearest, as a label map)."""
    labels = probabilities.argmax(axis=-1).astype(np.uint8)
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
