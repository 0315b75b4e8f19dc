"""Export as a ``.keras`` file (weights, architecture and typed config), checked after writing."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from deeplab.config import ModelConfig
from deeplab.export.saved_model import keras_reference
from deeplab.export.verify import KERAS_FILE_MIN_AGREEMENT, Agreement, atomic_output, check
from deeplab.model import load_model, save_model


def export_keras(model: keras.Model, config: ModelConfig, output: str | os.PathLike, *,
                 images: Sequence, min_agreement: float | None = None,
                 overwrite: bool = False) -> Agreement:
    """Write ``output`` (must end in ``.keras``) with :func:`deeplab.model.save_model`, reload it
    in safe mode and require (by default) identical labels on ``images``."""
    if not str(output).endswith(".keras"):
        raise ValueError(f"--format keras writes a .keras file; got --output {output}")
    if min_agreement is None:
        min_agreement = KERAS_FILE_MIN_AGREEMENT
    reference = keras_reference(model, config.crop_size)
    with atomic_output(output, directory=False, overwrite=overwrite) as temporary:
        save_model(model, config, temporary)
        reloaded, reloaded_config = load_model(temporary)
        if reloaded_config != config:
            raise ValueError(f"config changed in the round trip: {reloaded_config} vs {config}")
        ours = keras_reference(reloaded, reloaded_config.crop_size)
        agreement = Agreement()
        for name, image in images:
            labels, probabilities = ours(image)
            expected_labels, expected_probabilities = reference(image)
            agreement.add(name, labels, expected_labels)
            agreement.add_probabilities(probabilities, expected_probabilities)
        check(agreement, min_agreement, f"Keras file {output}")
        return agreement
