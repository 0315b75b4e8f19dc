"""The inference contract in numpy (no TensorFlow): what runtimes without TensorFlow (LiteRT,
ONNX) do around the network, computed as the original graph does it.

:mod:`deeplab.contract_tf` has the same functions on tensors; a parity test holds the two
together. Images are uint8 RGB batches ``[B, H, W, 3]``; per-pixel maps are ``[B, h, w, C]``:

    resize_to_crop -> pad_and_normalize -> network -> upsample_and_crop -> (working-size logits)
    -> resize_from_working_size -> softmax
"""

from __future__ import annotations

import numpy as np

from deeplab.input_format import CROP_SIZE, PAD_VALUE, SCALE


def resized_size(height: int, width: int, crop_size: int = CROP_SIZE) -> tuple[int, int]:
    """(h, w) with the longer side equal to ``crop_size`` (truncated as the demo's ``int()``)."""
    ratio = crop_size / max(height, width)
    return int(np.floor(ratio * height)), int(np.floor(ratio * width))


def to_batch(images) -> tuple[np.ndarray, bool]:
    """One ``[H, W, 3]`` image or a ``[B, H, W, 3]`` batch, uint8 RGB -> (batch, was single)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 RGB, got {images.dtype}")
    single = images.ndim == 3
    if single:
        images = images[np.newaxis]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [H, W, 3] or [B, H, W, 3] RGB, got {images.shape}")
    return images, single


def resize_to_crop(images: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """uint8 ``[B, H, W, 3]`` -> uint8 with the longer side ``crop_size`` (unchanged if it is).

    Antialiased bilinear (triangle filter widened by the scale), as ``tf.image.resize(...,
    antialias=True)`` and the original demo's PIL resize; rounded back to uint8.
    """
    height, width = images.shape[1:3]
    if max(height, width) == crop_size:
        return images
    from PIL import Image

    new_height, new_width = resized_size(height, width, crop_size)
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
        (new_width, new_height), Image.Resampling.BILINEAR)) for image in images])


def to_model_range(images: np.ndarray) -> np.ndarray:
    """Pixel values [0, 255] -> float32 [-1, 1] as the graph computes it (``x * SCALE - 1``)."""
    return np.asarray(images, np.float32) * SCALE - np.float32(1.0)


def pad_and_normalize(images: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """uint8/float ``[B, h, w, 3]`` -> float32 ``[B, max(h, crop), max(w, crop), 3]`` in [-1, 1]
    (padding bottom/right with 127.5, which becomes exactly 0.0)."""
    batch, height, width, channels = images.shape
    padded = np.full((batch, max(height, crop_size), max(width, crop_size), channels),
                     PAD_VALUE, np.float32)
    padded[:, :height, :width] = images
    return to_model_range(padded)


def network_input(image: np.ndarray, crop_size: int = CROP_SIZE,
                  resize: bool = True) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 ``[h, w, 3]`` -> (float32 ``[1, S, S, 3]`` in [-1, 1], (h, w) of the image at the
    working size): the input of a fixed-size network (``resize=False``: the image already is
    the working-size image)."""
    resized = image[np.newaxis]
    if resize:
        resized = resize_to_crop(resized, crop_size)
    height, width = resized.shape[1:3]
    if height > crop_size or width > crop_size:
        raise ValueError(f"image {height}x{width} does not fit the {crop_size}-px network")
    return pad_and_normalize(resized, crop_size), (height, width)


def _align_corners_axis(in_size: int, out_size: int, keep: int):
    """Source indices and weights of TF's align-corners bilinear resize along one axis."""
    # TF: scale = float(in - 1) / float(out - 1) in float32, source = float(out_index) * scale.
    scale = np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.float32(0)
    source = np.arange(keep, dtype=np.float32) * scale
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    lerp = (source - lower.astype(np.float32)).astype(np.float32)
    return lower, upper, lerp


def upsample_and_crop(logits: np.ndarray, padded_size, valid_size) -> np.ndarray:
    """The original graph's align-corners upsampling of ``[B, h, w, C]`` logits to
    ``padded_size``, cropped to ``valid_size`` (top-left); the same float32 arithmetic as TF's
    ``ResizeBilinear(align_corners=True)`` (along x, then along y), only for the kept pixels."""
    logits = np.asarray(logits, np.float32)
    in_h, in_w = logits.shape[1:3]
    y0, y1, wy = _align_corners_axis(in_h, int(padded_size[0]), int(valid_size[0]))
    x0, x1, wx = _align_corners_axis(in_w, int(padded_size[1]), int(valid_size[1]))
    left, right = logits[:, :, x0], logits[:, :, x1]
    rows = left + (right - left) * wx[None, None, :, None]         # [B, in_h, w, C]
    top, bottom = rows[:, y0], rows[:, y1]
    return top + (bottom - top) * wy[None, :, None, None]


def resize_from_working_size(values: np.ndarray, size) -> np.ndarray:
    """Per-pixel maps ``[B, h, w, C]`` at the working size -> ``size`` (the photo's own):
    half-pixel-centre bilinear (``cv2.INTER_LINEAR``); unchanged when the sizes match."""
    height, width = int(size[0]), int(size[1])
    if values.shape[1:3] == (height, width):
        return values
    import cv2

    def resize(map_: np.ndarray) -> np.ndarray:  # cv2 takes at most 4 channels at once
        chunks = [cv2.resize(np.ascontiguousarray(map_[..., i:i + 4]), (width, height),
                             interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
                  for i in range(0, map_.shape[-1], 4)]
        return np.concatenate(chunks, axis=-1) if len(chunks) > 1 else chunks[0]

    return np.stack([resize(map_) for map_ in values])


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float32."""
    shifted = np.asarray(logits, np.float32) - np.max(logits, axis=axis, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted
