"""Folder data set: layout, splits, mask encodings, nearest-neighbour mask matching, pipelines."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplab.data.config import AugmentConfig, DataConfig
from deeplab.data.folder import folder_examples, split_stems
from deeplab.data.masks import detect_mask_encoding
from deeplab.data.pipeline import eval_dataset, source_dataset, train_dataset
from data_fixtures import write_folder_dataset


def test_fraction_split_is_disjoint_complete_and_seeded():
    stems = [f"s{i}" for i in range(58)]
    train = split_stems(stems, "train", 0.2, seed=0)
    val = split_stems(stems, "val", 0.2, seed=0)
    assert len(val) == 12 and len(train) == 46
    assert set(train) | set(val) == set(stems) and not set(train) & set(val)
    assert split_stems(stems, "val", 0.2, seed=0) == val
    assert split_stems(stems, "val", 0.2, seed=1) != val


def test_list_files_define_the_split(tmp_path):
    root = write_folder_dataset(tmp_path / "ds", count=4)
    (root / "train.txt").write_text("img00\nimg02.png\n")
    examples = folder_examples(root, "train")
    assert [e.stem for e in examples] == ["img00", "img02"]
    (root / "val.txt").write_text("img01\nmissing\n")
    with pytest.raises(ValueError, match="missing"):
        folder_examples(root, "val")


def test_bad_layout_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="images/"):
        folder_examples(tmp_path, "train")


def test_mask_encoding_detection(tmp_path):
    binary = write_folder_dataset(tmp_path / "b", count=2, binary=True)
    ids = write_folder_dataset(tmp_path / "i", count=2, binary=False)
    assert detect_mask_encoding((binary / "masks").glob("*.png")) == "binary"
    assert detect_mask_encoding((ids / "masks").glob("*.png")) == "class_ids"


def test_binary_masks_become_0_1_and_small_masks_are_resized_nearest(tmp_path):
    root = write_folder_dataset(tmp_path / "ds", count=3, mask_scale=0.5)
    config = DataConfig(root=str(root), val_fraction=0.0)
    for example in source_dataset(config, "train").as_numpy_iterator():
        assert example["label"].shape[:2] == example["image"].shape[:2]
        assert set(np.unique(example["label"])) <= {0, 1}
        assert 1 in np.unique(example["label"])


def test_class_id_masks_keep_ignore(tmp_path):
    root = write_folder_dataset(tmp_path / "ds", count=2, binary=False)
    config = DataConfig(root=str(root), val_fraction=0.0)
    labels = np.concatenate([e["label"].ravel()
                             for e in source_dataset(config, "train").as_numpy_iterator()])
    assert set(np.unique(labels)) == {0, 1, 255}


def test_train_batches_have_crop_shape_and_model_range(tmp_path):
    root = write_folder_dataset(tmp_path / "ds", count=5)
    config = DataConfig(root=str(root), val_fraction=0.2, augment=AugmentConfig(crop_size=33))
    images, labels = next(iter(train_dataset(config, batch_size=2, seed=1)))
    assert images.shape == (2, 33, 33, 3) and labels.shape == (2, 33, 33, 1)
    assert images.dtype.name == "float32" and -1.0 <= float(images.numpy().min())
    assert float(images.numpy().max()) <= 1.0
    assert set(np.unique(labels)) <= {0, 1, 255}
    val = list(eval_dataset(config).as_numpy_iterator())
    assert len(val) == 1 and val[0]["image"].dtype == np.uint8


def test_colour_and_16_bit_masks_are_refused_not_misread(tmp_path):
    from deeplab.image_files import read_mask

    root = write_folder_dataset(tmp_path / "ds", count=2, binary=False)
    colour = root / "masks" / "img00.png"
    cv2.imwrite(str(colour), np.dstack([cv2.imread(str(colour), cv2.IMREAD_UNCHANGED)] * 3))
    with pytest.raises(ValueError, match="3 channels"):
        read_mask(colour)
    with pytest.raises(ValueError, match="single-channel"):
        detect_mask_encoding([colour])
    config = DataConfig(root=str(root), val_fraction=0.0, mask_encoding="class_ids")
    with pytest.raises(Exception, match="single-channel"):  # the tf.data path refuses it too
        list(source_dataset(config, "train").as_numpy_iterator())
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), np.full((4, 4), 300, np.uint16))
    with pytest.raises(ValueError, match="8-bit"):
        read_mask(deep)
