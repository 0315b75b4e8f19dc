"""PASCAL VOC 2012 + SBD layout: palette PNGs decode to class ids, train_aug excludes val."""

from __future__ import annotations

import numpy as np
from PIL import Image

from deeplab.data.config import DataConfig
from deeplab.data.pipeline import source_dataset
from deeplab.data.voc import voc_split_stems
from deeplab.palette import voc_colormap


def _write_voc(root, rng):
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    sbd = root / "benchmark_RELEASE" / "dataset"
    sbd.mkdir(parents=True)
    labels = {}
    for stem in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(
            voc / "JPEGImages" / f"{stem}.jpg")
        ids = rng.choice(np.array([0, 5, 15, 255], np.uint8), size=(12, 16))
        palette_png = Image.fromarray(ids, mode="P")
        palette_png.putpalette(voc_colormap().reshape(-1).tolist())
        palette_png.save(voc / "SegmentationClass" / f"{stem}.png")
        labels[stem] = ids
    (voc / "ImageSets/Segmentation/train.txt").write_text("a\nb\n")
    (voc / "ImageSets/Segmentation/val.txt").write_text("c\n")
    (sbd / "train.txt").write_text("b\nc\n")
    (sbd / "val.txt").write_text("a\n")
    return labels


def test_voc_palette_labels_and_splits(tmp_path, rng):
    labels = _write_voc(tmp_path, rng)
    assert voc_split_stems(tmp_path, "train_aug") == ["b", "a"]  # c is VOC val: excluded
    config = DataConfig(kind="voc", root=str(tmp_path))
    decoded = list(source_dataset(config, "train").as_numpy_iterator())
    assert len(decoded) == 2
    for stem, example in zip(("a", "b"), decoded):
        np.testing.assert_array_equal(example["label"][..., 0], labels[stem])
