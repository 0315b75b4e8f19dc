"""tf.data pipelines for training and evaluation, over any source in :class:`DataConfig`.

Every source yields decoded examples ``{"image": uint8 [H, W, 3], "label": uint8 [H, W, 1]}``
with the label already at the photo's size and in class ids. Training then caches the decoded
examples, shuffles, repeats, augments in parallel, batches and prefetches, so decoding happens
once and the augmentation runs ahead of the model.
"""

from __future__ import annotations

import tensorflow as tf

from deeplab.contract_tf import to_model_range
from deeplab.data import masks as mask_ops
from deeplab.data.augment import augment_example
from deeplab.data.config import DataConfig
from deeplab.data.examples import finish_example, parallel_calls, shard_for_worker
from deeplab.data.folder import folder_examples
from deeplab.data.tfds_adapters import tfds_source
from deeplab.data.voc import voc_source


def folder_source(config: DataConfig, split: str,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Decoded examples of a folder data set split."""
    examples = folder_examples(config.root, split, config.val_fraction, config.split_seed)
    encoding = config.mask_encoding
    if encoding == "auto":
        encoding = mask_ops.detect_mask_encoding([e.mask_path for e in examples])
    images = [e.image_path for e in examples]
    masks = [e.mask_path for e in examples]
    ds = tf.data.Dataset.from_tensor_slices((images, masks))
    ds = shard_for_worker(ds, input_context)

    def load(image_path, mask_path):
        image = tf.io.decode_image(tf.io.read_file(image_path), channels=3,
                                   expand_animations=False)
        label = mask_ops.decode_mask(tf.io.read_file(mask_path))
        return finish_example(image, label, encoding == "binary", config.max_image_side)

    return ds.map(load, num_parallel_calls=parallel_calls(config))


def source_dataset(config: DataConfig, split: str,
                   input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Decoded ``{"image", "label"}`` examples of one split of the configured source."""
    if config.kind == "folder":
        if not config.root:
            raise ValueError("data.kind 'folder' needs data.root (or train.py --data DIR)")
        return folder_source(config, split, input_context)
    if config.kind == "tfds":
        return tfds_source(config, split, input_context)
    if config.kind == "voc":
        return voc_source(config, split, input_context)
    raise ValueError(f"unknown data kind {config.kind!r}")


def train_dataset(config: DataConfig, batch_size: int, seed: int | None = None,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Endless batches ``(images float32 [B, S, S, 3] in [-1, 1], labels uint8 [B, S, S, 1])``.

    ``batch_size`` is the batch of this input pipeline (per replica group under a strategy).
    """
    ds = source_dataset(config, config.train_split, input_context)
    if config.cache:
        ds = ds.cache()
    ds = ds.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()

    def augment(example):
        image, label = augment_example(example["image"], example["label"], config.augment)
        return to_model_range(image), label

    ds = ds.map(augment, num_parallel_calls=parallel_calls(config), deterministic=seed is not None)
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE if config.prefetch < 0 else config.prefetch)


def eval_dataset(config: DataConfig, split: str | None = None) -> tf.data.Dataset:
    """Unbatched, unaugmented decoded examples (uint8 image, uint8 label at the photo's size)."""
    ds = source_dataset(config, split or config.eval_split)
    if config.max_eval_examples:
        ds = ds.take(config.max_eval_examples)
    return ds.prefetch(tf.data.AUTOTUNE)
