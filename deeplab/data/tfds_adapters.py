"""Adapters from TFDS data sets to DeepLab examples ``{"image", "label"}``.

- ``deeplab_folder`` (this project's builder): masks are already class ids.
- ``coco/2017_panoptic``: person mask from the panoptic PNG (segment id = R + 256 G + 256^2 B)
  and the segments whose label is ``person`` (label 0 of the 133 panoptic classes); crowd person
  segments and unlabelled (id 0) pixels become 255 = ignore.
- ``scene_parse150``: TFDS ships the ADE20K instance annotations, whose red channel is the
  category of the 100 instance classes (``instanceInfo100``: person is 4); person pixels -> 1,
  everything else -> 0.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from deeplab.data.config import IGNORE_LABEL, DataConfig
from deeplab.data.examples import finish_example, parallel_calls

COCO_PANOPTIC_PERSON_LABEL = 0
ADE20K_INSTANCE_PERSON_CATEGORY = 4


def deeplab_folder_example(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """``deeplab_folder`` example -> (image, mask): its masks are class ids already."""
    return example["image"], example["segmentation_mask"]


def coco_panoptic_person_example(example: dict, person_label: int = COCO_PANOPTIC_PERSON_LABEL,
                                 crowd_as_ignore: bool = True, void_as_ignore: bool = True):
    """COCO panoptic example -> (image, person mask: 0 background, 1 person, 255 ignore)."""
    rgb = tf.cast(example["panoptic_image"], tf.int64)
    segment_ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    objects = example["panoptic_objects"]
    # The three sequences have one entry per segment (a common length guards mocked data).
    count = tf.reduce_min([tf.size(objects["id"]), tf.size(objects["label"]),
                           tf.size(objects["is_crowd"])])
    is_person = tf.equal(tf.cast(objects["label"][:count], tf.int64), person_label)
    is_crowd = tf.cast(objects["is_crowd"][:count], tf.bool)
    ids = tf.cast(objects["id"][:count], tf.int64)

    def member(selected):
        wanted = tf.boolean_mask(ids, selected)
        hits = tf.equal(segment_ids[..., tf.newaxis], wanted[tf.newaxis, tf.newaxis, :])
        return tf.reduce_any(hits, axis=-1)

    if crowd_as_ignore:
        person = member(is_person & ~is_crowd)
        ignore = member(is_person & is_crowd)
    else:
        person = member(is_person)
        ignore = tf.zeros_like(person)
    if void_as_ignore:
        ignore = ignore | tf.equal(segment_ids, 0)
    label = tf.where(ignore, tf.constant(IGNORE_LABEL, tf.uint8),
                     tf.cast(person, tf.uint8))
    return example["image"], label[..., tf.newaxis]


def scene_parse150_person_example(example: dict,
                                  person_category: int = ADE20K_INSTANCE_PERSON_CATEGORY):
    """scene_parse150 example -> (image, person mask 0/1) from the annotation's red channel."""
    category = tf.cast(example["annotation"][..., 0], tf.int32)
    label = tf.cast(tf.equal(category, person_category), tf.uint8)
    return example["image"], label[..., tf.newaxis]


ADAPTERS: dict[str, Callable[[dict], tuple[tf.Tensor, tf.Tensor]]] = {
    "deeplab_folder": deeplab_folder_example,
    "coco/2017_panoptic": coco_panoptic_person_example,
    "scene_parse150": scene_parse150_person_example,
}


def adapter_for(name: str) -> Callable[[dict], tuple[tf.Tensor, tf.Tensor]]:
    """The adapter of a TFDS name (a version suffix like ``:1.1.0`` is ignored)."""
    base = name.split(":")[0]
    if base not in ADAPTERS:
        raise ValueError(
            f"no DeepLab adapter for TFDS data set {name!r}; known: {sorted(ADAPTERS)}")
    return ADAPTERS[base]


def tfds_source(config: DataConfig, split: str,
                input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Decoded examples of a TFDS data set split through its person adapter."""
    import tensorflow_datasets as tfds

    if config.tfds_name.split(":")[0] == "deeplab_folder":
        import deeplab.data.tfds_folder  # noqa: F401  (registers the builder)
    adapter = adapter_for(config.tfds_name)
    read_config = tfds.ReadConfig(input_context=input_context) if input_context else None
    ds = tfds.load(config.tfds_name, split=split, data_dir=config.tfds_data_dir,
                   shuffle_files=False, read_config=read_config)

    def convert(example):
        image, label = adapter(example)
        return finish_example(image, label, False, config.max_image_side)

    return ds.map(convert, num_parallel_calls=parallel_calls(config))
