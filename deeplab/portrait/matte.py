"""Soft subject matte: class probabilities -> edge-aware refinement at full resolution.

The network sees the photo at ~513 px and predicts at stride 8, so its soft probability map is
coarse. The matte is refined in two guided-filter passes (He et al., "Guided Image Filtering";
"Fast Guided Filter"): a colour-guided pass at the working resolution snaps the soft boundary to
the photo's colour edges, then a gray-guided pass computes its linear coefficients at the working
resolution and applies them at full resolution, so hair-scale detail of the full photo shapes the
matte at the cost of two resizes and a multiply-add. Nothing is ever thresholded.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deeplab.portrait.resample import Shrunk, fit_size, shrink
from deeplab.portrait.tiles import DEFAULT_TILE, EdgeTiles, LowResMap, sample


@dataclass(frozen=True)
class MatteConfig:
    """Refinement settings. Radii are in pixels of the working (low) resolution.

    ``contrast`` steepens the network's soft ramp around 0.5 before filtering (1 = unchanged);
    ``coarse_*`` is the colour-guided pass, ``fine_*`` the full-resolution gray-guided pass.
    Probabilities larger than ``low_res_side`` are shrunk first (video, big working sizes).
    ``snap``: values within this distance of 0 or 1 become exactly 0 or 1 (the filters leave
    faint tails that would let the background show through the subject).
    """

    contrast: float = 2.0
    coarse_radius: int = 16
    coarse_eps: float = 1e-4
    fine_radius: int = 2
    fine_eps: float = 1e-4
    low_res_side: int = 640
    snap: float = 0.1


def subject_probability(probabilities: np.ndarray, class_indices: tuple[int, ...]) -> np.ndarray:
    """Probability that a pixel belongs to any of ``class_indices`` ([h, w, C] -> [h, w])."""
    if not class_indices:
        raise ValueError("no subject classes selected")
    num_classes = probabilities.shape[-1]
    bad = [i for i in class_indices if not 0 <= i < num_classes]
    if bad:
        raise ValueError(f"class indices {bad} out of range for a {num_classes}-class model")
    if len(class_indices) == 1:
        return np.ascontiguousarray(probabilities[..., class_indices[0]], np.float32)
    return probabilities[..., list(class_indices)].sum(axis=-1).astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def guided_filter_color(guide: np.ndarray, source: np.ndarray, radius: int, eps: float,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Colour guided filter coefficients: returns (mean_a [h,w,3], mean_b [h,w]).

    The filtered output is ``(mean_a * guide).sum(-1) + mean_b``; returning the coefficients lets
    the caller apply them at another resolution.
    """
    guide = guide.astype(np.float32, copy=False)
    source = source.astype(np.float32, copy=False)
    mean_i = _box(guide, radius)
    mean_p = _box(source, radius)
    cov_ip = _box(guide * source[..., None], radius) - mean_i * mean_p[..., None]
    r, g, b = guide[..., 0], guide[..., 1], guide[..., 2]
    mr, mg, mb = mean_i[..., 0], mean_i[..., 1], mean_i[..., 2]
    vrr = _box(r * r, radius) - mr * mr + eps
    vrg = _box(r * g, radius) - mr * mg
    vrb = _box(r * b, radius) - mr * mb
    vgg = _box(g * g, radius) - mg * mg + eps
    vgb = _box(g * b, radius) - mg * mb
    vbb = _box(b * b, radius) - mb * mb + eps
    # Inverse of the symmetric 3x3 covariance via cofactors, vectorised over pixels.
    c_rr = vgg * vbb - vgb * vgb
    c_rg = vgb * vrb - vrg * vbb
    c_rb = vrg * vgb - vgg * vrb
    c_gg = vrr * vbb - vrb * vrb
    c_gb = vrb * vrg - vrr * vgb
    c_bb = vrr * vgg - vrg * vrg
    det = vrr * c_rr + vrg * c_rg + vrb * c_rb
    inv_det = 1.0 / np.maximum(det, 1e-12)
    cr, cg, cb = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.empty_like(guide)
    a[..., 0] = (c_rr * cr + c_rg * cg + c_rb * cb) * inv_det
    a[..., 1] = (c_rg * cr + c_gg * cg + c_gb * cb) * inv_det
    a[..., 2] = (c_rb * cr + c_gb * cg + c_bb * cb) * inv_det
    b_coef = mean_p - (a * mean_i).sum(axis=-1)
    return _box(a, radius), _box(b_coef, radius)


