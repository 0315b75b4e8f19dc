"""Lens-like background blur: disc kernel, mask-aware normalised convolution, linear light.

What a fast lens does and a box blur does not: out-of-focus points become discs (disc kernel),
bright points stay bright (blur in linear light with a highlight boost, not on gamma-encoded
values), and the in-focus subject does not smear into the background around it (normalised
convolution that averages background pixels only: no dark or bright halo). The blur runs at a
reduced resolution where the disc radius is small, and the result is upsampled to the photo; the
blurred background is smooth, so nothing visible is lost and a 12-megapixel photo costs tens of ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deeplab.portrait.resample import Shrunk, expand, shrink
from deeplab.portrait.tiles import LowResMap


@dataclass(frozen=True)
class BokehConfig:
    """Background blur settings.

    ``radius``: disc radius in full-resolution pixels; ``None`` uses ``relative_radius`` times the
    image diagonal so the look does not depend on the resolution. ``max_working_radius``: the blur
    runs at the resolution where the disc radius is at most this many pixels. ``highlight_*``:
    small bright spots (above the threshold, see ``boost_highlights``) are amplified before
    blurring so they bloom into discs. ``depth_falloff``: 0 blurs the background uniformly; > 0
    lets the blur grow from ``near_strength`` next to the subject to full strength at this
    fraction of the diagonal away. Below ``linear_min_radius`` px the blur is too small for
    bokeh discs to show and gets no highlight boost (nor linear light); the boost ramps up to
    full strength at ``highlight_full_radius`` px. ``linear_light`` averages linear light
    instead of the encoded values: physically closer, but it brightens textured background
    next to the subject unevenly (halo ratio 0.07-0.10 at 20-40 px on person_dev against
    0.02-0.05 for encoded values), hence off by default. ``guard``: background samples keep
    this many pixels away from the subject (see ``guarded``).
    """

    radius: float | None = None
    relative_radius: float = 0.012
    max_working_radius: int = 8
    linear_light: bool = False
    highlight_threshold: float = 0.9
    highlight_gain: float = 1.0
    depth_falloff: float = 0.0
    near_strength: float = 0.35
    min_support: float = 0.05
    linear_min_radius: float = 8.0
    highlight_full_radius: float = 32.0
    guard: float = 2.0

    def radius_for(self, height: int, width: int) -> float:
        """The disc radius in full-resolution pixels for an image of this size."""
        if self.radius is not None:
            if not np.isfinite(self.radius) or self.radius < 0:
                raise ValueError(f"blur radius must be finite and >= 0, got {self.radius}")
            # beyond the diagonal every disc covers the whole photo: nothing changes, and the
            # kernel would only cost memory
            return float(min(self.radius, np.hypot(height, width)))
        return float(self.relative_radius * np.hypot(height, width))


def disc_kernel(radius: float) -> np.ndarray:
    """Normalised anti-aliased disc (the aperture of a lens) of the given radius, float32."""
    radius = max(float(radius), 0.5)
    half = int(np.ceil(radius - 0.5 + 1e-6))
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    kernel = np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


_SRGB_TO_LINEAR: np.ndarray | None = None
_LINEAR_TO_SRGB: np.ndarray | None = None
_LINEAR_LEVELS = 4096


def srgb_to_linear_lut() -> np.ndarray:
    """256-entry float32 table: sRGB code value -> linear light in [0, 1]."""
    global _SRGB_TO_LINEAR
    if _SRGB_TO_LINEAR is None:
        v = np.arange(256, dtype=np.float64) / 255.0
        _SRGB_TO_LINEAR = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4
                                   ).astype(np.float32)
    return _SRGB_TO_LINEAR


def _linear_to_srgb_lut() -> np.ndarray:
    global _LINEAR_TO_SRGB
    if _LINEAR_TO_SRGB is None:
        v = np.arange(_LINEAR_LEVELS, dtype=np.float64) / (_LINEAR_LEVELS - 1)
        encoded = np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)
        _LINEAR_TO_SRGB = np.clip(np.rint(encoded * 255.0), 0, 255).astype(np.uint8)
    return _LINEAR_TO_SRGB


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear light."""
    return cv2.LUT(image, srgb_to_linear_lut())


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """float32 linear light (clipped to [0, 1]) -> uint8 sRGB (4096-level table)."""
    index = np.clip(linear * np.float32(_LINEAR_LEVELS - 1) + np.float32(0.5), 0,
                    _LINEAR_LEVELS - 1).astype(np.uint16)
    return _linear_to_srgb_lut()[index]


