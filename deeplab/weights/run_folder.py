"""A training run folder as a weights source: ``export.py --weights RUN_DIR`` and ``infer.py``.

The one place that knows what a run folder holds (training writes it with these names).
``is_run_folder(path)`` says whether ``path`` is a complete one, ``is_training_run(path)``
whether it looks like one (loose on purpose: a damaged run folder still goes to the loader, whose
error says what is missing); ``load_run_model(path)`` rebuilds the network from its
``model_config.json`` and restores the newest checkpoint that actually reads (a truncated or
corrupt newer one is skipped, and logged as a warning), falling back to the final
``model.keras`` when no checkpoint restores or they are gone.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from deeplab.config import ModelConfig
from deeplab.weights.run_checkpoints import (NoRestorableCheckpoint, checkpoints_on_disk,
                                             describe_skipped, newest_restorable)

if TYPE_CHECKING:
    import keras

EXPERIMENT_FILE = "experiment.yaml"
MODEL_CONFIG_FILE = "model_config.json"
CHECKPOINT_DIR = "checkpoints"
HISTORY_FILE = "history.jsonl"
EVAL_FILE = "eval.jsonl"
MODEL_FILE = "model.keras"
#: Any of these makes a folder look like a training run (:func:`is_training_run`).
RUN_MARKERS = (MODEL_CONFIG_FILE, CHECKPOINT_DIR)

log = logging.getLogger(__name__)


def read_model_config(path: str | os.PathLike) -> ModelConfig | None:
    """The run's ModelConfig, or None when the folder has none yet."""
    config_path = Path(path) / MODEL_CONFIG_FILE
    if not config_path.is_file():
        return None
    try:
        return ModelConfig.from_json(config_path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, OSError) as error:  # JSONDecodeError is a ValueError
        raise ValueError(f"{config_path} is damaged ({type(error).__name__}: {error}); it is "
                         f"written by train.py and describes the network of the run") from None


def latest_checkpoint(path: str | os.PathLike) -> str | None:
    """Prefix of the run's newest checkpoint on disk (``checkpoints/ckpt-<step>``), or None;
    whether it restores is :func:`load_run_model`'s business."""
    found = checkpoints_on_disk(Path(path) / CHECKPOINT_DIR)
    return found[0].prefix if found else None


def is_run_folder(path: str | os.PathLike) -> bool:
    """A folder written by ``train.py``: a model config plus checkpoint files or a final model
    (the ``checkpoint`` list file is not needed: it may be the damaged part)."""
    path = Path(path)
    if not path.is_dir() or not (path / MODEL_CONFIG_FILE).is_file():
        return False
    return bool(checkpoints_on_disk(path / CHECKPOINT_DIR)) or (path / MODEL_FILE).is_file()


def is_training_run(path: str | os.PathLike) -> bool:
    """A folder that has any of :data:`RUN_MARKERS`: complete or damaged, a run folder."""
    path = Path(path)
    return path.is_dir() and any((path / marker).exists() for marker in RUN_MARKERS)


def load_run_model(path: str | os.PathLike, output_stride: int | None = None
                   ) -> tuple[keras.Model, ModelConfig]:
    """(model, config) of a run folder, with the weights of its newest checkpoint that restores
    (skipped ones are logged as warnings), else of its ``model.keras``.

    ``output_stride`` rebuilds the network at another stride (same weights; ASPP rates scaled).
    """
    import tensorflow as tf

    from deeplab.model import build_deeplab, load_model, rebuild_at_output_stride

    path = Path(path)
    if not is_run_folder(path):
        raise ValueError(f"{path} is not a training run folder (expected {MODEL_CONFIG_FILE} and "
                         f"{CHECKPOINT_DIR}/ or {MODEL_FILE}, as train.py writes)")
    config = read_model_config(path)
    trained = build_deeplab(config)

    def restore(prefix: str) -> None:
        tf.train.Checkpoint(model=trained).restore(prefix).expect_partial() \
            .assert_existing_objects_matched()

    try:
        restored, skipped = newest_restorable(path / CHECKPOINT_DIR, restore)
    except NoRestorableCheckpoint as error:
        if not (path / MODEL_FILE).is_file():
            raise ValueError(f"{path}: {error}, and there is no {MODEL_FILE}") from None
        log.warning(f"{path}: {error}; using {MODEL_FILE} instead")
        restored, skipped = None, []
    for message in describe_skipped(skipped):
        log.warning(f"{path}: {message}")
    if restored is None:
        trained, config = load_model(path / MODEL_FILE)
    elif skipped:
        log.warning(f"{path}: using {Path(restored.prefix).name} (step {restored.step})")
    return rebuild_at_output_stride(trained, config, output_stride)
