"""Building blocks shared by the backbones and the DeepLab head.

Layer names mirror the original TF1 variable scopes with ``/`` replaced by ``.`` (Keras forbids
``/`` in names), so ``MobilenetV2.expanded_conv_1.expand`` holds ``MobilenetV2/expanded_conv_1/expand/weights``.
Every weight-carrying layer of the model is a stock Keras layer; the custom layers are the
align-corners resize (the original graph uses it everywhere and Keras does not offer it), the
fused-kernel batch norm, and the inference-only native dilated depthwise convolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

#: Batch-norm epsilons of the original: backbones 1e-3, ASPP and decoder 1e-5.
BACKBONE_BN_EPSILON = 1e-3
HEAD_BN_EPSILON = 1e-5
#: The original trains with batch-norm decay 0.9997.
BN_MOMENTUM = 0.9997


def resize_bilinear_align_corners(images: tf.Tensor, size) -> tf.Tensor:
    """Bilinear resize with ``align_corners=True`` (corner pixels map onto corner pixels), as TF1.

    TF2's ``tf.image.resize``, Keras ``Resizing`` and ``UpSampling2D`` use half-pixel centres and
    give different numbers; the original graphs were trained and exported with this variant.
    The op computes in float32; the result is cast back to the input dtype.
    """
    resized = tf.raw_ops.ResizeBilinear(
        images=images, size=tf.cast(size, tf.int32), align_corners=True, half_pixel_centers=False)
    return tf.cast(resized, images.dtype)


@keras.saving.register_keras_serializable(package="deeplab")
class ResizeBilinear(keras.layers.Layer):
    """Align-corners bilinear resize to a fixed ``size`` or to the spatial size of a second input.

    Called as ``layer(x)`` with ``size=(h, w)``, or as ``layer([x, reference])`` to match the height
    and width of ``reference`` (dynamic shapes work: the size is read at run time).
    """

    def __init__(self, size: Sequence[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(s) for s in size) if size is not None else None

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            images, reference = inputs
            size = tf.shape(reference)[1:3]
        else:
            if self.size is None:
                raise ValueError(f"{self.name}: give `size` or call with [images, reference]")
            images, size = inputs, self.size
        return resize_bilinear_align_corners(images, size)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            images_shape, reference_shape = input_shape
            return (images_shape[0], reference_shape[1], reference_shape[2], images_shape[3])
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="deeplab")
class BatchNorm(keras.layers.BatchNormalization):
    """Keras batch norm that, in inference, runs the same fused kernel as the original graphs.

    Stock Keras folds the statistics in a different order; the results differ by an ulp per layer,
    which random or badly conditioned weights amplify through 17-65 blocks. The fused op makes our
    inference bit-identical to ``FusedBatchNormV3`` in the frozen graphs on the same machine.
    Training (and frozen-BN training with ``trainable=False``) is plain Keras.
    """

    def call(self, inputs, training=None, mask=None):
        use_batch_statistics = bool(training) and self.trainable
        channel_last = self.axis in (-1, len(inputs.shape) - 1) and len(inputs.shape) == 4
        if use_batch_statistics or inputs.dtype not in (tf.float32, tf.float16) or not channel_last:
            return super().call(inputs, training=training, mask=mask)
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32),
            mean=tf.cast(self.moving_mean, tf.float32),
            variance=tf.cast(self.moving_variance, tf.float32),
            epsilon=self.epsilon, is_training=False)
        return outputs


@keras.saving.register_keras_serializable(package="deeplab")
class NativeDilatedDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """``DepthwiseConv2D`` whose dilated form runs TensorFlow's native dilated kernel: inference only.

    ``tf.nn.depthwise_conv2d`` (what Keras calls, and what the original graphs contain) computes
    a dilated depthwise convolution as SpaceToBatchND + undilated conv + BatchToSpaceND, copying
    the feature map twice per layer; at output stride 8 those copies are a fifth of
    MobileNetV2's run time on CPU. ``DepthwiseConv2dNative`` with ``dilations`` is the same maths in
    one oneDNN kernel that also fuses the bias and ReLU6 after it (2.5x faster per layer here).
    Its gradient ignores the dilation on CPU (TensorFlow 2.21, checked), so training calls fall
    back to the stock path; :func:`deeplab.rewrites.fold_batch_norm` swaps this layer in
    for inference networks only (SavedModel exports, ``Segmenter``).
    """

    def call(self, inputs, training=None):
        dilated = max(self.dilation_rate) > 1
        if training or not dilated or self.data_format != "channels_last":
            return super().call(inputs)
        outputs = tf.raw_ops.DepthwiseConv2dNative(
            input=inputs, filter=tf.cast(self.kernel, inputs.dtype),
            strides=[1, *self.strides, 1], padding=self.padding.upper(),
            dilations=[1, *self.dilation_rate, 1])
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, tf.cast(self.bias, outputs.dtype))
        return outputs if self.activation is None else self.activation(outputs)


def conv_bn(x, filters: int, kernel_size: int, name: str, *, strides: int = 1,
            dilation_rate: int = 1, padding: str = "same", epsilon: float,
            activation: str | None = "relu"):
    """Conv2D (no bias) -> BatchNorm -> optional ReLU/ReLU6, named after the original scope."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                            dilation_rate=dilation_rate, use_bias=False, name=name)(x)
    x = BatchNorm(epsilon=epsilon, momentum=BN_MOMENTUM, name=f"{name}.BatchNorm")(x)
    return activate(x, activation, name)


