"""Compositing a photo with its matte: blur, replace, cutout, matte, overlay, compare.

All functions take the uint8 RGB photo and a float32 matte in [0, 1] at the photo's resolution
(1 = subject) and return uint8 images; they never threshold the matte.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from deeplab.portrait.bokeh import BokehConfig, blur_background
from deeplab.portrait.resample import Shrunk

MODES = ("blur", "replace", "cutout", "matte", "overlay", "compare")

# Local background colour estimate used to remove the old background from edge pixels.
SPILL_BACKGROUND = BokehConfig(relative_radius=0.02, linear_light=False, highlight_gain=0.0)


OPAQUE = 254.5 / 255  # mattes above this are treated as exactly 1 (below half a code value)
CLEAR = 0.5 / 255


def blend(foreground: np.ndarray, background: np.ndarray, matte: np.ndarray,
          out: np.ndarray | None = None, tile: int = 64) -> np.ndarray:
    """``matte * foreground + (1 - matte) * background`` for uint8 RGB images, as uint8.

    Opaque pixels are copied; the blend runs only on ``tile``-sized blocks that hold
    semi-transparent pixels (the subject's outline), which is what keeps 12-megapixel composites
    fast. Pass ``out=background`` to composite in place.
    """
    if out is None:
        out = background.copy()
    elif out is not background:
        np.copyto(out, background)
    matte = matte.astype(np.float32, copy=False)
    opaque = matte > OPAQUE
    cv2.copyTo(foreground, opaque.view(np.uint8), out)
    edge = (matte > CLEAR) ^ opaque
    height, width = matte.shape
    rows, cols = -(-height // tile), -(-width // tile)
    padded = np.zeros((rows * tile, cols * tile), bool)
    padded[:height, :width] = edge
    flags = padded.reshape(rows, tile, cols, tile).any(axis=(1, 3))
    for row, col in zip(*np.nonzero(flags)):
        ys = slice(row * tile, min((row + 1) * tile, height))
        xs = slice(col * tile, min((col + 1) * tile, width))
        weights = np.ascontiguousarray(matte[ys, xs])
        out[ys, xs] = cv2.blendLinear(np.ascontiguousarray(foreground[ys, xs]),
                                      np.ascontiguousarray(out[ys, xs]), weights,
                                      np.float32(1.0) - weights)
    return out


def blend_decontaminated(image: np.ndarray, old_background: np.ndarray,
                         new_background: np.ndarray, matte: np.ndarray, out: np.ndarray,
                         min_alpha: float = 0.05, tile: int = 64) -> np.ndarray:
    """Composite the subject's own colour (old background removed) over a new background.

    ``out`` must hold ``new_background`` (it is composited in place). In semi-transparent pixels
    ``F = I + (1 - a) / a * (I - B_old)`` replaces the photo's colour, so hair keeps its colour
    and the old, sharp background does not show through; elsewhere this is a plain blend.
    """
    matte = matte.astype(np.float32, copy=False)
    opaque = matte > OPAQUE
    cv2.copyTo(image, opaque.view(np.uint8), out)
    for ys, xs in _edge_tiles(matte, opaque, tile):
        alpha = matte[ys, xs][..., None]
        photo = image[ys, xs].astype(np.float32)
        gain = (1.0 - alpha) / np.maximum(alpha, np.float32(min_alpha))
        foreground = np.clip(photo + gain * (photo - old_background[ys, xs]), 0, 255)
        new = out[ys, xs].astype(np.float32)
        out[ys, xs] = (new + (foreground - new) * alpha + np.float32(0.5)).astype(np.uint8)
    return out


def _edge_tiles(matte: np.ndarray, opaque: np.ndarray, tile: int):
    """Slices of the ``tile``-sized blocks that contain semi-transparent pixels."""
    edge = (matte > CLEAR) ^ opaque
    height, width = matte.shape
    rows, cols = -(-height // tile), -(-width // tile)
    padded = np.zeros((rows * tile, cols * tile), bool)
    padded[:height, :width] = edge
    flags = padded.reshape(rows, tile, cols, tile).any(axis=(1, 3))
    for row, col in zip(*np.nonzero(flags)):
        yield (slice(row * tile, min((row + 1) * tile, height)),
               slice(col * tile, min((col + 1) * tile, width)))


def blur_composite(image: np.ndarray, matte: np.ndarray, config: BokehConfig = BokehConfig(),
                   working: Shrunk | None = None, working_matte: np.ndarray | None = None
                   ) -> np.ndarray:
    """Portrait shot: the subject as photographed over the lens-blurred background.

    Edge pixels get the subject's decontaminated colour, estimated against a lightly blurred,
    mask-aware local background, so neither the old sharp background nor a rim of it remains.
    """
    background = blur_background(image, matte, config, working, working_matte)
    height, width = image.shape[:2]
    radius = config.radius_for(height, width)
    local = replace(SPILL_BACKGROUND, radius=max(1.0, 0.25 * radius), relative_radius=0.0)
    if working is not None and working.scale > 1:  # stay at the working size: no big resample
        local = replace(local, radius=max(local.radius, 2.0 * working.scale),
                        max_working_radius=2)
    old_background = blur_background(image, matte, local, working, working_matte)
    return blend_decontaminated(image, old_background, background, matte, out=background)


def estimate_foreground(image: np.ndarray, matte: np.ndarray,
                        old_background: np.ndarray | None = None,
                        min_alpha: float = 0.05) -> np.ndarray:
    """Subject colours with the old background's spill removed from semi-transparent pixels.

    From ``I = a F + (1 - a) B``, ``F = I + (1 - a) / a * (I - B)`` with ``B`` the local average
    of the background (mask-aware, so the subject does not pollute it). Fully opaque pixels keep
    their colour exactly; the correction is limited where ``a`` is tiny to avoid amplifying noise.
    """
    if old_background is None:
        old_background = blur_background(image, matte, SPILL_BACKGROUND)
    alpha = matte.astype(np.float32, copy=False)[..., None]
    image_f = image.astype(np.float32)
    gain = (1.0 - alpha) / np.maximum(alpha, min_alpha)
    foreground = image_f + gain * (image_f - old_background.astype(np.float32))
    return np.clip(np.rint(foreground), 0, 255).astype(np.uint8)


def fit_background(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a replacement background to cover ``height x width`` and centre-crop it."""
    bh, bw = background.shape[:2]
    scale = max(height / bh, width / bw)
    size = (max(width, round(bw * scale)), max(height, round(bh * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(background, size, interpolation=interpolation)
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def replace_composite(image: np.ndarray, matte: np.ndarray, new_background: np.ndarray
                      ) -> np.ndarray:
    """The subject over a new background, with the old background's colour spill removed."""
    height, width = image.shape[:2]
    background = fit_background(new_background, height, width)
    foreground = estimate_foreground(image, matte)
    return blend(foreground, background, matte)


def cutout(image: np.ndarray, matte: np.ndarray, input_alpha: np.ndarray | None = None
           ) -> np.ndarray:
    """RGBA cut-out: spill-free subject colours, the matte (times any input alpha) as alpha."""
    alpha = matte if input_alpha is None else matte * (input_alpha.astype(np.float32) / 255.0)
    foreground = estimate_foreground(image, matte)
    alpha8 = matte_to_uint8(alpha)
    return np.dstack([foreground, alpha8])


def matte_to_uint8(matte: np.ndarray) -> np.ndarray:
    """8-bit alpha image of a float matte."""
    return np.clip(np.rint(matte * 255.0), 0, 255).astype(np.uint8)


def label_image(image: np.ndarray, text: str) -> np.ndarray:
    """Write a caption in the top-left corner (white on a dark box), scaled to the image."""
    out = image.copy()
    scale = max(0.5, image.shape[1] / 900)
    thickness = max(1, int(round(scale * 2)))
    (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = int(6 * scale)
    cv2.rectangle(out, (0, 0), (tw + 2 * pad, th + baseline + 2 * pad), (0, 0, 0), -1)
    cv2.putText(out, text, (pad, th + pad), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thickness, cv2.LINE_AA)
    return out


def side_by_side(left: np.ndarray, right: np.ndarray, left_label: str = "tutorial",
                 right_label: str = "ours", gap: int = 8) -> np.ndarray:
    """Two same-height images next to each other with captions and a white gap."""
    if left.shape[0] != right.shape[0]:
        raise ValueError("side_by_side needs images of the same height")
    spacer = np.full((left.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([label_image(left, left_label), spacer, label_image(right, right_label)],
                          axis=1)
