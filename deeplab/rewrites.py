"""Inference-only rewrites of a DeepLab Keras model: exact ones for speed, and reduced precision.

Each returns a *new* Keras model and leaves the original untouched, so the original stays the
reference that exports are checked against.

- :func:`fold_batch_norm`: every ``Conv2D``/``DepthwiseConv2D`` followed only by a batch norm gets
  the normalisation folded into its kernel and a bias (``kernel * scale``, ``beta - mean * scale``);
  the batch norm becomes an ``Identity``. Inference maths is unchanged up to float rounding, and one
  op per block disappears, which lets TensorFlow fuse conv + bias + ReLU6 into one kernel.
  With ``native_dilations=True`` the same copy also turns every dilated ``DepthwiseConv2D`` into a
  :class:`~deeplab.layers.NativeDilatedDepthwiseConv2D` (one native kernel instead of
  SpaceToBatch + conv + BatchToSpace), same weights and maths: for networks that TensorFlow
  runs (SavedModel, ``Segmenter``). The compat graph keeps the original's SpaceToBatch form, which
  every TensorFlow version that runs the tutorial code executes.
- :func:`simplify_head`: exact algebra on the ASPP head of a BN-folded model. The image-pooling
  branch is constant over the map, so its share of ``concat_projection`` becomes a per-image bias
  (half of that conv's multiply-adds); and where the backbone ends in a linear 1x1 projection
  read only by image pooling and ``aspp0`` (MobileNetV2 without atrous branches), the two convs
  merge into one (960 -> 256 instead of 960 -> 320 -> 256) and pooling moves before the
  projection (both are linear). About a tenth of MobileNetV2's multiply-adds at output stride 8.
- :func:`with_precision`: the same network computing in ``bfloat16`` or ``float16`` (weights kept in
  float32, Keras mixed precision), logits still float32.

:func:`optimize_for_inference` applies the exact ones in order; every export and the Keras
runtime (``deeplab.runtimes.Segmenter``) use it by default.
"""

from __future__ import annotations

import keras
import numpy as np

from deeplab.layers import RESIDUAL_DECODER_OUTPUT, NativeDilatedDepthwiseConv2D
from deeplab.precision import FLOAT_PRECISIONS, check_precision

_CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def _uninitialized_config(layer: keras.layers.Layer) -> dict:
    """``layer``'s config with zero initializers: every rewrite overwrites the copy's weights,
    and random initialization is half of the time Keras takes to clone a model."""
    config = layer.get_config()
    return {key: "zeros" if key.endswith("_initializer") else value
            for key, value in config.items()}


def _clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config(_uninitialized_config(layer))


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


def _dilated_depthwise(layer: keras.layers.Layer) -> bool:
    return type(layer) is keras.layers.DepthwiseConv2D and max(layer.dilation_rate) > 1


def fold_batch_norm(model: keras.Model, *, native_dilations: bool = False) -> keras.Model:
    """A copy of ``model`` for inference with every foldable batch norm merged into its conv.

    ``native_dilations``: the copy's dilated depthwise convolutions are also
    :class:`~deeplab.layers.NativeDilatedDepthwiseConv2D` (same weights, one native kernel), for
    networks that TensorFlow itself runs; TFLite and ONNX converters make their own dilated op
    from the stock form, and training needs the stock layer.
    """
    pairs = foldable_pairs(model)
    convs = set(pairs.values())

    def clone(layer):
        config = _uninitialized_config(layer)
        if layer.name in pairs:
            return keras.layers.Identity(name=layer.name)
        if layer.name in convs:
            config = {**config, "use_bias": True}
        kind = NativeDilatedDepthwiseConv2D if native_dilations and _dilated_depthwise(layer) \
            else layer.__class__
        return kind.from_config(config)

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


IMAGE_POOLING_RESIZE = "image_pooling.resize"
IMAGE_POOLING_POOL = "image_pooling.pool"
ASPP_CONCAT = "concat"
ASPP_PROJECTION = "concat_projection"
ASPP_1X1 = "aspp0"
POOLED_BIAS = "concat_projection.image_pooling"


def _consumers(layer: keras.layers.Layer) -> set[str]:
    return {node.operation.name for node in layer._outbound_nodes}


def _is_identity(layer) -> bool:
    return isinstance(layer, keras.layers.Identity)


def _mergeable_projection(model: keras.Model) -> str | None:
    """Name of the linear 1x1 conv whose output (through a folded batch norm) feeds only
    ``aspp0`` and image pooling (whose resize reads only its size), or None."""
    names = {layer.name for layer in model.layers}
    if ASPP_1X1 not in names:
        return None
    features = _producer(model.get_layer(ASPP_1X1))
    if features is None or not _is_identity(features) \
            or not _consumers(features) <= {ASPP_1X1, IMAGE_POOLING_POOL, IMAGE_POOLING_RESIZE} \
            or any(features.output is output for output in model.outputs):
        return None
    conv = _producer(features)
    linear_1x1 = (type(conv) is keras.layers.Conv2D and conv.kernel_size == (1, 1)
                  and conv.strides == (1, 1) and conv.use_bias
                  and conv.activation is keras.activations.linear)
    if not linear_1x1 or _consumers(conv) != {features.name} or len(conv._inbound_nodes) != 1:
        return None
    return conv.name


