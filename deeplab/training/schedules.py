"""Learning-rate schedule and optimizer of the original recipe (poly decay, momentum 0.9)."""

from __future__ import annotations

import keras
import tensorflow as tf

from deeplab.training.config import ScheduleConfig


@keras.saving.register_keras_serializable(package="deeplab")
class PolyWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """``(base - end) * (1 - step / decay_steps) ** power + end`` after a linear warm-up.

    During the first ``warmup_steps`` the rate climbs linearly from ``warmup_start_factor *
    base`` to the poly value at the end of the warm-up; from ``decay_steps`` on it stays at
    ``end``.
    """

    def __init__(self, base_learning_rate: float, decay_steps: int, power: float = 0.9,
                 end_learning_rate: float = 0.0, warmup_steps: int = 0,
                 warmup_start_factor: float = 0.1):
        self.base_learning_rate = float(base_learning_rate)
        self.decay_steps = max(int(decay_steps), 1)
        self.power = float(power)
        self.end_learning_rate = float(end_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.warmup_start_factor = float(warmup_start_factor)

    def poly(self, step):
        progress = tf.minimum(step / self.decay_steps, 1.0)
        span = self.base_learning_rate - self.end_learning_rate
        return span * (1.0 - progress) ** self.power + self.end_learning_rate

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        rate = self.poly(step)
        if self.warmup_steps > 0:
            ramp = tf.minimum(step / self.warmup_steps, 1.0)
            start = self.warmup_start_factor * self.base_learning_rate
            target = self.poly(tf.constant(float(self.warmup_steps)))
            rate = tf.where(step < self.warmup_steps, start + (target - start) * ramp, rate)
        return rate

    def get_config(self):
        return {"base_learning_rate": self.base_learning_rate, "decay_steps": self.decay_steps,
                "power": self.power, "end_learning_rate": self.end_learning_rate,
                "warmup_steps": self.warmup_steps,
                "warmup_start_factor": self.warmup_start_factor}


def make_schedule(config: ScheduleConfig) -> PolyWithWarmup:
    """The learning-rate schedule of ``config`` over ``config.steps`` steps."""
    return PolyWithWarmup(config.learning_rate, config.steps, config.power,
                          config.end_learning_rate, config.warmup_steps,
                          config.warmup_start_factor)


def make_optimizer(config: ScheduleConfig,
                   precision: str = "float32") -> keras.optimizers.Optimizer:
    """SGD with momentum (the original) or Adam, on the poly schedule.

    Weight decay is not the optimizer's: it is the L2 term added to the loss
    (:func:`deeplab.training.losses.l2_regularization`), as in the original.
    ``mixed_float16`` wraps the optimizer with dynamic loss scaling.
    """
    schedule = make_schedule(config)
    clip = {"global_clipnorm": config.gradient_clip_norm} if config.gradient_clip_norm else {}
    if config.optimizer == "momentum":
        optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum, **clip)
    else:
        optimizer = keras.optimizers.Adam(schedule, epsilon=config.adam_epsilon, **clip)
    if precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
