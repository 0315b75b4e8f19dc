"""TFDS builder for the folder layout, so ``tfds build`` caches a folder data set as TFRecords.

Build (offline; the folder is the "manual download")::

    tfds build deeplab/data/tfds_folder.py --manual_dir FOLDER --data_dir ~/tensorflow_datasets
    python -m deeplab.data.build_tfds --manual_dir FOLDER --data_dir ~/tensorflow_datasets

or from Python ``build_folder_dataset(folder, data_dir)``. Read it back with
``data.kind: tfds`` and ``data.tfds_name: deeplab_folder`` (importing this module registers it).
Splits come from the folder's list files (``train.txt``, ``val.txt``, ...) or, without them,
from a seeded 80/20 fraction split. Masks are stored as class ids at the photo's size: 0/255
binary masks become 0/1 and smaller masks are resized with nearest neighbour at build time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from deeplab.data.folder import LIST_DIRS, find_list_file, folder_examples, list_folder_pairs
from deeplab.data.masks import BINARY_THRESHOLD, detect_mask_encoding
from deeplab.image_files import read_mask, read_rgb

DEFAULT_SPLITS = ("train", "val")


class DeeplabFolder(tfds.core.GeneratorBasedBuilder):
    """Images + single-channel masks from a ``images/`` + ``masks/`` folder."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Folder layout images/ + masks/ with list files or 80/20 split."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Pass the folder that holds images/ and masks/ (and optional train.txt/val.txt) as "
        "--manual_dir.")
    VAL_FRACTION = 0.2
    SPLIT_SEED = 0

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "segmentation_mask": tfds.features.Image(shape=(None, None, 1),
                                                         encoding_format="png"),
                "file_name": tfds.features.Text(),
            }),
            supervised_keys=("image", "segmentation_mask"),
            description="A DeepLab folder data set (images/ + masks/).",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = Path(dl_manager.manual_dir)
        list_files = sorted({p.stem for sub in LIST_DIRS for p in (root / sub).glob("*.txt")})
        names = [n for n in list_files if find_list_file(root, n)] or list(DEFAULT_SPLITS)
        encoding = detect_mask_encoding(m.mask_path for m in list_folder_pairs(root).values())
        return {name: self._generate_examples(root, name, encoding) for name in names}

    def _generate_examples(self, root: Path, split: str, encoding: str):
        import cv2

        for example in folder_examples(root, split, self.VAL_FRACTION, self.SPLIT_SEED):
            # the stored pixel grid, as the folder pipeline (tf.io) reads it and masks are drawn
            image = read_rgb(example.image_path, apply_orientation=False)
            mask = read_mask(example.mask_path)
            if mask.shape != image.shape[:2]:  # class ids: nearest neighbour only
                mask = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
            if encoding == "binary":
                mask = (mask >= BINARY_THRESHOLD).astype(np.uint8)
            yield example.stem, {
                "image": image,
                "segmentation_mask": mask[..., None],
                "file_name": Path(example.image_path).name,
            }


def build_folder_dataset(folder: str | Path, data_dir: str | Path) -> DeeplabFolder:
    """Build (or reuse) the TFRecord cache of a folder data set under ``data_dir``."""
    builder = DeeplabFolder(data_dir=str(data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(folder)))
    return builder

