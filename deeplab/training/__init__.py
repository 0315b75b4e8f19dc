"""Fine-tuning: experiment config, losses, schedules, metrics, evaluation, the training loop."""

from deeplab.training.config import ExperimentConfig, load_experiment
from deeplab.training.run_folder import is_run_folder, load_run_model

__all__ = ["ExperimentConfig", "load_experiment", "is_run_folder", "load_run_model"]
