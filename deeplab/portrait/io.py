"""Reading real-world photos and mattes, and writing results atomically.

Photos are decoded by :mod:`deeplab.image_files` (EXIF orientation, grayscale, alpha, 16-bit and
CMYK all become upright uint8 RGB plus the alpha if there was one; ``UnreadableImageError`` names
the file when it cannot). Outputs go through :mod:`deeplab.atomic` (temp file in the destination
folder + ``os.replace``) so that a crash never leaves a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from deeplab.atomic import write_bytes_atomic, write_bytes_exclusive
from deeplab.image_files import (EXIF_ORIENTATION_TAG, JPEG_SUFFIXES, MAX_PIXELS,
                                 ImageTooLargeError, Photo, UnreadableImageError, decode_image,
                                 decode_pixels, read_photo)

__all__ = ["EXIF_ORIENTATION_TAG", "VIDEO_SUFFIXES",
           "Photo", "UnreadableImageError", "decode_image", "encode_image", "read_photo",
           "read_matte", "write_image"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")


def read_matte(path: str | os.PathLike, size_hw: tuple[int, int] | None = None,
               max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Read a user-given matte as float32 [0, 1] (gray, or the alpha of an RGBA file), within
    the pixel budget ``max_pixels`` (``ImageTooLargeError`` before decoding).

    With ``size_hw`` the matte is resized (bilinear) to the photo when its size differs, e.g. a
    matte painted at a lower resolution. A matte whose aspect ratio differs by more than 2% is
    rejected: it was made for another photo.
    """
    path = Path(path)
    data = np.fromfile(str(path), np.uint8) if path.is_file() else np.zeros(0, np.uint8)
    try:
        decoded = decode_pixels(data, f"matte {path}", max_pixels) if data.size else None
    except ImageTooLargeError:
        raise
    except UnreadableImageError:
        decoded = None
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


def encode_image(image: np.ndarray, extension: str, jpeg_quality: int = 95) -> bytes:
    """Encode an RGB / RGBA / gray uint8 image for ``extension`` (".jpg", ".png", ...)."""
    extension = extension.lower()
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        if extension in JPEG_SUFFIXES:
            raise ValueError("JPEG cannot store alpha: write RGBA images as .png")
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    params: list[int] = []
    if extension in JPEG_SUFFIXES:
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    elif extension == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, buffer = cv2.imencode(extension, image, params)
    if not ok:
        raise ValueError(f"could not encode an image as {extension}")
    return buffer.tobytes()


def write_image(path: str | os.PathLike, image: np.ndarray, jpeg_quality: int = 95,
                overwrite: bool = True) -> Path:
    """Encode and write an RGB/RGBA/gray uint8 image atomically (format from the extension).

    ``overwrite=False`` publishes only if no file of that name exists at that moment
    (``FileExistsError`` otherwise), so concurrent runs never replace each other's outputs.
    """
    path = Path(path)
    data = encode_image(image, path.suffix, jpeg_quality)
    return write_bytes_atomic(path, data) if overwrite else write_bytes_exclusive(path, data)