def guided_filter_gray(guide: np.ndarray, source: np.ndarray, radius: int, eps: float,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Gray guided filter coefficients (mean_a, mean_b); output is ``mean_a * guide + mean_b``."""
    mean_i = _box(guide, radius)
    mean_p = _box(source, radius)
    cov_ip = _box(guide * source, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, radius), _box(b, radius)


def matte_coefficients(image: np.ndarray, probability: np.ndarray,
                       config: MatteConfig = MatteConfig(), working: Shrunk | None = None,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Shrunk]:
    """Everything at the working resolution: (a, b, low-res matte, working image).

    The full-resolution matte is ``clip(a * gray + b, 0, 1)`` with ``a``, ``b`` upsampled
    bilinearly (``working.expand``) and ``gray`` the photo's luma in [0, 1].
    """
    prob = probability.astype(np.float32, copy=False)
    low_h, low_w = prob.shape[:2]
    if low_h > config.low_res_side or low_w > config.low_res_side:
        low_h, low_w = fit_size(low_h, low_w, config.low_res_side)
        prob = cv2.resize(prob, (low_w, low_h), interpolation=cv2.INTER_AREA)
    if working is None or working.image.shape[:2] != (low_h, low_w):
        working = shrink(image, (low_h, low_w))
    small = working.image
    if config.contrast != 1.0:
        prob = np.clip((prob - 0.5) * config.contrast + 0.5, 0.0, 1.0)
    guide_small = small.astype(np.float32) * np.float32(1.0 / 255.0)
    if config.coarse_radius > 0:
        mean_a, mean_b = guided_filter_color(guide_small, prob, config.coarse_radius,
                                             config.coarse_eps)
        prob = np.clip((mean_a * guide_small).sum(axis=-1) + mean_b, 0.0, 1.0)
    gray_small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1 / 255)
    if config.fine_radius > 0:
        mean_a, mean_b = guided_filter_gray(gray_small, prob, config.fine_radius, config.fine_eps)
    else:
        mean_a, mean_b = np.zeros_like(prob), prob
    if config.snap > 0:  # fold the snap into the linear coefficients: same maths, no extra pass
        stretch = np.float32(1.0 / (1.0 - 2.0 * config.snap))
        mean_a = mean_a * stretch
        mean_b = (mean_b - np.float32(config.snap)) * stretch
    low_matte = np.clip(mean_a * gray_small + mean_b, 0.0, 1.0)
    return mean_a, mean_b, low_matte, working


class RefinedMatte:
    """A full-resolution matte kept as uint8, plus the tiles where it is neither 0 nor 1.

    ``alpha8``: uint8 ``[H, W]`` (255 = subject); ``tiles``: ``EdgeTiles`` (runs of opaque and
    of mixed tiles: the compositing copies the former and blends only the latter); ``low``:
    float32 matte at the working resolution (None for a given matte); ``confidence``: the
    network's subject probability at the working resolution and where it sits on the photo
    (None for a given matte), so that compositing never drops what the network is sure of.
    """

    def __init__(self, alpha8: np.ndarray, tiles: EdgeTiles, low: np.ndarray | None = None,
                 confidence: tuple[np.ndarray, LowResMap] | None = None):
        self.alpha8 = alpha8
        self.tiles = tiles
        self.low = low
        self.confidence = confidence

    @property
    def shape(self) -> tuple[int, int]:
        return self.alpha8.shape

    def as_float(self) -> np.ndarray:
        """float32 ``[H, W]`` in [0, 1] (a full-resolution copy: for callers that need one)."""
        return self.alpha8.astype(np.float32) * np.float32(1.0 / 255.0)

    @classmethod
    def from_array(cls, matte: np.ndarray, tile: int = DEFAULT_TILE) -> "RefinedMatte":
        """Wrap a given full-resolution matte (float in [0, 1] or uint8)."""
        if isinstance(matte, RefinedMatte):
            return matte
        matte = np.asarray(matte)
        if matte.ndim != 2:
            raise ValueError(f"a matte must be [H, W], got {matte.shape}")
        alpha8 = matte if matte.dtype == np.uint8 else to_uint8(matte)
        return cls(alpha8, EdgeTiles.from_matte(alpha8, tile))


def to_uint8(values: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8 0..255, rounded (OpenCV saturates)."""
    values = np.maximum(np.asarray(values, np.float32), np.float32(0.0))
    out = np.empty(values.shape, np.uint8)
    cv2.convertScaleAbs(values, out, alpha=255.0, beta=0.0)  # x * 255 rounded, saturated
    return out


def refine(image: np.ndarray, probability: np.ndarray, config: MatteConfig = MatteConfig(),
           working: Shrunk | None = None, tile: int = DEFAULT_TILE) -> RefinedMatte:
    """Full-resolution matte from a working-resolution subject probability.

    The coefficients of the last guided-filter pass are computed at the working resolution and
    applied to the full-resolution luma (fast guided filter) -- but only on the tiles where the
    result can be neither 0 nor 1 (bounded from the coefficients), so a 12-megapixel photo costs
    its outline, not its area.
    """
    height, width = image.shape[:2]
    mean_a, mean_b, low_matte, working = matte_coefficients(image, probability, config, working)
    if low_matte.shape == (height, width):
        refined = RefinedMatte.from_array(low_matte, tile)
        refined.low = low_matte
        refined.confidence = (_at_size(probability, low_matte.shape),
                              LowResMap(low_matte.shape, (height, width), (height, width)))
        return refined
    geometry = LowResMap(low_matte.shape, working.covered_hw, (height, width))
    lower = mean_b + np.minimum(mean_a, 0.0)  # gray is in [0, 1]
    upper = mean_b + np.maximum(mean_a, 0.0)
    tiles = EdgeTiles.from_bounds(lower, upper, geometry, tile)
    alpha8 = np.zeros((height, width), np.uint8)
    tiles.fill_opaque(alpha8, 255)
    coefficients = np.dstack([mean_a, mean_b])
    for ys, xs in list(tiles.mixed_runs()):
        gray = cv2.cvtColor(image[ys, xs], cv2.COLOR_RGB2GRAY)
        a_b = sample(coefficients, geometry, ys, xs)
        alpha = cv2.multiply(a_b[..., 0], gray, dtype=cv2.CV_32F, scale=1.0 / 255.0)
        alpha += a_b[..., 1]
        run = cv2.convertScaleAbs(np.maximum(alpha, np.float32(0.0), out=alpha), alpha=255.0)
        alpha8[ys, xs] = run
        tiles.settle(ys, xs, run)  # the bounds were conservative: drop tiles that came out 0/255
    return RefinedMatte(alpha8, tiles, low_matte,
                        (_at_size(probability, low_matte.shape), geometry))


def _at_size(probability: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 ``probability`` at ``shape`` (area-averaged when larger)."""
    probability = np.asarray(probability, np.float32)
    if probability.shape == tuple(shape):
        return probability
    return cv2.resize(probability, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)

