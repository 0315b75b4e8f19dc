"""tf.data pipelines for training and evaluation, over any source in :class:`DataConfig`.

Every source yields decoded examples ``{"image": uint8 [H, W, 3], "label": uint8 [H, W, 1]}``
with the label already at the photo's size and in class ids. Training then caches the decoded
examples, shuffles, repeats, augments in parallel, batches and prefetches, so decoding happens
once and the augmentation runs ahead of the model.
"""

from __future__ import annotations

import tensorflow as tf

from deeplab.data import masks as mask_ops
from deeplab.data.augment import augment_example
from deeplab.data.config import DataConfig
from deeplab.preprocessing import to_model_range


def parallel_calls(config: DataConfig) -> int:
    """``num_parallel_calls`` of the pipelines' maps: ``data.parallel_calls``, < 0 = AUTOTUNE."""
    return tf.data.AUTOTUNE if config.parallel_calls < 0 else config.parallel_calls


def shard_for_worker(ds: tf.data.Dataset,
                     input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    """This input pipeline's share of the examples under a multi-worker strategy."""
    if input_context is not None and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds


def shrink_to_max_side(image: tf.Tensor, label: tf.Tensor, max_side: int):
    """Downscale so the longer side is at most ``max_side`` (image area-averaged, label
    nearest); smaller examples pass unchanged."""
    shape = tf.shape(image)[:2]
    longer = tf.reduce_max(shape)

    def shrink():
        scale = tf.cast(max_side, tf.float32) / tf.cast(longer, tf.float32)
        size = tf.maximum(tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32), 1)
        small = tf.image.resize(image, size, method="area", antialias=True)
        small = tf.cast(tf.clip_by_value(tf.round(small), 0, 255), tf.uint8)
        return small, mask_ops.resize_mask_nearest(label, size[0], size[1])

    return tf.cond(longer > max_side, shrink, lambda: (image, label))


def finish_example(image: tf.Tensor, label: tf.Tensor, binary: bool,
                   max_side: int | None) -> dict[str, tf.Tensor]:
    """Mask matched to the photo (nearest), 0/255 -> 0/1 when binary, optional shrink."""
    image = tf.ensure_shape(tf.cast(image, tf.uint8), [None, None, 3])
    label = tf.ensure_shape(tf.cast(label, tf.uint8), [None, None, 1])
    label = mask_ops.match_mask_to_image(image, label)
    if binary:
        label = mask_ops.binary_to_ids(label)
    if max_side:
        image, label = shrink_to_max_side(image, label, max_side)
    return {"image": image, "label": label}


def folder_source(config: DataConfig, split: str,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Decoded examples of a folder data set split."""
    from deeplab.data.folder import folder_examples

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
        from deeplab.data.tfds_adapters import tfds_source

        return tfds_source(config, split, input_context)
    if config.kind == "voc":
        from deeplab.data.voc import voc_source

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
