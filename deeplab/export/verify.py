"""What every export shares: atomic output, sample images, and the after-writing agreement check.

An export is written to a temporary path beside its target, opened from there and compared with
the Keras model on sample images; only when it agrees is it renamed into place. A failed check
deletes the temporary artifact, so nothing that looks complete is ever left behind. No TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeplab.atomic import atomic_path
from deeplab.image_files import IMAGE_SUFFIXES, read_rgb

log = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """An export could not be written or failed its own check after writing."""


class VerificationError(ExportError):
    """The written artifact disagrees with the Keras model beyond the allowed tolerance."""


@dataclass
class Agreement:
    """Per-image pixel agreement of an artifact's labels with the Keras model's labels."""

    per_image: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    pixels_equal: int = 0
    pixels: int = 0
    max_probability_difference: float | None = None

    def add(self, name: str, ours: np.ndarray, reference: np.ndarray) -> None:
        ours, reference = np.asarray(ours), np.asarray(reference)
        if ours.shape != reference.shape:
            raise VerificationError(f"{name}: labels of shape {ours.shape}, expected "
                                    f"{reference.shape}")
        equal = int(np.count_nonzero(ours == reference))
        self.pixels_equal += equal
        self.pixels += ours.size
        self.per_image.append(equal / max(ours.size, 1))
        self.names.append(name)

    def add_probabilities(self, ours: np.ndarray, reference: np.ndarray) -> None:
        difference = float(np.max(np.abs(np.asarray(ours, np.float32) - reference)))
        self.max_probability_difference = max(self.max_probability_difference or 0.0, difference)

    @property
    def fraction(self) -> float:
        return self.pixels_equal / self.pixels if self.pixels else 0.0

    def summary(self) -> str:
        lines = [f"  {name}: {value:.4%} of pixels agree"
                 for name, value in zip(self.names, self.per_image)]
        text = f"label agreement with the Keras model: {self.fraction:.4%} of {self.pixels} pixels"
        if self.max_probability_difference is not None:
            text += f"; max |probability difference| {self.max_probability_difference:.2e}"
        return "\n".join([text, *lines])


def generated_images(count: int = 3, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Deterministic synthetic photos (smooth gradients, blobs, edges, noise) in several sizes:
    one at the crop size's aspect as the demo feeds it, one that is upscaled, one downscaled."""
    rng = np.random.default_rng(seed)
    sizes = [(385, 513), (200, 300), (640, 480), (513, 342), (257, 400)]
    images = []
    for index in range(count):
        height, width = sizes[index % len(sizes)]
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        image = np.zeros((height, width, 3), np.float32)
        for channel in range(3):
            fx, fy, phase = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.3)
            image[..., channel] = 127 + 90 * np.sin(fx * xx / width * 6.3 + phase) \
                * np.cos(fy * yy / height * 6.3)
        for _ in range(6):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            radius = rng.uniform(0.05, 0.3) * min(height, width)
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2
            image[blob] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 6, image.shape)
        images.append((f"generated_{index}_{width}x{height}",
                       np.clip(np.round(image), 0, 255).astype(np.uint8)))
    return images


#: Check and calibration photos are shrunk to this longer side when read (area averaging), so
#: 100 twelve-megapixel photos take 0.2 GB instead of 3.6 GB; it stays above the crop size, so
#: the exports' own downscaling is still exercised.
CHECK_IMAGE_MAX_SIDE = 1025


def _shrunk(image: np.ndarray, max_side: int | None) -> np.ndarray:
    if max_side is None or max(image.shape[:2]) <= max_side:
        return image
    import cv2

    scale = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def folder_images(folder: str | os.PathLike, limit: int | None = None,
                  max_side: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Images of a folder (by extension, sorted by name), at most ``limit`` of them, each shrunk
    so its longer side is at most ``max_side`` (None: as read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"sample/calibration folder {folder} does not exist")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ExportError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return [(p.name, _shrunk(read_rgb(p), max_side)) for p in paths[:limit]]


def sample_images(folder: str | os.PathLike | None = None,
                  limit: int = 3) -> list[tuple[str, np.ndarray]]:
    """The images an export is checked on: from ``folder`` if given, else generated."""
    return folder_images(folder, limit, CHECK_IMAGE_MAX_SIDE) if folder \
        else generated_images(limit)


def check(agreement: Agreement, min_agreement: float, what: str, hint: str = "") -> None:
    """Log the agreement and raise :class:`VerificationError` when it is below the minimum
    (``hint``: what to try, appended to the message)."""
    log.info("%s: %s", what, agreement.summary())
    if agreement.fraction < min_agreement:
        raise VerificationError(
            f"{what} agrees with the Keras model on {agreement.fraction:.4%} of pixels, below the "
            f"required {min_agreement:.2%}; the artifact was deleted{hint}")


#: What to try when an int8 export falls short: reduced precision flips labels where the model
#: is unsure, so the check must see photos like the ones it will run on.
INT8_HINT = ("; int8 flips labels where the model is unsure, so check it on photos like yours "
             "(--calibration-dir and --sample-dir with a few dozen of them; examples/ holds four), "
             "accept the loss knowingly with --min-agreement, or use --precision float16")


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike, *, directory: bool,
                  overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it to ``target``, else delete it.

    The body writes *and verifies* the artifact at the temporary path; an exception (including a
    failed verification) removes it, and the old ``target`` (if any) is left as it was. An
    existing ``target`` without ``overwrite`` is an :class:`ExportError`.
    """
    if Path(target).exists() and not overwrite:
        raise ExportError(f"{target} exists; pass --overwrite to replace it")
    with atomic_path(target, directory=directory) as temporary:
        yield temporary