#: Highlights that bloom are spots up to this fraction of the disc radius (and at least
#: SPOT_CONTRAST brighter than what surrounds them): street lights, reflections, not the sky.
SPOT_FRACTION = 0.5
SPOT_CONTRAST = 0.25


def boost_highlights(values: np.ndarray, threshold: float, gain: float,
                     spot_radius: float | None = None) -> np.ndarray:
    """Amplify small bright spots so that they stay bright after spreading into a disc.

    ``spot_radius`` (pixels): only spots that a morphological opening of that radius removes
    are boosted (a white top-hat); broad bright areas -- sky, a lit wall -- keep their level,
    since boosting them only pushed them to white and lit a rim along the subject. ``None``
    boosts every pixel above ``threshold``.
    """
    if gain <= 0:
        return values
    peak = np.maximum(np.maximum(values[..., 0], values[..., 1]), values[..., 2])
    ramp = np.clip((peak - threshold) * np.float32(1.0 / max(1.0 - threshold, 1e-6)), 0.0, 1.0)
    strength = ramp * ramp
    if spot_radius is not None:
        steps = max(1, int(round(spot_radius)))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * steps + 1, 2 * steps + 1))
        opened = cv2.morphologyEx(peak, cv2.MORPH_OPEN, disc, borderType=cv2.BORDER_REFLECT)
        strength *= np.clip((peak - opened) * np.float32(1.0 / SPOT_CONTRAST), 0.0, 1.0)
    factor = np.float32(1.0) + np.float32(gain) * strength
    return values * factor[..., None]


def background_weight(matte: np.ndarray) -> np.ndarray:
    """Weight of a pixel as a background sample: 1 outside the subject, 0 on and near it.

    Mixed edge pixels already carry the subject's colour: from matte 1/3 up they get no weight,
    and fringe pixels below that only a little, so the subject cannot tint the blur around it.
    """
    weight = np.clip(1.0 - 3.0 * matte, 0.0, 1.0)
    return (weight * weight).astype(np.float32)


def guarded(matte: np.ndarray, guard: float) -> np.ndarray:
    """The matte grown by ``guard`` pixels (a disc), so that background samples keep that far
    from the subject: the pixels right outside a matte still carry the subject's colour (hair,
    the lens' own blur of the edge, a mask drawn a few pixels short) and, averaged into the
    blur, would tint a rim round the subject."""
    steps = int(round(guard))
    if steps < 1:
        return matte
    size = 2 * steps + 1
    return cv2.dilate(matte, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))


def fill_holes(premultiplied: np.ndarray, weight: np.ndarray, min_support: float) -> np.ndarray:
    """Normalise a premultiplied image; where support is thin, pull colour from coarser levels.

    Push-pull: the subject's footprint (no background samples) gets the colour of the nearest
    background, so that bilinear upsampling next to the subject never mixes in undefined values.
    """
    if premultiplied.ndim == 2:
        premultiplied = premultiplied[..., None]
    return fill_holes_stacked(np.dstack([premultiplied, weight]), min_support)


