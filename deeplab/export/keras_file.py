"""The ``keras`` format: a ``.keras`` file (weights, architecture and typed config), reloaded in
safe mode as the Keras runtime, which must give the same labels."""

from __future__ import annotations

from pathlib import Path

import keras

from deeplab.config import ModelConfig
from deeplab.export.formats import WriteOptions
from deeplab.model import save_model
from deeplab.runtimes.keras import Segmenter


def write(model: keras.Model, config: ModelConfig, path: Path, options: WriteOptions) -> None:
    save_model(model, config, path)


def open_runtime(path: Path, config: ModelConfig) -> Segmenter:
    """The reloaded model as built (no rewrites), so its labels can equal the original's."""
    runtime = Segmenter.from_file(path, optimize=False)
    if runtime.config != config:
        raise ValueError(f"config changed in the round trip: {runtime.config} vs {config}")
    return runtime
