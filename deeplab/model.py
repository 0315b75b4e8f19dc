"""DeepLab v3 / v3+ as a Keras functional model, plus the bridge to the original variable names.

``build_deeplab(config)`` maps preprocessed images (float32 in [-1, 1]) to the logits of the
original ``logits/semantic/BiasAdd``: at the output stride, or at stride 4 with the v3+ decoder
(or with the light residual decoder, which corrects those logits at stride 4).
Preprocessing and upsampling live in the inference contract (:mod:`deeplab.contract_tf`,
:mod:`deeplab.contract_np`) and :mod:`deeplab.inference`, so the same network serves
training (loss on upsampled logits) and inference.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from deeplab.atomic import atomic_path
from deeplab.backbones import mobilenet_v2, xception_65
from deeplab.config import ModelConfig
from deeplab.layers import aspp, decoder, residual_decoder

#: Keras attribute -> original TF1 variable suffix, per layer type.
_VARIABLE_SUFFIXES = {
    keras.layers.Conv2D: {"kernel": "weights", "bias": "biases"},
    keras.layers.DepthwiseConv2D: {"kernel": "depthwise_weights"},
    keras.layers.BatchNormalization: {
        "gamma": "gamma", "beta": "beta",
        "moving_mean": "moving_mean", "moving_variance": "moving_variance"},
}
_CONFIG_MEMBER = "deeplab_config.json"


class WeightMappingError(ValueError):
    """Weights and model disagree: a variable is missing on one side or has the wrong shape."""


def build_deeplab(config: ModelConfig, *, name: str = "deeplab") -> keras.Model:
    """The DeepLab network of ``config`` for any batch size and image height/width."""
    images = keras.Input(shape=(None, None, 3), name="image", dtype="float32")
    if config.backbone == "mobilenet_v2":
        features, low_level = mobilenet_v2(images, depth_multiplier=config.depth_multiplier,
                                           output_stride=config.output_stride)
    else:
        features, low_level = xception_65(images, output_stride=config.output_stride)
    x = aspp(features, atrous_rates=config.atrous_rates,
             separable=config.aspp_with_separable_conv, with_image_pooling=config.image_pooling)
    if config.decoder_output_stride is not None:
        x = decoder(x, low_level, separable=config.decoder_use_separable_conv)
    logits = keras.layers.Conv2D(config.num_classes, 1, name="logits.semantic",
                                 dtype="float32")(x)
    if config.residual_decoder_filters is not None:
        logits = residual_decoder(logits, low_level, filters=config.residual_decoder_filters)
    return keras.Model(images, logits, name=name)


def original_variable_map(model: keras.Model) -> dict[str, keras.Variable]:
    """Original TF1 variable name (``MobilenetV2/Conv/weights``) -> the Keras variable holding it."""
    mapping: dict[str, keras.Variable] = {}
    for layer in model.layers:
        suffixes = next((s for cls, s in _VARIABLE_SUFFIXES.items()
                         if isinstance(layer, cls)), None)
        if suffixes is None:
            if layer.weights:
                raise WeightMappingError(f"layer {layer.name} ({type(layer).__name__}) has "
                                         "weights but no original-name mapping")
            continue
        scope = layer.name.replace(".", "/")
        for attribute, suffix in suffixes.items():
            variable = getattr(layer, attribute, None)
            if variable is not None:
                mapping[f"{scope}/{suffix}"] = variable
    return mapping


def assign_original_weights(model: keras.Model, weights: Mapping[str, np.ndarray]) -> None:
    """Load weights named as in the original release; every variable must match one-to-one."""
    targets = original_variable_map(model)
    problems = []
    missing = sorted(set(targets) - set(weights))
    unused = sorted(set(weights) - set(targets))
    if missing:
        problems.append(f"{len(missing)} model variable(s) not in the weights: "
                        + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    if unused:
        problems.append(f"{len(unused)} weight(s) not used by the model: "
                        + ", ".join(unused[:10]) + (" ..." if len(unused) > 10 else ""))
    for name in sorted(set(targets) & set(weights)):
        expected, got = tuple(targets[name].shape), tuple(np.shape(weights[name]))
        if expected != got:
            problems.append(f"shape mismatch for {name}: model {expected}, weights {got}")
    if problems:
        raise WeightMappingError("; ".join(problems))
    for name, variable in targets.items():
        variable.assign(np.asarray(weights[name], dtype=variable.dtype))


def original_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """The model's weights under their original TF1 names (for writing release-format files)."""
    return {name: np.asarray(v.numpy()) for name, v in original_variable_map(model).items()}


def rebuild_at_output_stride(model: keras.Model, config: ModelConfig, output_stride: int | None
                             ) -> tuple[keras.Model, ModelConfig]:
    """``model`` rebuilt to run at ``output_stride`` with the same weights and rescaled ASPP rates
    (returned unchanged when the stride is None or already ``config``'s)."""
    if output_stride is None or output_stride == config.output_stride:
        return model, config
    config = config.at_output_stride(output_stride)
    rebuilt = build_deeplab(config, name=model.name)
    rebuilt.set_weights(model.get_weights())
    return rebuilt, config


def save_model(model: keras.Model, config: ModelConfig, path: str | os.PathLike) -> Path:
    """Write a ``.keras`` file that also carries the typed config (class names included).

    The file is written to a temporary name and renamed, so an interrupted save leaves nothing
    that looks complete.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a Keras model file must end in .keras, got {path}")
    with atomic_path(path) as temporary:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(_CONFIG_MEMBER, config.to_json())
    return path


def load_model(path: str | os.PathLike) -> tuple[keras.Model, ModelConfig]:
    """Read a ``.keras`` file written by :func:`save_model` (safe mode, no custom objects)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if _CONFIG_MEMBER not in archive.namelist():
                raise ValueError(f"{path} is a Keras file but not a deeplab model "
                                 f"(no {_CONFIG_MEMBER}); save it with deeplab.model.save_model")
            config = ModelConfig.from_json(archive.read(_CONFIG_MEMBER))
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path}: not a .keras file (expected a zip archive as "
                         f"deeplab.model.save_model writes)") from error
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return model, config
