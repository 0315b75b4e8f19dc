"""The ``tf.Module`` that a DeepLab SavedModel is made of: signatures, constants and metadata.

Everything a server needs travels inside the SavedModel, so loading it needs TensorFlow only:

- ``serving_default``: ``images`` uint8 ``[batch, height, width, 3]`` RGB, any size ->
  ``labels`` int32 ``[batch, height, width]`` and ``probabilities`` float32 ``[..., classes]``;
- ``serving_bytes``: ``image_bytes``, one encoded JPEG/PNG/BMP/GIF string or a batch of them
  (all of one size) -> the same outputs; JPEGs are decoded as OpenCV does (libjpeg's accurate
  integer IDCT with fancy upsampling, EXIF orientation applied: :mod:`deeplab.export.exif`), so
  its labels match ``serving_default`` fed ``cv2.imread`` pixels;
- ``metadata``: no inputs -> ``class_names``, ``crop_size``, ``pad_value``, ``scale``, ``offset``,
  ``num_classes`` and the whole ``metadata_json``;
- attributes on the loaded object: ``class_names``, ``crop_size``, ``pad_value``, ``scale``,
  ``offset`` (non-trainable variables) and ``metadata_file`` (the ``assets/metadata.json`` asset).
"""

from __future__ import annotations

import json

import keras
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.export.exif import decode_jpeg_like_opencv
from deeplab.export.output_target import METADATA_FORMAT
from deeplab.inference import IMAGES_SPEC, segment
from deeplab.input_format import PAD_VALUE, SCALE

METADATA_FILENAME = "metadata.json"
BYTES_SPEC = tf.TensorSpec(None, tf.string, name="image_bytes")


def serving_metadata(config: ModelConfig, crop_size: int, **details) -> dict:
    """The JSON that describes an export: architecture, labels, preprocessing, signatures."""
    from deeplab import __version__

    return {
        "format": METADATA_FORMAT,
        "format_version": 1,
        "deeplab_version": __version__,
        "class_names": list(config.class_names),
        "num_classes": config.num_classes,
        "preprocessing": {
            "crop_size": crop_size,
            "resize": "longer side to crop_size, bilinear with antialiasing (skipped when equal)",
            "pad": "bottom/right to crop_size x crop_size",
            "pad_value": PAD_VALUE,
            "scale": float(SCALE),
            "offset": -1.0,
            "normalize": "pixel * scale + offset, i.e. [0, 255] -> [-1, 1]",
            "logits_upsampling": "bilinear, align_corners=True, to the padded size, then cropped",
        },
        "signatures": {
            "serving_default": {"inputs": {"images": "uint8 [batch, height, width, 3] RGB"},
                                "outputs": {"labels": "int32 [batch, height, width]",
                                            "probabilities": "float32 [batch, height, width, "
                                                             "classes]"}},
            "serving_bytes": {"inputs": {"image_bytes": "string, scalar or [batch], encoded "
                                                        "JPEG/PNG/BMP/GIF, one size per batch"},
                              "outputs": "as serving_default"},
            "metadata": {"inputs": {}, "outputs": ["class_names", "crop_size", "pad_value",
                                                   "scale", "offset", "num_classes",
                                                   "metadata_json"]},
        },
        "model_config": config.to_dict(),
        **details,
    }


class NetworkCall:
    """The network as ``segment`` calls it, optionally compiled with XLA."""

    def __init__(self, network: keras.Model, jit_compile: bool = False):
        self.network = network
        self._call = tf.function(lambda x: network(x, training=False), jit_compile=True) \
            if jit_compile else None

    def __call__(self, inputs, training=False):
        if self._call is not None:
            return self._call(inputs)
        return self.network(inputs, training=False)


class DeepLabServing(tf.Module):
    """A SavedModel-ready module around an inference network (maybe BN-folded / low precision)."""

    def __init__(self, network: keras.Model, config: ModelConfig, metadata: dict,
                 metadata_path: str, *, crop_size: int, jit_compile: bool = False):
        super().__init__(name="deeplab_serving")
        self.network = network
        self._forward = NetworkCall(network, jit_compile)
        self._crop_size = int(crop_size)
        self.crop_size = tf.Variable(self._crop_size, dtype=tf.int32, trainable=False,
                                     name="crop_size")
        self.pad_value = tf.Variable(PAD_VALUE, dtype=tf.float32, trainable=False,
                                     name="pad_value")
        self.scale = tf.Variable(float(SCALE), dtype=tf.float32, trainable=False, name="scale")
        self.offset = tf.Variable(-1.0, dtype=tf.float32, trainable=False, name="offset")
        self.num_classes = tf.Variable(config.num_classes, dtype=tf.int32, trainable=False,
                                       name="num_classes")
        self.class_names = tf.Variable(list(config.class_names), dtype=tf.string,
                                       trainable=False, name="class_names")
        self.metadata_json = tf.Variable(json.dumps(metadata), dtype=tf.string, trainable=False,
                                         name="metadata_json")
        self.metadata_file = tf.saved_model.Asset(metadata_path)

    def _segment(self, images):
        shape = tf.shape(images)
        with tf.control_dependencies([tf.debugging.assert_positive(
                shape[1:3], message="images must have a positive height and width")]):
            images = tf.identity(images)
        labels, probabilities = segment(self._forward, images, self._crop_size)
        return {"labels": tf.identity(labels, name="labels"),
                "probabilities": tf.identity(probabilities, name="probabilities")}

    @tf.function(input_signature=[IMAGES_SPEC])
    def serve(self, images):
        """uint8 RGB batch -> labels and probabilities at the input resolution."""
        return self._segment(images)

    @tf.function(input_signature=[BYTES_SPEC])
    def serve_bytes(self, image_bytes):
        """Encoded image(s) -> labels and probabilities; every image of a batch must share a size."""
        encoded = tf.reshape(image_bytes, [-1])

        def decode(data):
            image = tf.cond(
                tf.io.is_jpeg(data), lambda: decode_jpeg_like_opencv(data),
                lambda: tf.io.decode_image(data, channels=3, dtype=tf.uint8,
                                           expand_animations=False))
            image.set_shape([None, None, 3])
            return image

        first = decode(encoded[0])

        def decode_same_size(data):
            image = decode(data)
            with tf.control_dependencies([tf.debugging.assert_equal(
                    tf.shape(image), tf.shape(first),
                    message="all images of one serving_bytes batch must have the same size")]):
                return tf.identity(image)

        images = tf.map_fn(decode_same_size, encoded,
                           fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        return self._segment(images)

    @tf.function(input_signature=[])
    def metadata(self):
        """Class names and preprocessing constants, readable without the deeplab package."""
        return {"class_names": tf.identity(self.class_names),
                "crop_size": tf.identity(self.crop_size),
                "pad_value": tf.identity(self.pad_value),
                "scale": tf.identity(self.scale),
                "offset": tf.identity(self.offset),
                "num_classes": tf.identity(self.num_classes),
                "metadata_json": tf.identity(self.metadata_json)}

    def signatures(self) -> dict:
        return {"serving_default": self.serve.get_concrete_function(),
                "serving_bytes": self.serve_bytes.get_concrete_function(),
                "metadata": self.metadata.get_concrete_function()}
