"""The folder data set: ``images/`` + ``masks/`` with a split from list files or a fraction.

Layout::

    root/images/<stem>.jpg|.jpeg|.png|.bmp
    root/masks/<stem>.png          single-channel class ids (255 = ignore) or 0/255 binary
    root/train.txt, root/val.txt   optional: one stem (or file name) per line

Without list files, a seeded shuffle of the sorted stems puts the last ``val_fraction`` in
``val`` and the rest in ``train``; the same seed always gives the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeplab.image_files import TF_IMAGE_SUFFIXES

LIST_DIRS = (".", "lists", "splits", "ImageSets/Segmentation")


@dataclass(frozen=True)
class FolderExample:
    """One photo and its mask, paired by file stem."""

    stem: str
    image_path: str
    mask_path: str


def find_list_file(root: Path, split: str) -> Path | None:
    """``<root>/<split>.txt`` (or under lists/, splits/, ImageSets/Segmentation/), if present."""
    for sub in LIST_DIRS:
        candidate = root / sub / f"{split}.txt"
        if candidate.is_file():
            return candidate
    return None


def list_folder_pairs(root: str | Path) -> dict[str, FolderExample]:
    """Every stem that has both an image and a mask; raises when the layout is wrong."""
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} not found: a folder data set needs {root}/images/ and {root}/masks/")
    images = {p.stem: p for p in sorted(images_dir.iterdir())
              if p.suffix.lower() in TF_IMAGE_SUFFIXES and p.is_file()}
    masks = {p.stem: p for p in sorted(masks_dir.iterdir())
             if p.suffix.lower() == ".png" and p.is_file()}
    pairs = {stem: FolderExample(stem, str(images[stem]), str(masks[stem]))
             for stem in sorted(images) if stem in masks}
    if not pairs:
        raise ValueError(
            f"no image/mask pairs in {root}: expected images/<stem>.jpg|png with masks/<stem>.png "
            f"({len(images)} images, {len(masks)} masks found)")
    return pairs


def split_stems(stems: list[str], split: str, val_fraction: float, seed: int) -> list[str]:
    """The stems of ``train`` or ``val`` in a seeded fraction split (``all`` = everything)."""
    if split == "all":
        return sorted(stems)
    if split not in ("train", "val"):
        raise ValueError(f"split {split!r} has no list file; without one use train, val or all")
    order = sorted(stems)
    permutation = np.random.default_rng(seed).permutation(len(order))
    num_val = int(round(len(order) * val_fraction))
    if val_fraction > 0:
        num_val = max(num_val, 1)
    val = {order[i] for i in permutation[len(order) - num_val:]}
    return [s for s in order if (s in val) == (split == "val")]


def folder_examples(root: str | Path, split: str = "train", val_fraction: float = 0.2,
                    seed: int = 0) -> list[FolderExample]:
    """The examples of one split of a folder data set, in a stable order."""
    root = Path(root)
    pairs = list_folder_pairs(root)
    list_file = find_list_file(root, split)
    if list_file is None:
        stems = split_stems(list(pairs), split, val_fraction, seed)
    else:
        stems = [Path(line.split()[0]).stem for line in list_file.read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        missing = [s for s in stems if s not in pairs]
        if missing:
            raise ValueError(
                f"{list_file} names {len(missing)} examples without an image+mask pair, "
                f"e.g. {missing[:3]}")
    if not stems:
        raise ValueError(f"split {split!r} of {root} is empty")
    return [pairs[s] for s in stems]
