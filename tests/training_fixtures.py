"""Tiny training runs and a fixed fake model, shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import keras

TINY = ["model.architecture={backbone: mobilenet_v2, depth_multiplier: 0.5, num_classes: 2, "
        "output_stride: 16}"]


def tiny_overrides(data_root: Path, **extra) -> list[str]:
    values = {
        "data.root": str(data_root), "data.val_fraction": 0.25, "data.eval_longer_side": 48,
        "data.augment.crop_size": 33, "data.augment.min_scale": 0.75,
        "data.augment.max_scale": 1.25, "schedule.batch_size": 2, "schedule.steps": 20,
        "schedule.learning_rate": 0.02, "runtime.log_every_steps": 2,
        "runtime.checkpoint_every_steps": 2, "runtime.image_summary_every_steps": 4,
    }
    values.update(extra)
    return TINY + [f"{k}={v}" for k, v in values.items()]


class HalvesModel(keras.Model):
    """Logits at stride 4 that say class 1 on the left half of the input."""

    def call(self, x, training=False):
        left = keras.ops.cast(x[..., :1] < 0, "float32")
        pooled = keras.ops.average_pool(left, 4, 4, padding="same")
        return keras.ops.concatenate([-10 * pooled + 5, 10 * pooled - 5], axis=-1)
