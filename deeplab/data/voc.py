"""PASCAL VOC 2012 (+ SBD for ``train_aug``) from a manual download folder.

Expected under ``data.root`` (the archives extracted as they come)::

    VOCdevkit/VOC2012/JPEGImages/*.jpg
    VOCdevkit/VOC2012/SegmentationClass/*.png          palette PNGs (colour = class)
    VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt
    benchmark_RELEASE/dataset/cls/*.mat + train.txt, val.txt   (SBD, only for train_aug)
    SegmentationClassAug/*.png   optional: the common grey-level conversion of SBD + VOC

Splits: ``train``, ``val``, ``trainval`` from VOC's lists; ``train_aug`` = SBD train + val + VOC
train, without any VOC val image (10,582 images, the set the official checkpoints used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from deeplab.data.config import IGNORE_LABEL, DataConfig
from deeplab.data.examples import finish_example, parallel_calls, shard_for_worker
from deeplab.palette import voc_colormap

VOC_NUM_CLASSES = 21


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (see deeplab/data/voc.py for the layout)")
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def voc_split_stems(root: Path, split: str) -> list[str]:
    """Image ids of a split (``train_aug`` merges SBD and removes VOC val)."""
    voc = root / "VOCdevkit" / "VOC2012"
    lists = voc / "ImageSets" / "Segmentation"
    if split in ("train", "val", "trainval"):
        return _read_list(lists / f"{split}.txt")
    if split == "train_aug":
        sbd = root / "benchmark_RELEASE" / "dataset"
        val = set(_read_list(lists / "val.txt"))
        merged = dict.fromkeys(_read_list(sbd / "train.txt") + _read_list(sbd / "val.txt")
                               + _read_list(lists / "train.txt"))
        return [s for s in merged if s not in val]
    raise ValueError(f"unknown VOC split {split!r}: train, val, trainval or train_aug")


def palette_rgb_to_ids(rgb: tf.Tensor) -> tf.Tensor:
    """A VOC palette mask decoded as RGB -> class ids (the border colour -> 255)."""
    colors = voc_colormap().astype(np.int64)
    keys = colors[:, 0] * 65536 + colors[:, 1] * 256 + colors[:, 2]
    used = list(range(VOC_NUM_CLASSES)) + [IGNORE_LABEL]
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys[used]), tf.constant(used, tf.int64)),
        default_value=IGNORE_LABEL)
    rgb = tf.cast(rgb, tf.int64)
    ids = table.lookup(rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2])
    return tf.cast(ids, tf.uint8)[..., tf.newaxis]


def _sbd_mat_to_ids(path: bytes) -> np.ndarray:
    try:
        from scipy.io import loadmat
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("reading SBD .mat labels needs scipy (pip install scipy), or provide "
                          "SegmentationClassAug/ PNGs") from error
    mat = loadmat(path.decode())
    return mat["GTcls"][0]["Segmentation"][0].astype(np.uint8)[..., None]


def voc_label_path(root: Path, stem: str) -> tuple[str, str]:
    """(path, kind) of a label: grey-level ``aug`` PNG, VOC ``palette`` PNG or SBD ``mat``."""
    aug = root / "SegmentationClassAug" / f"{stem}.png"
    if aug.is_file():
        return str(aug), "aug"
    palette = root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / f"{stem}.png"
    if palette.is_file():
        return str(palette), "palette"
    mat = root / "benchmark_RELEASE" / "dataset" / "cls" / f"{stem}.mat"
    if mat.is_file():
        return str(mat), "mat"
    raise FileNotFoundError(f"no label for VOC image {stem} under {root}")


def voc_source(config: DataConfig, split: str,
               input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Decoded examples of a VOC / SBD split."""
    if not config.root:
        raise ValueError("data.kind 'voc' needs data.root: the folder holding VOCdevkit/")
    root = Path(config.root)
    stems = voc_split_stems(root, split)
    images, labels, kinds = [], [], []
    for stem in stems:
        path, kind = voc_label_path(root, stem)
        images.append(str(root / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{stem}.jpg"))
        labels.append(path)
        kinds.append(kind)
    ds = tf.data.Dataset.from_tensor_slices((images, labels, kinds))
    ds = shard_for_worker(ds, input_context)

    def load(image_path, label_path, kind):
        image = tf.io.decode_jpeg(tf.io.read_file(image_path), channels=3)

        def from_png(channels):
            return tf.io.decode_png(tf.io.read_file(label_path), channels=channels)

        def from_mat():
            label = tf.numpy_function(_sbd_mat_to_ids, [label_path], tf.uint8)
            return tf.ensure_shape(label, [None, None, 1])

        label = tf.case([(tf.equal(kind, "aug"), lambda: tf.cast(from_png(1), tf.uint8)),
                         (tf.equal(kind, "palette"), lambda: palette_rgb_to_ids(from_png(3)))],
                        default=from_mat)
        return finish_example(image, label, False, config.max_image_side)

    return ds.map(load, num_parallel_calls=parallel_calls(config))