def depthwise_bn(x, name: str, *, strides: int = 1, dilation_rate: int = 1, padding: str = "same",
                 epsilon: float, activation: str | None = "relu"):
    """3x3 DepthwiseConv2D (no bias) -> BatchNorm -> optional activation."""
    x = keras.layers.DepthwiseConv2D(3, strides=strides, padding=padding,
                                     dilation_rate=dilation_rate, use_bias=False, name=name)(x)
    x = BatchNorm(epsilon=epsilon, momentum=BN_MOMENTUM, name=f"{name}.BatchNorm")(x)
    return activate(x, activation, name)


def separable_conv_bn(x, filters: int, name: str, *, dilation_rate: int = 1, epsilon: float,
                      activation: str | None = "relu"):
    """The original's split separable conv: ``<name>_depthwise`` and ``<name>_pointwise``, each
    followed by batch norm and (in the head) ReLU."""
    x = depthwise_bn(x, f"{name}_depthwise", dilation_rate=dilation_rate, epsilon=epsilon,
                     activation=activation)
    return conv_bn(x, filters, 1, f"{name}_pointwise", epsilon=epsilon, activation=activation)


def activate(x, activation: str | None, name: str):
    """ReLU (``relu``), ReLU6 (``relu6``) or nothing, as a named Keras layer."""
    if activation is None:
        return x
    if activation == "relu":
        return keras.layers.ReLU(name=f"{name}.Relu")(x)
    if activation == "relu6":
        return keras.layers.ReLU(max_value=6.0, name=f"{name}.Relu6")(x)
    raise ValueError(f"unknown activation {activation!r}")


def image_pooling(features, filters: int = 256):
    """ASPP image-level branch: global mean, 1x1 conv + BN + ReLU, resized back (align corners).

    The original pools with a VALID average pool whose kernel is the whole feature map, which is
    the global mean for the crop size it was exported with.
    """
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="image_pooling.pool")(features)
    pooled = conv_bn(pooled, filters, 1, "image_pooling", epsilon=HEAD_BN_EPSILON)
    return ResizeBilinear(name="image_pooling.resize")([pooled, features])


