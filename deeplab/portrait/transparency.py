"""Photos with an alpha channel: keep their transparency in the output, or flatten them first.

A PNG, WebP, TIFF or GIF may be partly transparent. The colour stored under a fully transparent
pixel is not part of the picture (often black, or whatever the editor left there), so it must
never reach the network, the blur or the output as if it were content.

- ``keep`` (default): the hidden colours are replaced by a smooth extension of the visible ones
  (``fill_hidden``), the photo is processed as usual and the output carries the input's alpha
  (``attach_alpha``; times the matte in ``cutout`` and ``matte`` modes).
- ``flatten``: the photo is composited over ``FLATTEN_COLOUR`` (white, as most viewers show
  transparency) and processed as an opaque photo.
"""

from __future__ import annotations

import cv2
import numpy as np

ALPHA_CHOICES = ("keep", "flatten")
FLATTEN_COLOUR = (255, 255, 255)
#: Longer side at which the hidden colours are filled in.
FILL_SIDE = 1024
#: Output formats that can store an alpha channel.
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")


def check_alpha_choice(choice: str) -> None:
    if choice not in ALPHA_CHOICES:
        raise ValueError(f"unknown alpha handling {choice!r}; choose one of {ALPHA_CHOICES}")


def flatten(rgb: np.ndarray, alpha: np.ndarray,
            colour: tuple[int, int, int] = FLATTEN_COLOUR) -> np.ndarray:
    """The photo composited over a plain ``colour``: uint8 RGB ``a * rgb + (1 - a) * colour``."""
    a = alpha.astype(np.float32)[..., None] * np.float32(1.0 / 255.0)
    plain = np.asarray(colour, np.float32)
    out = rgb.astype(np.float32) * a + plain * (np.float32(1.0) - a)
    return np.clip(out + np.float32(0.5), 0, 255).astype(np.uint8)


def fill_hidden(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` with the colour under fully transparent pixels replaced by a smooth extension of
    the visible colours (push-pull: alpha-weighted averages down a pyramid, filled back up).

    Visible pixels (alpha > 0) keep their colour exactly. The fill is computed with the longer
    side at most ``FILL_SIDE`` (it only has to be plausible) and sampled up into the hidden
    pixels, so a 100-MP photo costs a few uint8 copies.
    """
    weight = cv2.compare(alpha, 0, cv2.CMP_GT)  # 0 / 255
    visible = cv2.countNonZero(weight)
    if visible == alpha.size:
        return rgb
    if visible == 0:
        return np.full_like(rgb, 128)
    height, width = alpha.shape
    scale = min(1.0, FILL_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shown = cv2.bitwise_and(rgb, rgb, mask=weight)  # hidden colours set to 0
    small = cv2.resize(shown, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_weight = cv2.resize(weight, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    filled = _push_pull(small, small_weight * np.float32(1.0 / 255.0))
    filled = np.clip(filled + np.float32(0.5), 0, 255).astype(np.uint8)
    if size != (width, height):
        filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.copyTo(filled, cv2.bitwise_not(weight), shown)  # into the hidden pixels only


def _push_pull(weighted: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Colours where ``weight`` > 0, filled elsewhere from coarser levels (recursive)."""
    height, width = weight.shape
    known = weight > 1e-6
    colour = weighted / np.maximum(weight, np.float32(1e-6))[..., None]
    if known.all() or min(height, width) <= 1:
        if not known.all():  # a 1-pixel level: the mean of what is known
            total = weight.sum()
            mean = weighted.reshape(-1, 3).sum(axis=0) / max(float(total), 1e-6)
            colour[~known] = mean
        return colour
    size = ((width + 1) // 2, (height + 1) // 2)
    coarse = _push_pull(cv2.resize(weighted, size, interpolation=cv2.INTER_AREA),
                        cv2.resize(weight, size, interpolation=cv2.INTER_AREA))
    up = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    colour[~known] = up[~known]
    return colour


def carries_alpha(suffix: str) -> bool:
    """Whether an output file with this suffix can store an alpha channel."""
    return suffix.lower() in ALPHA_SUFFIXES


def attach_alpha(image: np.ndarray, alpha: np.ndarray, mode: str) -> np.ndarray:
    """The rendered ``image`` with the input photo's ``alpha``: RGBA for picture modes, the matte
    times the alpha in ``matte`` mode, the side-by-side's two halves in ``compare`` mode.
    (``cutout`` output already multiplies its alpha by the input's.)"""
    if mode == "cutout":
        return image
    if mode == "matte":
        return cv2.multiply(image, alpha, scale=1.0 / 255.0)
    if image.shape[1] != alpha.shape[1]:  # compare: photo | gap | photo
        gap = image.shape[1] - 2 * alpha.shape[1]
        alpha = np.concatenate([alpha, np.full((alpha.shape[0], gap), 255, np.uint8), alpha],
                               axis=1)
    return np.dstack([image[..., :3], alpha])
