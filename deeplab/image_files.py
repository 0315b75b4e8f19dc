"""Reading photos and label masks from disk as numpy arrays (OpenCV), with errors that say what
was expected.

Used where files are read outside a ``tf.data`` graph: export check and calibration images, the
TFDS folder builder, mask-encoding detection. (``tf.data`` pipelines decode with ``tf.io``.)
"""

from __future__ import annotations

import os

import numpy as np

#: Photo formats OpenCV decodes here (``tf.io.decode_image`` lacks WebP: see deeplab.data.folder).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _decode(path: str | os.PathLike, flags: int) -> np.ndarray | None:
    import cv2

    data = np.fromfile(str(path), np.uint8)
    return cv2.imdecode(data, flags) if data.size else None


def read_rgb(path: str | os.PathLike, *, apply_orientation: bool = True) -> np.ndarray:
    """A photo as uint8 RGB ``[H, W, 3]`` (grey expanded, alpha dropped).

    ``apply_orientation=False`` keeps the stored pixel grid, ignoring the EXIF orientation tag,
    as ``tf.io.decode_image`` does and as label masks (which carry no orientation) are drawn.
    """
    import cv2

    flags = cv2.IMREAD_COLOR | (0 if apply_orientation else cv2.IMREAD_IGNORE_ORIENTATION)
    image = _decode(path, flags)
    if image is None:
        raise ValueError(f"cannot read image {path}: expected a JPEG, PNG, BMP or WebP file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A label mask as a 2-D uint8 array of class ids (no colour conversion, no orientation)."""
    import cv2

    mask = _decode(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f"cannot read mask {path}: expected a single-channel PNG of class ids")
    if mask.ndim == 3:
        raise ValueError(
            f"mask {path} has {mask.shape[2]} channels: masks must be single-channel PNGs of "
            "class ids (palette PNGs: convert to grey-level ids first)")
    if mask.dtype != np.uint8:
        raise ValueError(f"mask {path} is {mask.dtype}: class-id masks must be 8-bit (ids 0-254, "
                         "255 = ignore)")
    return mask
