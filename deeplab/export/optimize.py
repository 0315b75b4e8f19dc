"""Inference-only rewrites of a DeepLab Keras model: batch-norm folding and reduced precision.

Both return a *new* Keras model and leave the original untouched, so the original stays the
reference that exports are checked against.

- :func:`fold_batch_norm`: every ``Conv2D``/``DepthwiseConv2D`` followed only by a batch norm gets
  the normalisation folded into its kernel and a bias (``kernel * scale``, ``beta - mean * scale``);
  the batch norm becomes an ``Identity``. Inference maths is unchanged up to float rounding, and one
  op per block disappears, which lets TensorFlow fuse conv + bias + ReLU6 into one kernel.
- :func:`with_precision`: the same network computing in ``bfloat16`` or ``float16`` (weights kept in
  float32, Keras mixed precision), logits still float32.
"""

from __future__ import annotations

import keras
import numpy as np

PRECISIONS = ("float32", "bfloat16", "float16")
_CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def _producer(layer: keras.layers.Layer):
    """The layer whose output is ``layer``'s only input (None for model inputs)."""
    history = getattr(layer.input, "_keras_history", None)
    return history[0] if history else None


def foldable_pairs(model: keras.Model) -> dict[str, str]:
    """Batch-norm layer name -> name of the conv it can be folded into.

    A pair qualifies when the batch norm's input is the output of a Conv2D/DepthwiseConv2D that
    feeds nothing else (its pre-normalisation output is not needed anywhere).
    """
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if len(layer._inbound_nodes) != 1:
            continue
        conv = _producer(layer)
        if isinstance(conv, _CONV_TYPES) and len(conv._outbound_nodes) == 1 \
                and len(conv._inbound_nodes) == 1:
            pairs[layer.name] = conv.name
    return pairs


def folded_conv_weights(conv: keras.layers.Layer, bn: keras.layers.BatchNormalization):
    """(kernel, bias) of ``conv`` with ``bn`` (inference mode) folded in, computed in float64."""
    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    bias = np.asarray(conv.bias.numpy(), np.float64) if conv.use_bias else 0.0
    variance = np.asarray(bn.moving_variance.numpy(), np.float64)
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else 1.0
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else 0.0
    scale = gamma / np.sqrt(variance + bn.epsilon)
    if isinstance(conv, keras.layers.DepthwiseConv2D):
        # kernel [kh, kw, in, multiplier]; output channel c = in_index * multiplier + m
        folded = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
    else:
        folded = kernel * scale  # [kh, kw, in, out], broadcast over out
    new_bias = (bias - mean) * scale + beta
    return folded.astype(np.float32), np.asarray(new_bias, np.float32)


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` for inference with every foldable batch norm merged into its conv."""
    pairs = foldable_pairs(model)
    convs = set(pairs.values())

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:
            return keras.layers.Identity(name=layer.name)
        if layer.name in convs:
            return layer.__class__.from_config({**config, "use_bias": True})
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in pairs:  # the Identity takes no mask/training arguments
            return layer(args[0])
        return layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    folded_bn = {conv: bn for bn, conv in pairs.items()}
    for layer in model.layers:
        target = folded.get_layer(layer.name)
        if layer.name in pairs:
            continue
        if layer.name in convs:
            kernel, bias = folded_conv_weights(layer, model.get_layer(folded_bn[layer.name]))
            target.kernel.assign(kernel)
            target.bias.assign(bias)
        else:
            target.set_weights(layer.get_weights())
    return folded


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """A copy of ``model`` that computes in ``precision`` (``float32``, ``bfloat16``, ``float16``).

    Reduced precisions use Keras mixed precision (variables float32, maths in the low precision);
    the final ``logits.semantic`` layer stays float32 so argmax/softmax see float32 logits.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float32":
        return model
    policy = f"mixed_{precision}"

    def clone(layer):
        config = layer.get_config()
        if layer.name != "logits.semantic" and not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