def _image_pooling_channels(model: keras.Model) -> tuple[int, int] | None:
    """(offset, count) of the image-pooling branch in the ASPP concat, or None without one."""
    names = {layer.name for layer in model.layers}
    if not {IMAGE_POOLING_RESIZE, ASPP_CONCAT, ASPP_PROJECTION} <= names:
        return None
    projection = model.get_layer(ASPP_PROJECTION)
    if _producer(projection) is not model.get_layer(ASPP_CONCAT) or not projection.use_bias \
            or projection.kernel_size != (1, 1):
        return None
    offset = 0
    for tensor in model.get_layer(ASPP_CONCAT).input:
        channels = tensor.shape[-1]
        if tensor._keras_history[0].name == IMAGE_POOLING_RESIZE:
            return offset, channels
        offset += channels
    return None


def simplify_head(model: keras.Model) -> keras.Model:
    """A copy of a BN-folded ``model`` with the ASPP head rewritten as the module docstring says.

    The maths is the same up to float rounding (sums in another order). Returns ``model``
    itself when neither rewrite applies (no image pooling, batch norm not folded, ...).
    """
    merge = _mergeable_projection(model)
    pooling = _image_pooling_channels(model)
    if merge is None and pooling is None:
        return model
    seen: dict = {}

    def call(layer, *args, **kwargs):
        name = layer.name
        if merge is not None:
            if name == merge:  # the full-map projection output becomes unused
                seen["projection"], seen["projection_input"] = layer, args[0]
            elif name == IMAGE_POOLING_POOL:  # mean(W x + b) = W mean(x) + b
                return seen["projection"](layer(seen["projection_input"]))
            elif name == ASPP_1X1:
                return layer(seen["projection_input"])
            elif name == IMAGE_POOLING_RESIZE:  # same height and width as the features
                args = ([args[0][0], seen["projection_input"]], *args[1:])
        if pooling is not None:
            if name == IMAGE_POOLING_RESIZE:
                seen["pooled"] = args[0][0]
                seen["resized"] = layer(*args, **kwargs)
                return seen["resized"]
            if name == ASPP_CONCAT:
                seen["branches"] = [t for t in args[0] if t is not seen["resized"]]
            elif name == ASPP_PROJECTION:
                branches = seen["branches"]
                x = branches[0] if len(branches) == 1 else keras.layers.Concatenate(
                    name=f"{ASPP_CONCAT}.without_image_pooling")(branches)
                bias = keras.layers.Conv2D(layer.filters, 1, use_bias=False,
                                           name=POOLED_BIAS)(seen["pooled"])
                return keras.layers.Add(name=f"{ASPP_PROJECTION}.add_image_pooling")(
                    [layer(x), bias])
        return layer(*args, **kwargs)

    simplified = keras.models.clone_model(model, clone_function=_clone_layer, call_function=call)
    originals = {layer.name for layer in model.layers}
    for layer in simplified.layers:
        if layer.name not in originals or not layer.weights:
            continue
        source = model.get_layer(layer.name)
        if merge is not None and layer.name == ASPP_1X1:
            projection, aspp0 = model.get_layer(merge), source
            w_p = projection.kernel.numpy().astype(np.float64)[0, 0]
            w_a = aspp0.kernel.numpy().astype(np.float64)[0, 0]
            kernel = (w_p @ w_a)[np.newaxis, np.newaxis]
            bias = projection.bias.numpy().astype(np.float64) @ w_a + aspp0.bias.numpy()
            layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
        elif pooling is not None and layer.name == ASPP_PROJECTION:
            offset, count = pooling
            kernel = source.kernel.numpy()
            rest = np.concatenate([kernel[:, :, :offset], kernel[:, :, offset + count:]], axis=2)
            layer.set_weights([rest, source.bias.numpy()])
        else:
            layer.set_weights(source.get_weights())
    if pooling is not None:
        offset, count = pooling
        kernel = model.get_layer(ASPP_PROJECTION).kernel.numpy()
        simplified.get_layer(POOLED_BIAS).set_weights([kernel[:, :, offset:offset + count]])
    return simplified


def optimize_for_inference(model: keras.Model, *, fold: bool = True,
                           native_kernels: bool = False) -> keras.Model:
    """The exact inference rewrites in order: batch norm folded, ASPP head simplified, and for
    networks that TensorFlow itself runs (``native_kernels``), native dilated depthwise kernels.

    Without ``fold`` the model is returned as it is (the head rewrite needs folded convs).
    """
    if not fold:
        return model
    return simplify_head(fold_batch_norm(model, native_dilations=native_kernels))


#: Layers that produce the logits: they stay float32 whatever the precision.
FLOAT32_OUTPUT_LAYERS = ("logits.semantic", RESIDUAL_DECODER_OUTPUT, "residual_decoder.add")


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """A copy of ``model`` that computes in ``precision`` (``float32``, ``bfloat16``, ``float16``).

    Reduced precisions use Keras mixed precision (variables float32, maths in the low precision);
    the final ``logits.semantic`` layer stays float32 so argmax/softmax see float32 logits.
    """
    check_precision(precision, FLOAT_PRECISIONS)
    if precision == "float32":
        return model
    policy = f"mixed_{precision}"

    def clone(layer):
        config = _uninitialized_config(layer)
        if (layer.name not in FLOAT32_OUTPUT_LAYERS
                and not isinstance(layer, keras.layers.InputLayer)):
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
