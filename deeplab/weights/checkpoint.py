"""Reading TF1 checkpoints of the original DeepLab into ``{variable name: ndarray}``.

The releases' checkpoints hold the model variables under their TF1 scope names
(``MobilenetV2/Conv/weights``) plus training state that inference never needs: ``global_step``,
the ``<var>/Momentum`` slots of the SGD optimizer, and in other training setups Adam / RMSProp slots
and ``ExponentialMovingAverage`` shadows. That state is dropped here; everything else is returned,
so a variable the model does not know still fails loudly when the weights are assigned.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from deeplab.weights.errors import CheckpointError

_TRAINING_STATE_NAMES = frozenset({
    "global_step", "beta1_power", "beta2_power", "_CHECKPOINTABLE_OBJECT_GRAPH",
})
_TRAINING_STATE_LEAVES = frozenset({
    "Momentum", "Adam", "Adam_1", "RMSProp", "RMSProp_1", "Adagrad", "Ftrl", "Ftrl_1",
    "ExponentialMovingAverage",
})
_DATA_SHARD = re.compile(r"\.data-\d+-of-\d+$")


def is_training_state(name: str) -> bool:
    """True for optimizer slots, step counters and moving-average shadows (not model weights)."""
    if name in _TRAINING_STATE_NAMES:
        return True
    parts = name.split("/")
    return parts[-1] in _TRAINING_STATE_LEAVES or "ExponentialMovingAverage" in parts


def normalize_prefix(path: str | os.PathLike) -> Path:
    """Turn ``model.ckpt-30000``, ``.index`` or ``.data-00000-of-00001`` into the prefix."""
    text = str(path)
    if text.endswith(".index"):
        text = text[: -len(".index")]
    text = _DATA_SHARD.sub("", text)
    return Path(text)


def is_checkpoint_prefix(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a prefix or one of its files) has a checkpoint ``.index`` beside it."""
    prefix = normalize_prefix(path)
    return Path(f"{prefix}.index").is_file()


def _reader(prefix: Path):
    import tensorflow as tf

    if not Path(f"{prefix}.index").is_file():
        raise CheckpointError(f"{prefix}: no checkpoint here (expected {prefix}.index and "
                              f"{prefix}.data-00000-of-0000N)")
    if not list(prefix.parent.glob(f"{prefix.name}.data-*-of-*")):
        raise CheckpointError(f"{prefix}: checkpoint data file {prefix.name}.data-00000-of-0000N "
                              f"is missing beside {prefix.name}.index")
    try:
        return tf.train.load_checkpoint(str(prefix))
    except (tf.errors.OpError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{prefix}: cannot read checkpoint ({message})") from error


def checkpoint_shapes(path: str | os.PathLike, *, keep_training_state: bool = False
                      ) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape of a TF1 checkpoint, without loading the values."""
    reader = _reader(normalize_prefix(path))
    shapes = reader.get_variable_to_shape_map()
    return {name: tuple(int(d) for d in shape) for name, shape in sorted(shapes.items())
            if keep_training_state or not is_training_state(name)}


def read_checkpoint(path: str | os.PathLike, *, keep_training_state: bool = False
                    ) -> dict[str, np.ndarray]:
    """Variable name -> value of a TF1 checkpoint (training state dropped unless asked)."""
    import tensorflow as tf

    prefix = normalize_prefix(path)
    reader = _reader(prefix)
    weights: dict[str, np.ndarray] = {}
    for name in sorted(reader.get_variable_to_shape_map()):
        if not keep_training_state and is_training_state(name):
            continue
        try:
            weights[name] = np.asarray(reader.get_tensor(name))
        except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise CheckpointError(f"{prefix}: cannot read variable {name!r} ({first}); the "
                                  f"checkpoint data file is truncated or corrupt") from error
    if any(".ATTRIBUTES/" in name for name in weights):
        raise CheckpointError(
            f"{prefix}: this is a TF2 object-based checkpoint (names like "
            f"'{next(n for n in weights if '.ATTRIBUTES/' in n)}'), not an original DeepLab "
            f"TF1 checkpoint")
    return weights
