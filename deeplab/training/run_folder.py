"""A training run folder as a weights source: ``export.py --weights RUN_DIR`` and ``infer.py``.

``is_run_folder(path)`` says whether ``path`` is one; ``load_run_model(path)`` rebuilds the
network from its ``model_config.json`` and restores the latest checkpoint's weights (falling back
to the final ``model.keras`` when the checkpoints are gone).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from deeplab.config import ModelConfig

if TYPE_CHECKING:
    import keras

EXPERIMENT_FILE = "experiment.yaml"
MODEL_CONFIG_FILE = "model_config.json"
CHECKPOINT_DIR = "checkpoints"
HISTORY_FILE = "history.jsonl"
EVAL_FILE = "eval.jsonl"
MODEL_FILE = "model.keras"


def read_model_config(path: str | os.PathLike) -> ModelConfig | None:
    """The run's ModelConfig, or None when the folder has none yet."""
    config_path = Path(path) / MODEL_CONFIG_FILE
    if not config_path.is_file():
        return None
    return ModelConfig.from_json(config_path.read_text())


def latest_checkpoint(path: str | os.PathLike) -> str | None:
    """Prefix of the run's newest checkpoint (``checkpoints/ckpt-<step>``), or None."""
    import tensorflow as tf

    directory = Path(path) / CHECKPOINT_DIR
    return tf.train.latest_checkpoint(str(directory)) if directory.is_dir() else None


def is_run_folder(path: str | os.PathLike) -> bool:
    """A folder written by ``train.py``: a model config plus a checkpoint or a final model."""
    path = Path(path)
    if not path.is_dir() or not (path / MODEL_CONFIG_FILE).is_file():
        return False
    return (path / CHECKPOINT_DIR / "checkpoint").is_file() or (path / MODEL_FILE).is_file()


def load_run_model(path: str | os.PathLike, output_stride: int | None = None
                   ) -> tuple[keras.Model, ModelConfig]:
    """(model, config) of a run folder, with the weights of its latest checkpoint.

    ``output_stride`` rebuilds the network at another stride (same weights; ASPP rates scaled).
    """
    import tensorflow as tf

    from deeplab.model import build_deeplab, load_model, rebuild_at_output_stride

    path = Path(path)
    if not is_run_folder(path):
        raise ValueError(f"{path} is not a training run folder (expected {MODEL_CONFIG_FILE} and "
                         f"{CHECKPOINT_DIR}/ or {MODEL_FILE}, as train.py writes)")
    config = read_model_config(path)
    checkpoint = latest_checkpoint(path)
    if checkpoint is None:
        trained, config = load_model(path / MODEL_FILE)
    else:
        trained = build_deeplab(config)
        tf.train.Checkpoint(model=trained).restore(checkpoint).expect_partial() \
            .assert_existing_objects_matched()
    return rebuild_at_output_stride(trained, config, output_stride)
