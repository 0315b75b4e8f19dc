"""Masks that do not teach a model to ignore people: a teacher's extra people become "ignore".

Data sets that label only the main subject (CCP: street-fashion photos, passers-by labelled as
background) teach a person model that other people are background: exactly the small, distant
people portrait mode must keep. This writes a copy of a folder data set's masks where:

- every person the teacher (any PASCAL or person model this project loads) finds away from the
  labelled subject becomes 255 (ignored by the loss), grown by a few pixels;
- a thin band along the labelled boundary becomes 255 too, where hand-made masks are a few
  pixels coarse (``band`` px each side; 0 keeps the boundary).

The subject's own pixels are never changed. The teacher is any callable photo -> person mask;
the command that runs one over a data set is :mod:`deeplab.training.teacher_masks`.

The output is a folder data set (``images`` links to the source's photos) with class-id masks:
train on it with ``data.mask_encoding=class_ids``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplab.data.folder import list_folder_pairs
from deeplab.image_files import read_rgb
from deeplab.progress import progress_bar

#: Teacher components smaller than this many pixels are noise, not people.
MIN_PERSON_PIXELS = 30
#: How far (px) a teacher component must stay from the subject to count as another person.
SUBJECT_MARGIN = 7
#: Extra ignored pixels around another person (the teacher's edges are soft).
PERSON_MARGIN = 4


@dataclass
class Summary:
    """What the rewrite did, for the one-line report."""

    photos: int = 0
    with_other_people: int = 0
    ignored_fraction: float = 0.0

    def report(self) -> str:
        share = self.ignored_fraction / max(self.with_other_people, 1)
        return (f"{self.photos} masks written; {self.with_other_people} photos had people the "
                f"labels miss (on average {100 * share:.1f}% of such a photo ignored)")


def _disc(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def rewrite_mask(subject: np.ndarray, teacher_person: np.ndarray, band: int = 2
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 class ids: 0 background, 1 subject, 255 ignore; bool mask of the other people
    ignored) from the labelled subject and the teacher's person pixels (bool, same shape)."""
    import cv2

    label = subject.astype(np.uint8)
    near_subject = cv2.dilate(label, _disc(SUBJECT_MARGIN)) > 0
    count, components = cv2.connectedComponents(teacher_person.astype(np.uint8))
    others = np.zeros_like(subject, dtype=bool)
    for index in range(1, count):
        part = components == index
        if part.sum() >= MIN_PERSON_PIXELS and not (part & near_subject).any():
            others |= part
    if others.any():
        others = cv2.dilate(others.astype(np.uint8), _disc(PERSON_MARGIN)) > 0
    if band > 0:
        edge = (cv2.dilate(label, _disc(band)) - cv2.erode(label, _disc(band))) > 0
        label[edge] = 255
    others &= ~subject
    label[others] = 255
    return label, others


def rewrite_folder(source: str | os.PathLike, destination: str | os.PathLike,
                   teacher: Callable[[np.ndarray], np.ndarray], *, band: int = 2,
                   progress: bool = True) -> Summary:
    """Write ``destination/masks/<stem>.png`` for every pair of the folder data set at
    ``source``; ``destination/images`` links to the source's photos. Refuses an existing
    ``destination`` (nothing is overwritten)."""
    import cv2

    source, destination = Path(source).resolve(), Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} exists; choose a new folder (nothing is "
                              "overwritten)")
    pairs = list_folder_pairs(source)
    partial = destination.with_name(destination.name + ".partial")
    (partial / "masks").mkdir(parents=True, exist_ok=False)
    summary = Summary()
    for example in progress_bar(pairs.values(), total=len(pairs), desc="masks", unit="photo",
                                enabled=progress):
        image = read_rgb(example.image_path)
        mask = cv2.imread(example.mask_path, cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise ValueError(f"cannot read the mask {example.mask_path}")
        if mask.shape != image.shape[:2]:
            mask = cv2.resize(mask, (image.shape[1], image.shape[0]),
                              interpolation=cv2.INTER_NEAREST)
        subject = mask >= 128 if mask.max() > 1 else mask == 1
        label, others = rewrite_mask(subject, teacher(image), band)
        if others.any():
            summary.with_other_people += 1
            summary.ignored_fraction += float(others.mean())
        cv2.imwrite(str(partial / "masks" / f"{example.stem}.png"), label)
        summary.photos += 1
    os.symlink(source / "images", partial / "images", target_is_directory=True)
    partial.rename(destination)
    return summary
