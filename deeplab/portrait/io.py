"""Reading real-world photos and writing results atomically.

Photos arrive rotated by EXIF, as grayscale, with alpha, with 16 bits per channel or as CMYK JPEGs.
``read_image`` turns all of them into one shape (uint8 RGB, upright, plus the alpha if there was
one) and raises ``UnreadableImageError`` naming the file when it cannot. Outputs go through a temp
file in the destination folder and ``os.replace`` so that a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
JPEG_EXTENSIONS = (".jpg", ".jpeg")
EXIF_ORIENTATION_TAG = 0x0112


class UnreadableImageError(ValueError):
    """A file that is missing, empty, truncated or not an image this program can decode."""


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


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag (1..8) of an image file, 1 when absent or unreadable.

    Pillow only parses the header here; the pixels are decoded by OpenCV.
    """
    try:
        from PIL import Image

        with Image.open(path) as image:
            value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
        value = int(value)
    except Exception:  # no EXIF, or a format Pillow does not know: treat as upright
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an image stored with EXIF ``orientation`` so that it displays upright."""
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
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else data
    if buffer.size == 0:
        raise UnreadableImageError(f"{name}: empty file")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise UnreadableImageError(f"{name}: not a decodable image (corrupt or unsupported format)")
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
        raise UnreadableImageError(f"{name}: unsupported channel count {decoded.shape[2]}")
    if orientation != 1:
        rgb = apply_orientation(rgb, orientation)
        alpha = None if alpha is None else apply_orientation(alpha, orientation)
    if alpha is not None and alpha.min() == 255:
        alpha = None  # fully opaque: no information, keep the fast RGB path
    return Photo(rgb=np.ascontiguousarray(rgb), alpha=alpha, orientation=orientation)


def read_image(path: str | os.PathLike) -> Photo:
    """Read an image file upright (EXIF honoured) as uint8 RGB; alpha kept separately.

    Grayscale becomes RGB, 16-bit becomes 8-bit, CMYK JPEGs are converted by the decoder.
    Raises ``UnreadableImageError`` with the file name for anything that cannot be decoded.
    """
    path = Path(path)
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as error:
        raise UnreadableImageError(f"{path}: cannot read file ({error.strerror or error})") from error
    photo = decode_image(data, exif_orientation(path), name=str(path))
    photo.path = path
    return photo


def read_matte(path: str | os.PathLike, size_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read a user-given matte as float32 [0, 1] (gray, or the alpha of an RGBA file).

    With ``size_hw`` the matte is resized (bilinear) to the photo when its size differs, e.g. a
    matte painted at a lower resolution. A matte whose aspect ratio differs by more than 2% is
    rejected: it was made for another photo.
    """
    path = Path(path)
    data = np.fromfile(str(path), np.uint8) if path.is_file() else np.zeros(0, np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if decoded is None:
        raise UnreadableImageError(f"{path}: matte is missing or not a decodable image")
    if decoded.ndim == 3:
        if decoded.shape[2] == 4:
            decoded = decoded[:, :, 3]
        elif decoded.shape[2] == 2:
            decoded = decoded[:, :, 1]
        else:
            decoded = cv2.cvtColor(decoded[:, :, :3], cv2.COLOR_BGR2GRAY)
    scale = 65535.0 if decoded.dtype == np.uint16 else 255.0
    matte = decoded.astype(np.float32) / np.float32(scale) if decoded.dtype != np.float32 else decoded
    if size_hw is not None and matte.shape[:2] != tuple(size_hw):
        h, w = matte.shape[:2]
        th, tw = size_hw
        if abs(h / w - th / tw) > 0.02 * (th / tw):
            raise ValueError(
                f"{path}: matte is {w}x{h} but the photo is {tw}x{th} (different aspect ratio)")
        interpolation = cv2.INTER_AREA if h > th else cv2.INTER_LINEAR
        matte = cv2.resize(matte, (tw, th), interpolation=interpolation)
    return np.clip(matte, 0.0, 1.0).astype(np.float32)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path``, on error it vanishes.

    The temp file keeps the destination's extension because encoders (OpenCV's video writer)
    choose the container from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}",
                                         dir=path.parent)
    os.close(handle)
    temp_path = Path(temp_name)
    try:
        yield temp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_path, 0o666 & ~umask)  # mkstemp creates 0600; outputs get normal rights
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise


def encode_image(image: np.ndarray, extension: str, jpeg_quality: int = 95) -> bytes:
    """Encode an RGB / RGBA / gray uint8 image for ``extension`` (".jpg", ".png", ...)."""
    extension = extension.lower()
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        if extension in JPEG_EXTENSIONS:
            raise ValueError("JPEG cannot store alpha: write RGBA images as .png")
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    params: list[int] = []
    if extension in JPEG_EXTENSIONS:
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    elif extension == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, buffer = cv2.imencode(extension, image, params)
    if not ok:
        raise ValueError(f"could not encode an image as {extension}")
    return buffer.tobytes()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and an atomic rename."""
    path = Path(path)
    with atomic_output(path) as temp_path:
        with open(temp_path, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    return path


def write_image(path: str | os.PathLike, image: np.ndarray, jpeg_quality: int = 95) -> Path:
    """Encode and write an RGB/RGBA/gray uint8 image atomically (format from the extension)."""
    path = Path(path)
    return write_bytes_atomic(path, encode_image(image, path.suffix, jpeg_quality))
