"""EXIF orientation of a JPEG read and applied with TensorFlow ops, as OpenCV's decoder does.

``cv2.imread`` / ``cv2.imdecode`` turn a phone photo stored sideways (EXIF orientation 2-8) the
right way up; ``tf.io.decode_jpeg`` does not. The SavedModel's ``serving_bytes`` signature uses
:func:`decode_jpeg_like_opencv` so that a file sent as bytes gives the labels of the pixels
OpenCV shows. Everything runs inside the graph (no Python, no deeplab at serving time); a
missing or malformed EXIF block means "upright", never an error.
"""

from __future__ import annotations

import tensorflow as tf

#: The EXIF block must start within this many bytes (it follows SOI and at most a JFIF APP0).
EXIF_SEARCH_BYTES = 65536
_MAX_ENTRIES = 64
_ORIENTATION_TAG = 0x0112
_EXIF_HEADER = b"Exif\x00\x00"


def exif_orientation(data: tf.Tensor) -> tf.Tensor:
    """int32 scalar 1-8: the EXIF orientation of JPEG bytes ``data`` (1 when absent or bad)."""
    head = tf.strings.substr(data, 0, EXIF_SEARCH_BYTES)
    size = EXIF_SEARCH_BYTES + 16 + 12 * _MAX_ENTRIES
    padded = tf.strings.substr(head + tf.constant(b"\x00" * size), 0, size)
    raw = tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int32)
    parts = tf.strings.split(head, sep=_EXIF_HEADER.decode("latin-1"), maxsplit=1)
    found = tf.size(parts) > 1
    tiff = tf.strings.length(parts[0]) + len(_EXIF_HEADER)
    last = size - 4

    def at(index):
        return tf.gather(raw, tf.clip_by_value(index, 0, last + 3))

    little = tf.equal(at(tiff), 0x49)  # "II": little endian, "MM": big endian

    def u16(index):
        index = tf.clip_by_value(index, 0, last)
        low, high = at(index), at(index + 1)
        return tf.where(little, low + 256 * high, 256 * low + high)

    def u32(index):
        index = tf.clip_by_value(index, 0, last)
        first, second = u16(index), u16(index + 2)
        return tf.where(little, first + 65536 * second, 65536 * first + second)

    ifd = tiff + u32(tiff + 4)
    in_range = tf.logical_and(ifd > tiff, ifd < EXIF_SEARCH_BYTES)
    count = tf.minimum(u16(ifd), _MAX_ENTRIES)
    entries = ifd + 2 + 12 * tf.range(_MAX_ENTRIES)
    match = tf.logical_and(tf.equal(u16(entries), _ORIENTATION_TAG),
                           tf.range(_MAX_ENTRIES) < count)
    value = tf.reduce_max(tf.where(match, u16(entries + 8), 0))
    valid = tf.logical_and(tf.logical_and(found, in_range),
                           tf.logical_and(value >= 1, value <= 8))
    return tf.where(valid, value, 1)


def orient_upright(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """``[H, W, C]`` image stored with EXIF ``orientation`` turned the right way up (the same
    transforms as :func:`deeplab.image_files.orient_upright`, i.e. as OpenCV)."""
    def transverse():
        return tf.image.rot90(tf.transpose(image, [1, 0, 2]), 2)

    branches = [
        lambda: image,
        lambda: tf.reverse(image, [1]),
        lambda: tf.image.rot90(image, 2),
        lambda: tf.reverse(image, [0]),
        lambda: tf.transpose(image, [1, 0, 2]),
        lambda: tf.image.rot90(image, 3),
        transverse,
        lambda: tf.image.rot90(image, 1),
    ]
    return tf.switch_case(tf.clip_by_value(orientation, 1, 8) - 1, branches)


def decode_jpeg_like_opencv(data: tf.Tensor) -> tf.Tensor:
    """uint8 ``[H, W, 3]`` RGB as ``cv2.imdecode`` gives it (BGR -> RGB): libjpeg's accurate
    integer IDCT with fancy upsampling, then the EXIF orientation applied."""
    image = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
    return orient_upright(image, exif_orientation(data))
