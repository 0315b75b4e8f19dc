"""Fine-tuning: experiment config, losses, schedules, metrics, evaluation, the training loop.

Run folders are read back by :mod:`deeplab.weights.run_folder` (a weights source like any
other)."""

from deeplab.training.config import ExperimentConfig, load_experiment

__all__ = ["ExperimentConfig", "load_experiment"]
