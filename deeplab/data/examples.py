"""The steps every data source shares: map parallelism, each worker's shard, and the finished
example (mask matched to the photo, binary masks to class ids, optional shrink)."""

from __future__ import annotations

import tensorflow as tf

from deeplab.data import masks as mask_ops
from deeplab.data.config import DataConfig


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