def fill_holes_stacked(stacked: np.ndarray, min_support: float) -> np.ndarray:
    """``fill_holes`` for ``[h, w, C + 1]`` float32: premultiplied channels, then the weight.

    Each pyramid level is one resize of all channels together (OpenCV, multi-threaded).
    """
    levels = [stacked]
    while stacked[..., -1].min() < min_support and min(stacked.shape[:2]) > 2:
        size = (max(1, stacked.shape[1] // 2), max(1, stacked.shape[0] // 2))
        stacked = cv2.resize(stacked, size, interpolation=cv2.INTER_AREA)
        levels.append(stacked)
    channels = stacked.shape[-1] - 1
    weight = stacked[..., -1:]
    result = stacked[..., :-1] / np.maximum(weight, np.float32(1e-6))
    empty = weight[..., 0] <= 1e-6
    if empty.any():
        total = float(weight.sum())
        mean = stacked[..., :-1].reshape(-1, channels).sum(0) / max(total, 1e-6)
        result[empty] = mean if total > 1e-6 else 0.0
    inverse_support = np.float32(1.0 / min_support)
    for level in reversed(levels[:-1]):
        height, width = level.shape[:2]
        coarse = cv2.resize(result, (width, height), interpolation=cv2.INTER_LINEAR)
        coarse = coarse.reshape(height, width, channels)
        weight = level[..., -1:]
        support = np.minimum(weight * inverse_support, np.float32(1.0))
        result = level[..., :-1] / np.maximum(weight, np.float32(1e-6))
        result -= coarse
        result *= support
        result += coarse
    return result


#: Ridge on the local gradient fit, as a fraction of a full disc's offset variance (r^2 / 4):
#: keeps the extrapolation tame where only a sliver of background is in reach.
GRADIENT_RIDGE = 0.01
FIT_MIN_SUPPORT = 0.1  # share of the disc that must be background for a full correction
FIT_MAX_SHIFT = np.float32(0.4)


def _normalised_blur(stacked: np.ndarray, radius: float, min_support: float,
                     boundary_corrected: bool = True) -> np.ndarray:
    """Disc blur of ``[h, w, C + 1]`` premultiplied colour + weight, normalised, holes filled.

    ``boundary_corrected``: a local *linear* fit instead of a local mean (the boundary
    correction of local-linear regression). Next to the subject the disc holds background on
    one side only, so a plain mask-aware mean describes the background some 0.4 radius further
    out: where the background has a gradient towards the subject (shadow, vignetting, light
    falling off) that shows as a bright or dark rim that grows with the radius. Fitting
    ``a + b . offset`` over the disc's background samples and keeping ``a`` takes the bias out;
    where the disc is full and uniform the fit equals the mean, so the blur is unchanged there.
    """
    kernel = disc_kernel(radius)
    blurred = cv2.filter2D(stacked, -1, kernel, borderType=cv2.BORDER_REFLECT)
    if boundary_corrected and radius >= 1.0:
        blurred = _linear_fit_centre(stacked, blurred, radius)
    return fill_holes_stacked(blurred, min_support)


def _linear_fit_centre(stacked: np.ndarray, blurred: np.ndarray, radius: float
                       ) -> np.ndarray:
    """Replace the local means in ``blurred`` by the centre value of a local linear fit.

    Weighted least squares of ``v ~ a + b . u`` over the disc (weights kernel x sample weight):
    with centroid ``m``, offset covariance ``M`` and value covariance ``t`` (all normalised by
    the total weight), ``b = (M + ridge)^-1 t`` and ``a = mean - m . b``. The correction
    ``m . b`` varies over the scale of the disc, so it is computed at half resolution (a
    quarter of the work) and upsampled; the mean stays at full resolution. Returned in the same
    premultiplied form (colour x support, support) so hole filling works unchanged.
    """
    height, width = stacked.shape[:2]
    coarse, total = stacked, blurred
    if radius >= 7.5 and min(height, width) >= 32:
        size = ((width + 1) // 2, (height + 1) // 2)
        coarse = cv2.resize(stacked, size, interpolation=cv2.INTER_AREA)
        total = cv2.resize(blurred, size, interpolation=cv2.INTER_AREA)
        radius = radius * coarse.shape[1] / width
    kernel = disc_kernel(radius)
    half = kernel.shape[0] // 2
    uy, ux = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    tiny = np.float32(1e-6)

    def moment(image: np.ndarray, factor: np.ndarray | None) -> np.ndarray:
        weights = kernel if factor is None else kernel * factor
        return cv2.filter2D(image, -1, weights, borderType=cv2.BORDER_REFLECT)

    weight = np.ascontiguousarray(coarse[..., -1])
    support = np.maximum(total[..., -1], tiny)
    first_x = moment(coarse, ux)  # premultiplied colour and weight, times the x offset
    first_y = moment(coarse, uy)
    mx = first_x[..., -1] / support
    my = first_y[..., -1] / support
    ridge = np.float32(GRADIENT_RIDGE * float((kernel * (ux * ux + uy * uy)).sum()) / 2.0)
    cxx = moment(weight, ux * ux) / support - mx * mx + ridge
    cxy = moment(weight, ux * uy) / support - mx * my
    cyy = moment(weight, uy * uy) / support - my * my + ridge
    inverse = (np.float32(1.0) / np.maximum(cxx * cyy - cxy * cxy, tiny))[..., None]
    mean = total[..., :-1] / support[..., None]
    tx = first_x[..., :-1] / support[..., None] - mx[..., None] * mean
    ty = first_y[..., :-1] / support[..., None] - my[..., None] * mean
    bx = (cyy[..., None] * tx - cxy[..., None] * ty) * inverse
    by = (cxx[..., None] * ty - cxy[..., None] * tx) * inverse
    shift = mx[..., None] * bx + my[..., None] * by
    # Where the disc holds little background the fit is not trusted (and under the subject it
    # is undefined): fade the correction out, and never let it move a value by more than a
    # quarter of the range (upsampling must not carry wild values onto valid pixels).
    shift = np.clip(shift, -FIT_MAX_SHIFT, FIT_MAX_SHIFT)
    shift[support < np.float32(0.02)] = 0.0
    if shift.shape[:2] != (height, width):
        shift = cv2.resize(shift, (width, height), interpolation=cv2.INTER_LINEAR)
        shift = shift.reshape(height, width, -1)
    full_support = np.maximum(blurred[..., -1:], tiny)
    shift *= np.clip(full_support * np.float32(1.0 / FIT_MIN_SUPPORT), 0.0, 1.0)
    centre = blurred[..., :-1] / full_support - shift
    np.maximum(centre, np.float32(0.0), out=centre)
    out = np.empty_like(blurred)
    np.multiply(centre, blurred[..., -1:], out=out[..., :-1])
    out[..., -1] = blurred[..., -1]
    return out


#: The working image (the network's input) is reused for the blur when it is at most this much
#: coarser than the ideal blur resolution: the disc is then a little smaller than
#: ``max_working_radius`` px there, which does not show, and a full-size downscale is saved.
WORKING_SCALE_SLACK = 1.5


def working_scale(radius: float, max_working_radius: int) -> float:
    """Downscale factor (>= 1) that brings the disc radius to at most ``max_working_radius``."""
    return max(1.0, radius / max(max_working_radius, 1))


def _blur_source(image: np.ndarray, matte: np.ndarray | None, scale: float,
                 working: Shrunk | None, working_matte: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """The photo (and matte) at ``scale``, reusing the working image when it is fine enough."""
    height, width = image.shape[:2]
    size_hw = (max(1, round(height / scale)), max(1, round(width / scale)))
    if working is not None and working.scale <= scale * WORKING_SCALE_SLACK:
        small = working.image
        small_matte = working_matte
        if small_matte is None and matte is not None:
            small_matte = shrink(matte, small.shape[:2]).image
        covered = working.covered_hw
        target = (max(1, round(covered[0] / scale)), max(1, round(covered[1] / scale)))
        if target != small.shape[:2]:
            small = cv2.resize(small, target[::-1], interpolation=cv2.INTER_AREA)
            if small_matte is not None:
                small_matte = cv2.resize(small_matte, target[::-1], interpolation=cv2.INTER_AREA)
        return small, small_matte, covered
    shrunk = shrink(image, size_hw)
    small_matte = None if matte is None else shrink(matte, size_hw).image
    return shrunk.image, small_matte, shrunk.covered_hw


def blur_background_low(image: np.ndarray, matte: np.ndarray | None,
                        config: BokehConfig = BokehConfig(), working: Shrunk | None = None,
                        working_matte: np.ndarray | None = None
                        ) -> tuple[np.ndarray, LowResMap] | None:
    """The lens-blurred background at the reduced resolution it is computed at.

    Returns (uint8 RGB low-resolution image, where it sits on the photo), or None when the
    radius is too small to blur. ``matte`` is full resolution (float in [0, 1] or uint8) and only
    read when ``working_matte`` (at ``working``'s resolution) does not cover the need.
    """
    height, width = image.shape[:2]
    radius = config.radius_for(height, width)
    if radius < 0.5:
        return None
    scale = working_scale(radius, config.max_working_radius)
    small, small_matte, covered = _blur_source(image, matte, scale, working, working_matte)
    if small_matte is not None and small_matte.dtype == np.uint8:
        small_matte = small_matte.astype(np.float32) * np.float32(1.0 / 255.0)
    small_radius = radius * small.shape[1] / covered[1]
    effects = radius >= config.linear_min_radius
    ramp = (radius - config.linear_min_radius) / max(
        config.highlight_full_radius - config.linear_min_radius, 1e-6)
    gain = config.highlight_gain * float(np.clip(ramp, 0.0, 1.0)) if effects else 0.0
    linear_light = config.linear_light and effects
    if linear_light:
        values = srgb_to_linear(small)
    else:
        values = small.astype(np.float32) * np.float32(1 / 255)
    if gain > 0:
        values = boost_highlights(values, config.highlight_threshold, gain,
                                  spot_radius=small_radius * SPOT_FRACTION)
    if small_matte is None:
        weight = np.ones(values.shape[:2], np.float32)
    else:
        pixel_size = covered[1] / small.shape[1]
        weight = background_weight(guarded(small_matte, config.guard / pixel_size))
    stacked = np.empty(values.shape[:2] + (values.shape[2] + 1,), np.float32)
    np.multiply(values, weight[..., None], out=stacked[..., :-1])  # premultiplied colour
    stacked[..., -1] = weight
    blurred = _normalised_blur(stacked, small_radius, config.min_support)
    if config.depth_falloff > 0 and small_matte is not None:
        near = _normalised_blur(stacked, max(small_radius * config.near_strength, 0.5),
                                config.min_support)
        outside = (small_matte < 0.5).astype(np.uint8)
        pixel_size = covered[1] / small.shape[1]
        distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3) * np.float32(pixel_size)
        reach = config.depth_falloff * np.hypot(height, width)
        strength = np.clip(distance / max(reach, 1e-6), 0.0, 1.0)[..., None]
        blurred = near + (blurred - near) * strength
    if linear_light:
        encoded = linear_to_srgb(blurred)
    else:
        encoded = np.clip(np.rint(blurred * 255), 0, 255).astype(np.uint8)
    return encoded, LowResMap(encoded.shape[:2], covered, (height, width))


def blur_background(image: np.ndarray, matte: np.ndarray | None,
                    config: BokehConfig = BokehConfig(), working: Shrunk | None = None,
                    working_matte: np.ndarray | None = None) -> np.ndarray:
    """The lens-blurred background of ``image`` (uint8 RGB) at full resolution, uint8 RGB.

    ``matte`` (float32 [0, 1] or uint8, full resolution, 1 = subject) excludes the subject from
    the averages; ``None`` blurs everything. The subject's own area is filled with nearby
    background colour (it is covered by the subject in the composite anyway). ``working`` /
    ``working_matte`` (the downscaled photo and matte already computed for the model) save the
    big downscale.
    """
    low = blur_background_low(image, matte, config, working, working_matte)
    if low is None:
        return image.copy()
    encoded, geometry = low
    return expand(encoded, geometry.covered_hw, geometry.full_hw)
