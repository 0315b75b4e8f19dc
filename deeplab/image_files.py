"""Reading photos and label masks from disk as numpy arrays (OpenCV), with errors that say what
was expected.

The one place that turns real-world photo files into uint8 RGB: EXIF orientation, grayscale,
alpha (kept separately), 16 bits per channel and CMYK JPEGs all end up the same shape. Used where
files are read outside a ``tf.data`` graph: export check and calibration images, the TFDS folder
builder, mask-encoding detection and portrait mode. (``tf.data`` pipelines decode with
``tf.io``.) NumPy, OpenCV and Pillow only: the TensorFlow-free portrait path reads through it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The one list of image file suffixes. Photo formats OpenCV decodes here (portrait mode, export
#: check and calibration images) ...
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: ... those ``tf.io.decode_image`` decodes too (training data sets: no WebP, no TIFF) ...
TF_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: ... and the JPEG ones (a JPEG photo is written back as JPEG).
JPEG_SUFFIXES = (".jpg", ".jpeg")
EXIF_ORIENTATION_TAG = 0x0112


class UnreadableImageError(ValueError):
    """A file that is missing, empty, truncated or not an image this program can decode."""


class ImageTooLargeError(UnreadableImageError):
    """A valid image with more pixels than the caller's budget (refused before decoding)."""


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the file header without decoding the pixels; None if unknown."""
    try:
        from PIL import Image

        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # no bomb check: we
        try:                                                          # only read the size
            with Image.open(path) as image:
                return int(image.width), int(image.height)
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    except Exception:  # not a format Pillow knows: the decoder will say what it is
        return None


def check_pixel_budget(path: str | os.PathLike, max_pixels: int | None) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` pixels."""
    if max_pixels is None:
        return
    size = header_size(path)
    if size is not None and size[0] * size[1] > max_pixels:
        width, height = size
        raise ImageTooLargeError(
            f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, over the "
            f"limit of {max_pixels / 1e6:.0f} (raise it with --max-megapixels)")


@dataclass
class Photo:
    """An upright uint8 RGB image, its alpha channel if it had one, and where it came from."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path | None = None
    orientation: int = 1

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


def exif_orientation(path: str | os.PathLike) -> int:
    """The EXIF orientation tag (1..8) of an image file, 1 when absent or unreadable.

    Pillow only parses the header here; the pixels are decoded by OpenCV.
    """
    try:
        from PIL import Image

        with Image.open(path) as image:
            value = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except Exception:  # no EXIF, or a format Pillow does not know: treat as upright
        return 1
    return value if 1 <= value <= 8 else 1


def orient_upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an image stored with EXIF ``orientation`` so that it displays upright."""
    import cv2

    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.flip(cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE), 1)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE), 1)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale 16-bit or float images to uint8 (rounding), leave uint8 untouched."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    raise UnreadableImageError(f"unsupported pixel type {image.dtype}")


def decode_image(data: bytes | np.ndarray, orientation: int = 1, name: str = "<bytes>") -> Photo:
    """Decode encoded image bytes into an upright ``Photo`` (RGB uint8 + optional alpha)."""
    import cv2

    buffer = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else data
    if buffer.size == 0:
        raise UnreadableImageError(f"cannot read image {name}: the file is empty")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise UnreadableImageError(f"cannot read image {name}: expected a JPEG, PNG, BMP, TIFF or "
                                   "WebP file (corrupt or unsupported format)")
    decoded = to_uint8(decoded)
    alpha = None
    if decoded.ndim == 2:
        rgb = cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    elif decoded.shape[2] == 1:
        rgb = cv2.cvtColor(decoded[:, :, 0], cv2.COLOR_GRAY2RGB)
    elif decoded.shape[2] == 2:  # gray + alpha
        rgb = cv2.cvtColor(decoded[:, :, 0], cv2.COLOR_GRAY2RGB)
        alpha = np.ascontiguousarray(decoded[:, :, 1])
    elif decoded.shape[2] == 3:
        rgb = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    elif decoded.shape[2] == 4:
        rgb = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB)
        alpha = np.ascontiguousarray(decoded[:, :, 3])
    else:
        raise UnreadableImageError(f"cannot read image {name}: unsupported channel count "
                                   f"{decoded.shape[2]}")
    if orientation != 1:
        rgb = orient_upright(rgb, orientation)
        alpha = None if alpha is None else orient_upright(alpha, orientation)
    if alpha is not None and alpha.min() == 255:
        alpha = None  # fully opaque: no information, keep the fast RGB path
    return Photo(rgb=np.ascontiguousarray(rgb), alpha=alpha, orientation=orientation)


def read_photo(path: str | os.PathLike, *, apply_orientation: bool = True,
               max_pixels: int | None = None) -> Photo:
    """Read an image file as uint8 RGB (upright by its EXIF tag unless told not to); alpha kept
    separately.

    Grayscale becomes RGB, 16-bit becomes 8-bit, CMYK JPEGs are converted by the decoder.
    ``apply_orientation=False`` keeps the stored pixel grid, ignoring the EXIF orientation tag,
    as ``tf.io.decode_image`` does and as label masks (which carry no orientation) are drawn.
    Raises ``UnreadableImageError`` (a ``ValueError``) naming the file when it cannot be read;
    ``ImageTooLargeError`` before decoding when its header declares more than ``max_pixels``.
    """
    path = Path(path)
    check_pixel_budget(path, max_pixels)
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as error:
        raise UnreadableImageError(
            f"cannot read image {path}: {error.strerror or error}") from error
    orientation = exif_orientation(path) if apply_orientation else 1
    photo = decode_image(data, orientation, name=str(path))
    photo.path = path
    return photo


def read_rgb(path: str | os.PathLike, *, apply_orientation: bool = True) -> np.ndarray:
    """A photo as uint8 RGB ``[H, W, 3]`` (grey expanded, alpha dropped); see :func:`read_photo`."""
    return read_photo(path, apply_orientation=apply_orientation).rgb


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A label mask as a 2-D uint8 array of class ids (no colour conversion, no orientation)."""
    import cv2

    data = np.fromfile(str(path), np.uint8)
    mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
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
