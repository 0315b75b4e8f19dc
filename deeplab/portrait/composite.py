"""Compositing a photo with its matte: blur, replace, cutout, matte, overlay, compare.

All functions take the uint8 RGB photo and its matte at the photo's resolution (a
``RefinedMatte`` from ``matte.refine``, or a float32 array in [0, 1] / uint8 array, 1 or 255 =
subject) and return uint8 images; they never threshold the matte. Full-resolution work is limited
to the tiles on the subject's outline (``tiles.EdgeTiles``): the photo is copied into opaque
tiles, the background into clear ones, and only mixed tiles are blended.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from deeplab.portrait.bokeh import BokehConfig, blur_background_low
from deeplab.portrait.matte import RefinedMatte, to_uint8
from deeplab.portrait.resample import Shrunk, expand, fit_size, shrink
from deeplab.portrait.tiles import LowResMap, sample

MODES = ("blur", "replace", "cutout", "matte", "overlay", "compare")

# Local background colour estimate used to remove the old background from edge pixels.
# Its radius is the blur radius in blur mode: a wide, mask-aware average has enough background
# samples next to every hair and is smooth enough to run at a few px (max_working_radius).
SPILL_BACKGROUND = BokehConfig(relative_radius=0.02, linear_light=False, highlight_gain=0.0,
                               max_working_radius=4)
MIN_ALPHA = 0.05  # decontamination gain is capped at (1 - a) / MIN_ALPHA


def as_refined(matte) -> RefinedMatte:
    """A ``RefinedMatte`` for a refined matte or a full-resolution float/uint8 array."""
    return matte if isinstance(matte, RefinedMatte) else RefinedMatte.from_array(matte)


def blend(foreground: np.ndarray, background: np.ndarray, matte) -> np.ndarray:
    """``matte * foreground + (1 - matte) * background`` for uint8 RGB images, as uint8.

    Opaque tiles are copied; only tiles holding semi-transparent pixels are blended.
    """
    refined = as_refined(matte)
    out = background.copy()
    refined.tiles.copy_opaque(foreground, out)
    return composite_edges(foreground, refined, out, None)


def spill_background(image: np.ndarray, refined: RefinedMatte, radius: float | None = None,
                     working: Shrunk | None = None) -> tuple[np.ndarray, LowResMap] | None:
    """Low-resolution local background (mask-aware, lightly blurred) for decontamination.

    ``radius`` in full-resolution pixels (default: ``SPILL_BACKGROUND``'s relative radius).
    """
    height, width = image.shape[:2]
    radius = SPILL_BACKGROUND.radius_for(height, width) if radius is None else radius
    local = replace(SPILL_BACKGROUND, radius=max(1.0, radius), relative_radius=0.0)
    return blur_background_low(image, refined.alpha8, local, working,
                               _working_matte(refined, working))


def _working_matte(refined: RefinedMatte, working: Shrunk | None) -> np.ndarray | None:
    """The refined matte at the working image's resolution, when it has one."""
    low = refined.low
    if working is None or low is None or low.shape != working.image.shape[:2]:
        return None
    return low


def decontaminated_foreground(photo: np.ndarray, alpha: np.ndarray, old_background: np.ndarray,
                              min_alpha: float = MIN_ALPHA) -> np.ndarray:
    """float32 subject colour ``F = I + (1 - a) / a * (I - B_old)``, clipped to [0, 255].

    From ``I = a F + (1 - a) B``: removes the old background that shows through semi-transparent
    pixels (hair keeps its colour); opaque pixels are unchanged. ``alpha`` is float32 in [0, 1]
    with a trailing axis of 1; the gain is capped where ``a`` is tiny (noise).
    """
    photo = photo.astype(np.float32)
    gain = (np.float32(1.0) - alpha) / np.maximum(alpha, np.float32(min_alpha))
    foreground = photo - old_background.astype(np.float32)
    foreground *= gain
    foreground += photo
    return np.clip(foreground, 0.0, 255.0, out=foreground)


def composite_over(photo: np.ndarray, alpha8: np.ndarray, new_background: np.ndarray,
                   old_background: np.ndarray | None) -> np.ndarray:
    """``a F + (1 - a) B_new`` in uint8 arithmetic, with the old background taken out of ``F``.

    ``a F`` is the photo minus the old background's share, ``I - (1 - a) B_old``, kept within
    ``[0, 255 a]``: the same as ``a * clip(F, 0, 255)`` with ``F`` from
    ``decontaminated_foreground``, and the clip bounds the correction by ``a`` where ``a`` is
    tiny. All operations are saturating OpenCV uint8 ones (no float copies); rounding is within
    one level. ``old_background`` None: a plain blend.
    """
    alpha3 = cv2.merge((alpha8, alpha8, alpha8))
    rest3 = cv2.bitwise_not(alpha3)  # 255 - a
    if old_background is None:
        premultiplied = cv2.multiply(photo, alpha3, scale=1.0 / 255.0)
    else:
        premultiplied = cv2.subtract(photo, cv2.multiply(old_background, rest3,
                                                         scale=1.0 / 255.0))
        premultiplied = cv2.min(premultiplied, alpha3)
    return cv2.add(cv2.multiply(new_background, rest3, scale=1.0 / 255.0), premultiplied)


def composite_edges(image: np.ndarray, refined: RefinedMatte, out: np.ndarray,
                    old_background: tuple[np.ndarray, LowResMap] | None) -> np.ndarray:
    """Blend the (decontaminated) subject over ``out`` in the mixed tiles, in place.

    ``out`` already holds the new background, and the subject in the opaque tiles.
    ``old_background``: the photo's low-resolution local background (None: a plain blend).
    """
    for ys, xs in refined.tiles.mixed_runs():
        old = None if old_background is None else sample(*old_background, ys, xs)
        out[ys, xs] = composite_over(image[ys, xs], refined.alpha8[ys, xs], out[ys, xs], old)
    return out


def blur_composite(image: np.ndarray, matte, config: BokehConfig = BokehConfig(),
                   working: Shrunk | None = None, working_matte: np.ndarray | None = None
                   ) -> np.ndarray:
    """Portrait shot: the subject as photographed over the lens-blurred background.

    The background is blurred at reduced resolution and upsampled once; the photo is copied into
    the opaque tiles; the mixed tiles along the outline get the subject's decontaminated colour
    (estimated against a lightly blurred, mask-aware local background) blended over the blur,
    so neither the old sharp background nor a rim of it remains.
    """
    refined = as_refined(matte)
    if working_matte is None:
        working_matte = _working_matte(refined, working)
    height, width = image.shape[:2]
    low = blur_background_low(image, refined.alpha8, config, working, working_matte)
    if low is None:
        return image.copy()
    out = expand(low[0], low[1].covered_hw, low[1].full_hw)
    refined.tiles.copy_opaque(image, out)
    spill = spill_background(image, refined, config.radius_for(height, width), working)
    return composite_edges(image, refined, out, spill)


def estimate_foreground(image: np.ndarray, matte, working: Shrunk | None = None) -> np.ndarray:
    """Subject colours with the old background's spill removed from semi-transparent pixels.

    uint8 RGB: the photo, with the decontaminated colour (``decontaminated_foreground``) in the
    mixed tiles; opaque pixels keep their colour exactly.
    """
    refined = as_refined(matte)
    out = image.copy()
    spill = None
    for ys, xs in refined.tiles.mixed_runs():
        if spill is None:
            spill = spill_background(image, refined, working=working)
        alpha = refined.alpha8[ys, xs].astype(np.float32)[..., None] * np.float32(1 / 255)
        old = sample(*spill, ys, xs) if spill is not None else image[ys, xs]
        foreground = decontaminated_foreground(image[ys, xs], alpha, old)
        out[ys, xs] = foreground + np.float32(0.5)
    return out


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


#: Light wrap: at most this share of the new background's (blurred) light on the subject's
#: edge, over about this fraction of the diagonal (video-call products do the same, so that a
#: subject seems lit by the scene it is put in).
LIGHT_WRAP = 0.3
LIGHT_WRAP_RADIUS = 0.006
WRAP_ROWS = 256
#: Colour consistency: an edge pixel within this colour distance (Euclidean, 0..441) of the
#: local old background keeps only that fraction of its alpha.
BACKGROUND_LIKE_DISTANCE = 40.0
#: ... unless the network is sure the pixel is the subject: from this probability on the drop
#: shrinks, and at 1 there is none (a grey cheek as bright as the sky behind it stays).
CONFIDENT_FROM = 0.9


def consistent_alpha(photo: np.ndarray, alpha8: np.ndarray, old_background: np.ndarray,
                     confidence: np.ndarray | None = None) -> np.ndarray:
    """The matte lowered where the pixel looks like the old background there.

    A matte that spills over the background (a soft rim above the hair) would paste the old
    background's colour onto the new one: an olive or grey fringe. An edge pixel whose colour is
    within ``BACKGROUND_LIKE_DISTANCE`` of the local background estimate keeps alpha in
    proportion to that distance (never raised); subject pixels, whose colour differs from what
    is behind them, keep theirs. ``confidence`` (the network's subject probability at these
    pixels) protects what the network is sure of: a colour match alone must not open a hole
    inside the subject (a grayscale portrait's cheek is as bright as the sky).
    """
    difference = photo.astype(np.float32) - old_background.astype(np.float32)
    distance = np.sqrt((difference * difference).sum(axis=-1))
    keep = np.clip(distance * np.float32(1.0 / BACKGROUND_LIKE_DISTANCE), 0.0, 1.0)
    if confidence is not None:
        sure = (confidence - np.float32(CONFIDENT_FROM)) * np.float32(1.0 / (1.0 - CONFIDENT_FROM))
        keep = np.maximum(keep, np.clip(sure, 0.0, 1.0))
    return np.clip(alpha8.astype(np.float32) * keep + 0.5, 0, 255).astype(np.uint8)


def light_wrap(out: np.ndarray, refined: RefinedMatte, new_background: np.ndarray,
               strength: float = LIGHT_WRAP, relative_radius: float = LIGHT_WRAP_RADIUS
               ) -> np.ndarray:
    """Let the new background's light spill a little onto the subject's edge, in place.

    Weight ``strength * a * (1 - blur(a))`` (x2, capped): largest just inside the outline,
    gone a few pixels in, zero outside the subject. Computed at about 512 px and sampled on the
    band where it is not zero.
    """
    height, width = out.shape[:2]
    radius = max(2.0, relative_radius * float(np.hypot(height, width)))
    low = refined.low
    if low is None:
        low = shrink(refined.alpha8, fit_size(height, width, 512)).image.astype(np.float32) / 255
    scale = low.shape[1] / width
    low_radius = max(1.0, radius * scale)
    size = 2 * int(np.ceil(low_radius)) + 1
    spread = cv2.GaussianBlur(low, (size, size), low_radius / 2)
    weight = np.clip(2.0 * low * (1.0 - spread), 0.0, 1.0) * np.float32(strength)
    if weight.max() < 1.0 / 255:
        return out
    light = cv2.GaussianBlur(cv2.resize(new_background, low.shape[::-1],
                                        interpolation=cv2.INTER_AREA), (size, size),
                             low_radius / 2)
    rows = np.flatnonzero(weight.max(axis=1) >= 1.0 / 255)
    cols = np.flatnonzero(weight.max(axis=0) >= 1.0 / 255)
    y0, y1 = int(rows[0] / scale), min(height, int(np.ceil((rows[-1] + 1) / scale)))
    x0, x1 = int(cols[0] / scale), min(width, int(np.ceil((cols[-1] + 1) / scale)))
    geometry = LowResMap(low.shape, (height, width), (height, width))
    light = light.astype(np.float32)
    columns = slice(x0, x1)
    for top in range(y0, y1, WRAP_ROWS):  # in strips: a 100-MP photo stays within memory
        rows = slice(top, min(top + WRAP_ROWS, y1))
        w = sample(weight, geometry, rows, columns)[..., None]
        lit = sample(light, geometry, rows, columns)
        target = out[rows, columns].astype(np.float32)
        lit -= target
        lit *= w
        lit += target
        out[rows, columns] = np.clip(lit + 0.5, 0, 255).astype(np.uint8)
    return out


def replace_composite(image: np.ndarray, matte, new_background: np.ndarray,
                      working: Shrunk | None = None, wrap: float = LIGHT_WRAP) -> np.ndarray:
    """The subject over a new background: the old background's colour spill removed, edge
    pixels whose colour is the old background's dropped (no fringe), a little of the new
    background's light wrapped round the edge."""
    refined = as_refined(matte)
    height, width = image.shape[:2]
    fitted = fit_background(new_background, height, width)
    out = fitted.copy()
    refined.tiles.copy_opaque(image, out)
    old = spill_background(image, refined, working=working)
    for ys, xs in refined.tiles.mixed_runs():
        alpha8 = refined.alpha8[ys, xs]
        background = None if old is None else sample(*old, ys, xs)
        if background is not None:
            sure = None if refined.confidence is None else sample(*refined.confidence, ys, xs)
            alpha8 = consistent_alpha(image[ys, xs], alpha8, background, sure)
        out[ys, xs] = composite_over(image[ys, xs], alpha8, out[ys, xs], background)
    return light_wrap(out, refined, fitted, wrap) if wrap > 0 else out


def cutout(image: np.ndarray, matte, input_alpha: np.ndarray | None = None,
           working: Shrunk | None = None) -> np.ndarray:
    """RGBA cut-out: spill-free subject colours, the matte (times any input alpha) as alpha."""
    refined = as_refined(matte)
    alpha8 = refined.alpha8
    if input_alpha is not None:
        alpha8 = cv2.multiply(alpha8, input_alpha, scale=1.0 / 255.0)
    foreground = estimate_foreground(image, refined, working)
    return np.dstack([foreground, alpha8])


def matte_to_uint8(matte) -> np.ndarray:
    """8-bit alpha image of a matte (refined, float in [0, 1] or already uint8)."""
    if isinstance(matte, RefinedMatte):
        return matte.alpha8
    matte = np.asarray(matte)
    return matte if matte.dtype == np.uint8 else to_uint8(np.minimum(matte, 1.0))


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
