"""TFDS: the folder builder builds and reads offline; person adapters on mocked COCO / ADE20K."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from deeplab.data.config import DataConfig
from deeplab.data.folder import folder_examples
from deeplab.data.pipeline import source_dataset
from deeplab.data.tfds_adapters import (coco_panoptic_person_example,
                                        scene_parse150_person_example)
from deeplab.data.tfds_folder import build_folder_dataset
from data_fixtures import write_folder_dataset


def test_folder_builder_builds_offline_and_reads_back(tmp_path):
    root = write_folder_dataset(tmp_path / "ds", count=5, mask_scale=0.5)
    builder = build_folder_dataset(root, tmp_path / "tfds")
    assert set(builder.info.splits.keys()) == {"train", "val"}
    assert builder.info.splits["val"].num_examples == len(folder_examples(root, "val"))
    assert list((tmp_path / "tfds" / "deeplab_folder").rglob("*.tfrecord*"))
    config = DataConfig(kind="tfds", tfds_name="deeplab_folder",
                        tfds_data_dir=str(tmp_path / "tfds"))
    from_tfds = {}
    for example in source_dataset(config, "train").as_numpy_iterator():
        assert example["label"].shape[:2] == example["image"].shape[:2]
        from_tfds[example["image"].tobytes()] = example["label"]
    # Same examples and the same labels as reading the folder directly.
    direct = DataConfig(kind="folder", root=str(root))
    for example in source_dataset(direct, "train").as_numpy_iterator():
        np.testing.assert_array_equal(from_tfds[example["image"].tobytes()], example["label"])
    assert len(from_tfds) == builder.info.splits["train"].num_examples


def test_coco_panoptic_adapter_with_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=2, policy=tfds.testing.MockPolicy.USE_CODE):
        config = DataConfig(kind="tfds", tfds_name="coco/2017_panoptic", train_split="train")
        examples = list(source_dataset(config, "train").take(2).as_numpy_iterator())
    assert len(examples) == 2
    for example in examples:
        assert example["label"].shape[:2] == example["image"].shape[:2]
        assert set(np.unique(example["label"])) <= {0, 1, 255}


def test_coco_panoptic_person_mask_is_exact():
    """Segment ids from RGB; person (label 0) -> 1, crowd person and void -> 255, rest -> 0."""
    ids = np.array([[0, 5, 5], [7, 9, 9]])
    rgb = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], -1).astype(np.uint8)
    example = {
        "image": tf.zeros([2, 3, 3], tf.uint8),
        "panoptic_image": tf.constant(rgb),
        "panoptic_objects": {"id": tf.constant([5, 7, 9], tf.int64),
                             "label": tf.constant([0, 3, 0], tf.int64),
                             "is_crowd": tf.constant([False, False, True])},
    }
    _, label = coco_panoptic_person_example(example)
    np.testing.assert_array_equal(label.numpy()[..., 0], [[255, 1, 1], [0, 255, 255]])


def test_scene_parse150_adapter_with_mock_data():
    with tfds.testing.mock_data(num_examples=2, policy=tfds.testing.MockPolicy.USE_CODE):
        config = DataConfig(kind="tfds", tfds_name="scene_parse150")
        examples = list(source_dataset(config, "train").take(2).as_numpy_iterator())
    assert len(examples) == 2
    for example in examples:
        assert example["label"].shape[:2] == example["image"].shape[:2]
        assert set(np.unique(example["label"])) <= {0, 1}
    annotation = np.zeros([2, 2, 3], np.uint8)
    annotation[0, 1, 0] = 4  # person category of the instance annotations
    annotation[1, 1, 0] = 13
    _, label = scene_parse150_person_example({"image": tf.zeros([2, 2, 3], tf.uint8),
                                              "annotation": tf.constant(annotation)})
    np.testing.assert_array_equal(label.numpy()[..., 0], [[0, 1], [0, 0]])