def aspp(features, *, atrous_rates: Sequence[int], separable: bool, with_image_pooling: bool,
         filters: int = 256, dropout: float = 0.1):
    """Atrous spatial pyramid pooling: [image pooling], 1x1, one 3x3 branch per rate, projected."""
    branches = []
    if with_image_pooling:
        branches.append(image_pooling(features, filters))
    branches.append(conv_bn(features, filters, 1, "aspp0", epsilon=HEAD_BN_EPSILON))
    for index, rate in enumerate(atrous_rates, start=1):
        if separable:
            branches.append(separable_conv_bn(features, filters, f"aspp{index}", dilation_rate=rate,
                                              epsilon=HEAD_BN_EPSILON))
        else:
            branches.append(conv_bn(features, filters, 3, f"aspp{index}", dilation_rate=rate,
                                    epsilon=HEAD_BN_EPSILON))
    x = keras.layers.Concatenate(name="concat")(branches) if len(branches) > 1 else branches[0]
    x = conv_bn(x, filters, 1, "concat_projection", epsilon=HEAD_BN_EPSILON)
    return keras.layers.Dropout(dropout, name="concat_projection_dropout")(x)


def decoder(features, low_level_features, *, separable: bool = True, filters: int = 256,
            projection_filters: int = 48):
    """DeepLab v3+ decoder: project the stride-4 features to 48 channels, concatenate with the
    upsampled ASPP output (304 channels), refine with two 3x3 (separable) convs of 256."""
    projection = conv_bn(low_level_features, projection_filters, 1, "decoder.feature_projection0",
                         epsilon=HEAD_BN_EPSILON)
    upsampled = ResizeBilinear(name="decoder.ResizeBilinear")([features, projection])
    x = keras.layers.Concatenate(name="decoder.concat")([upsampled, projection])
    for index in range(2):
        name = f"decoder.decoder_conv{index}"
        if separable:
            x = separable_conv_bn(x, filters, name, epsilon=HEAD_BN_EPSILON)
        else:
            x = conv_bn(x, filters, 3, name, epsilon=HEAD_BN_EPSILON)
    return x


#: Channels of the stride-4 features entering the residual decoder.
RESIDUAL_PROJECTION_FILTERS = 24
#: Name of the residual decoder's last (zero-initialised) layer.
RESIDUAL_DECODER_OUTPUT = "residual_decoder.logits"


def residual_decoder(logits, low_level_features, *, filters: int = 48,
                     projection_filters: int = RESIDUAL_PROJECTION_FILTERS):
    """A light decoder for small networks: the logits upsampled to stride 4, plus a correction
    computed from them and the backbone's stride-4 features (1x1 projection, two separable convs
    of ``filters`` channels with bias and ReLU, a 1x1 to the classes).

    The correction's last layer starts at zero, so a network gains it without changing what it
    predicts: a trained v3 model keeps its outputs (and what it knows of classes the new data
    does not label) until training moves them. It costs far less than the v3+ decoder (whose 256
    channels at stride 4 outweigh a MobileNetV2 0.5 backbone) and has no batch norm, so it also
    trains where batch norm is folded and frozen.
    """
    upsampled = ResizeBilinear(name="residual_decoder.upsample")([logits, low_level_features])
    projection = keras.layers.Conv2D(projection_filters, 1, name="residual_decoder.projection")(
        low_level_features)
    x = keras.layers.Concatenate(name="residual_decoder.concat")(
        [upsampled, keras.layers.ReLU(name="residual_decoder.projection.Relu")(projection)])
    for index in range(2):
        name = f"residual_decoder.conv{index}"
        x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False,
                                         name=f"{name}_depthwise")(x)
        x = keras.layers.Conv2D(filters, 1, name=f"{name}_pointwise")(x)
        x = keras.layers.ReLU(name=f"{name}.Relu")(x)
    correction = keras.layers.Conv2D(
        logits.shape[-1], 1, kernel_initializer="zeros", bias_initializer="zeros",
        name=RESIDUAL_DECODER_OUTPUT, dtype="float32")(x)
    return keras.layers.Add(name="residual_decoder.add", dtype="float32")(
        [upsampled, correction])
