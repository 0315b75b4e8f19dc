"""Temporal stability for video: probability and matte held where the picture is still.

A per-frame network flickers: camera noise and compression change its soft output from frame to
frame even where nothing moved, and the refined matte shimmers along the subject's outline. The
cure must not cost the other way, where a limb moves and the matte has to follow at once.

:class:`TemporalSmoother` decides per pixel from the frames themselves, not from the network:
it compares the frame's luma (at the network's working size, up to ``motion_side``, lightly
blurred, which averages the camera noise away) with a running reference of what the picture
looked like, and turns that change into a motion map (0 below ``still_levels``, 1 at
``moving_levels`` and above, spread by ``reach`` around what moved). Where the picture moved,
the new probability is taken as it is (no ghosting); where it is still, the probability is the
mean of the frames since the pixel came to rest, then an exponential moving average at
``still_rate`` (held). Optionally (``jump``) a change of the value itself is taken at once too.
The luma reference is updated at the same per-pixel rate, so a slow drift accumulates until it
counts as motion (hysteresis) instead of hiding under the per-frame threshold for ever.

``hold`` does the same to the refined full-resolution matte, on its outline tiles only (the
refinement applies its coefficients to the photo's own noisy luma, so the outline would shimmer
even with a steady probability), then applies hysteresis to the two ends of the matte: a held
value of ``opaque_at`` or more is output as 1, and a pixel that was output as 1 stays 1 while
its value is at least ``opaque_until`` and its luma changed by less than ``keep_levels`` (and
the same towards 0 with ``clear_at`` / ``clear_until``). This is what steadies the inside of a
moving person, where the network's doubt and the refinement's texture make the matte dip and
recover from frame to frame; an outline that passes over the pixel changes its luma and is
followed at once. Both levels lie on their side of 0.5, so the matte thresholded at 0.5 is
exactly what it would be without the hysteresis.

Causal (past frames only), numpy + OpenCV. Cost measured by ``benchmarks/video_flicker.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deeplab.portrait.matte import RefinedMatte
from deeplab.portrait.tiles import EdgeTiles, LowResMap, sample


@dataclass(frozen=True)
class TemporalConfig:
    """How the smoother tells still from moving, and how hard it holds still areas.

    ``still_rate``: weight of the new frame where the picture has been still for a while (the
    first frames after it came to rest are averaged equally; 1 = no smoothing).
    ``still_levels`` / ``moving_levels``: luma change (0-255, at the motion size) below which a
    pixel is still and from which it is fully moving. ``motion_side``: longer side of the luma
    the motion is measured on (frames smaller than it are used as they are). ``reach``: how far
    motion spreads, as a fraction of that side. ``jump``: a change of the value itself
    (probability or matte, 0-1) of at least this much is taken at once even where the picture
    looks still, half of it or less is held; None: motion alone decides.
    ``opaque_at`` / ``opaque_until`` and ``clear_at`` / ``clear_until``: the matte's hysteresis
    (see the module doc; 1, 1, 0, 0 turn it off); ``keep_levels``: luma change (0-255) from
    which a pixel leaves it at once.
    Defaults from ``benchmarks/video_flicker.py`` (bundled video model at 225 and 385 px).
    """

    still_rate: float = 0.1
    still_levels: float = 2.0
    moving_levels: float = 6.0
    motion_side: int = 256
    reach: float = 0.004
    jump: float | None = None
    opaque_at: float = 0.75
    opaque_until: float = 0.55
    clear_at: float = 0.1
    clear_until: float = 0.3
    keep_levels: float = 12.0

    def __post_init__(self):
        if not 0.0 < self.still_rate <= 1.0:
            raise ValueError(f"still_rate must be in (0, 1], got {self.still_rate}")
        if not 0.0 <= self.still_levels < self.moving_levels:
            raise ValueError("need 0 <= still_levels < moving_levels, got "
                             f"{self.still_levels} and {self.moving_levels}")
        if self.motion_side < 8:
            raise ValueError(f"motion_side must be at least 8, got {self.motion_side}")
        if not 0.0 <= self.reach < 0.5:
            raise ValueError(f"reach must be in [0, 0.5), got {self.reach}")
        if self.jump is not None and not 0.0 < self.jump <= 1.0:
            raise ValueError(f"jump must be in (0, 1] or None, got {self.jump}")
        if not 0.5 < self.opaque_until <= self.opaque_at <= 1.0:
            raise ValueError("need 0.5 < opaque_until <= opaque_at <= 1, got "
                             f"{self.opaque_until} and {self.opaque_at}")
        if not 0.0 <= self.clear_at <= self.clear_until < 0.5:
            raise ValueError("need 0 <= clear_at <= clear_until < 0.5, got "
                             f"{self.clear_at} and {self.clear_until}")
        if self.keep_levels < 0.0:
            raise ValueError(f"keep_levels must be >= 0, got {self.keep_levels}")


def luma(frame: np.ndarray, longer_side: int) -> np.ndarray:
    """float32 luma (0-255) of a uint8 RGB or gray frame, area-shrunk to ``longer_side`` and
    lightly blurred (3x3 box: camera noise averages out, edges stay)."""
    frame = np.asarray(frame)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    elif frame.ndim != 2:
        raise ValueError(f"a frame must be [h, w, 3] or [h, w], got shape {frame.shape}")
    height, width = frame.shape
    scale = min(1.0, longer_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return cv2.blur(frame.astype(np.float32), (3, 3), borderType=cv2.BORDER_REFLECT)


class TemporalSmoother:
    """Causal, motion-aware smoothing of a per-frame subject probability (see the module doc).

    Call it once per frame, in order, with the working-size probability and the frame it was
    computed from (the working image the network saw); it returns the probability to refine.
    The first frame, and any frame whose size differs from the last, passes through unchanged.
    """

    def __init__(self, config: TemporalConfig = TemporalConfig()):
        self.config = config
        self.state: np.ndarray | None = None
        self.reference: np.ndarray | None = None
        self.rate: np.ndarray | None = None  # last per-pixel rate, at the motion size
        self.change: np.ndarray | None = None  # last luma change (0-255), motion size
        self.age: np.ndarray | None = None  # frames each pixel has been still, motion size
        self.held: np.ndarray | None = None  # full-resolution matte held (float32, 0..255)
        self._last: RefinedMatte | None = None  # what ``hold`` returned last
        reach = max(0, round(config.reach * config.motion_side))
        self._spread = (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)
                        if reach > 0 else None)

    def reset(self) -> None:
        """Forget the past (a cut, or a new clip)."""
        self.state = None
        self.reference = None
        self.rate = None
        self.change = None
        self.age = None
        self.held = None
        self._last = None

    def motion(self, gray: np.ndarray) -> np.ndarray:
        """Motion map in [0, 1] at the motion size: how far ``gray`` is from the reference
        (the change itself is kept in ``self.change`` for the matte's hysteresis)."""
        config = self.config
        self.change = cv2.absdiff(gray, self.reference)
        span = np.float32(1.0 / (config.moving_levels - config.still_levels))
        moving = np.clip((self.change - np.float32(config.still_levels)) * span, 0.0, 1.0)
        if self._spread is not None:
            moving = cv2.dilate(moving, self._spread)
        return moving

    def __call__(self, probability: np.ndarray, frame: np.ndarray) -> np.ndarray:
        probability = np.asarray(probability, np.float32)
        if probability.ndim != 2:
            raise ValueError(f"expected an [h, w] probability, got shape {probability.shape}")
        gray = luma(frame, self.config.motion_side)
        if (self.state is None or self.state.shape != probability.shape
                or self.reference.shape != gray.shape):
            self.state = probability.copy()
            self.reference = gray
            self.rate = None
            self.change = None
            self.age = np.zeros_like(gray)
            return self.state
        moving = self.motion(gray)
        self.age = (self.age + np.float32(1.0)) * (np.float32(1.0) - moving)
        # the mean of the frames since the pixel came to rest, then an EMA at ``still_rate``
        still = np.maximum(np.float32(self.config.still_rate),
                           np.float32(1.0) / (self.age + np.float32(1.0)))
        rate_small = still + (np.float32(1.0) - still) * moving
        self.rate = rate_small
        self.reference += rate_small * (gray - self.reference)
        height, width = probability.shape
        rate = rate_small if rate_small.shape == (height, width) else cv2.resize(
            rate_small, (width, height), interpolation=cv2.INTER_LINEAR)
        difference = probability - self.state
        self.state = self.state + self._follow(rate, difference, 1.0) * difference
        return self.state

    def _follow(self, rate: np.ndarray, difference: np.ndarray, full: float) -> np.ndarray:
        """``rate`` raised to 1 where the value itself changed by ``jump`` (of ``full``) or more,
        from 0 extra at half of it."""
        if self.config.jump is None:
            return rate
        half = np.float32(0.5 * self.config.jump * full)
        return np.maximum(rate, np.clip((np.abs(difference) - half) / half, 0.0, 1.0))

    def hold(self, matte: RefinedMatte) -> RefinedMatte:
        """The refined full-resolution matte of the frame last smoothed, held like the
        probability (where the picture is still it moves towards the new matte at
        ``still_rate``, where it moved it is the new matte), then the hysteresis at its two
        ends (module doc).

        Why a second stage: the refinement applies its edge coefficients to the full-resolution
        luma, so camera noise in the photo itself makes the outline shimmer even when the
        probability is perfectly steady, and the network's doubt inside a moving person makes
        the matte dip there. Only the tiles on the outline (mixed now or in the last output)
        are touched, so the cost is the outline's, not the frame's. The first frame (and a size
        change) passes through.
        """
        alpha8, tiles = matte.alpha8, matte.tiles
        last = self._last
        if self.rate is None or last is None or last.shape != alpha8.shape:
            self.held = alpha8.astype(np.float32)
            self._last = matte
            return matte
        config = self.config
        opaque_at, opaque_until = round(255 * config.opaque_at), round(255 * config.opaque_until)
        clear_at, clear_until = round(255 * config.clear_at), round(255 * config.clear_until)
        work = tiles.mixed | last.tiles.mixed
        flipped = (tiles.opaque != last.tiles.opaque) & ~work  # 0 <-> 255: nothing to hold
        out = EdgeTiles(tiles.full_hw, tiles.opaque & ~work, work.copy(), tiles.tile)
        for ys, xs in EdgeTiles(tiles.full_hw, flipped, flipped, tiles.tile).mixed_runs():
            self.held[ys, xs] = alpha8[ys, xs]
        result = alpha8.copy()
        geometry = LowResMap(self.rate.shape, alpha8.shape, alpha8.shape)
        for ys, xs in EdgeTiles(tiles.full_hw, work, work, tiles.tile).mixed_runs():
            held = self.held[ys, xs]
            difference = alpha8[ys, xs] - held
            rate = self._follow(sample(self.rate, geometry, ys, xs), difference, 255.0)
            held += rate * difference
            run = cv2.convertScaleAbs(held)  # rounded, saturated to 0..255
            before = last.alpha8[ys, xs]
            calm = sample(self.change, geometry, ys, xs) < np.float32(config.keep_levels)
            run[(run >= opaque_at) | ((before == 255) & (run >= opaque_until) & calm)] = 255
            run[(run <= clear_at) | ((before == 0) & (run <= clear_until) & calm)] = 0
            result[ys, xs] = run
            out.settle(ys, xs, run)
        held = RefinedMatte(result, out, matte.low)
        self._last = held
        return held
