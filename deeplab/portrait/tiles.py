"""Full-resolution work only where it matters: the tiles on the subject's outline.

On a 12-megapixel photo almost every pixel is either surely subject (matte 1: copy the photo)
or surely background (matte 0: take the blurred background); only a thin band along the outline
needs per-pixel maths (matte refinement, colour decontamination, blending). ``EdgeTiles`` splits
the photo into ``tile`` x ``tile`` blocks, each opaque, clear or mixed; callers copy the opaque
ones and run the maths on horizontal runs of mixed ones only (a few hundred views of the
full-resolution arrays, no gathering).

``sample`` reads a low-resolution map at the tiles' pixels with exactly the geometry of
``resample.expand`` (bilinear, half-pixel centres, edge replicated beyond the covered region),
so a map that is never expanded to full resolution still lines up with the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

DEFAULT_TILE = 32
OPAQUE_LEVEL = 254.6 / 255  # a matte above this rounds to 255: exactly the subject
CLEAR_LEVEL = 0.4 / 255     # below this it rounds to 0: exactly the background


def source_coordinates(full: int, covered: int, low: int) -> np.ndarray:
    """Low-resolution coordinate of every full-resolution index along one axis (float32).

    As ``cv2.resize`` onto the ``covered`` part, then the last index replicated up to ``full``.
    """
    index = np.minimum(np.arange(full, dtype=np.float64), covered - 1)
    return np.clip((index + 0.5) * (low / covered) - 0.5, 0, low - 1).astype(np.float32)


@dataclass(frozen=True)
class LowResMap:
    """Where a low-resolution map sits on the photo: its size and the full region it covers."""

    low_hw: tuple[int, int]
    covered_hw: tuple[int, int]
    full_hw: tuple[int, int]

    @cached_property
    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """(row coordinates [H], column coordinates [W]) in the low-resolution map."""
        return (source_coordinates(self.full_hw[0], self.covered_hw[0], self.low_hw[0]),
                source_coordinates(self.full_hw[1], self.covered_hw[1], self.low_hw[1]))


class EdgeTiles:
    """The tile grid of a photo: opaque, clear and mixed tiles, and the atlas of mixed ones."""

    def __init__(self, full_hw: tuple[int, int], opaque: np.ndarray, mixed: np.ndarray,
                 tile: int):
        self.full_hw = full_hw
        self.tile = tile
        self.opaque = opaque  # bool [rows, cols]
        self.mixed = mixed    # bool [rows, cols]

    # -- classification -------------------------------------------------------------------------
    @classmethod
    def from_matte(cls, alpha8: np.ndarray, tile: int = DEFAULT_TILE) -> "EdgeTiles":
        """Tiles of a full-resolution uint8 matte (0 = background, 255 = subject)."""
        height, width = alpha8.shape
        rows, cols = -(-height // tile), -(-width // tile)
        pad = ((0, rows * tile - height), (0, cols * tile - width))
        padded = np.pad(alpha8, pad, mode="edge") if any(p[1] for p in pad) else alpha8
        blocks = padded.reshape(rows, tile, cols, tile)
        low = blocks.min(axis=(1, 3))
        high = blocks.max(axis=(1, 3))
        opaque = low == 255
        return cls((height, width), opaque, ~opaque & (high > 0), tile)

    @classmethod
    def from_bounds(cls, lower: np.ndarray, upper: np.ndarray, geometry: LowResMap,
                    tile: int = DEFAULT_TILE) -> "EdgeTiles":
        """Tiles of a matte known at low resolution only through per-pixel bounds.

        ``lower``/``upper`` bound the full-resolution matte near each low-resolution pixel (for
        a matte interpolated bilinearly from low-resolution values, every full-resolution value
        lies between the bounds of its four neighbours). A tile is opaque when every low-res
        pixel it can read (its footprint plus one pixel) has ``lower`` >= OPAQUE_LEVEL, clear
        when all have ``upper`` < CLEAR_LEVEL, and mixed otherwise.
        """
        height, width = geometry.full_hw
        low_h, low_w = geometry.low_hw
        rows, cols = -(-height // tile), -(-width // tile)
        y_coords, x_coords = geometry.coordinates

        def footprint(coords, count, size, limit):
            start = np.arange(count) * tile
            end = np.minimum(start + tile, size) - 1
            first = np.clip(np.floor(coords[start]).astype(np.int64) - 1, 0, limit - 1)
            last = np.clip(np.floor(coords[end]).astype(np.int64) + 2, 0, limit - 1)
            return first, last

        y0, y1 = footprint(y_coords, rows, height, low_h)
        x0, x1 = footprint(x_coords, cols, width, low_w)
        area = (y1 - y0 + 1)[:, None] * (x1 - x0 + 1)[None, :]

        def count(mask):
            summed = cv2.integral(mask.astype(np.uint8), sdepth=cv2.CV_32S)
            return (summed[y1 + 1][:, x1 + 1] - summed[y0][:, x1 + 1]
                    - summed[y1 + 1][:, x0] + summed[y0][:, x0])

        opaque = count(lower >= OPAQUE_LEVEL) == area
        clear = count(upper < CLEAR_LEVEL) == area
        return cls((height, width), opaque, ~opaque & ~clear, tile)

    def settle(self, ys: slice, xs: slice, values: np.ndarray) -> None:
        """Reclassify the tiles of a run of mixed tiles from its computed uint8 matte."""
        tile = self.tile
        row = ys.start // tile
        first, last = xs.start // tile, -(-xs.stop // tile)
        width = (last - first) * tile
        low, high = values.min(axis=0), values.max(axis=0)  # per column first: fast in numpy
        if low.size != width:  # a partial tile at the right border: repeat its edge
            low = np.pad(low, (0, width - low.size), mode="edge")
            high = np.pad(high, (0, width - high.size), mode="edge")
        opaque = low.reshape(-1, tile).min(axis=1) == 255
        clear = high.reshape(-1, tile).max(axis=1) == 0
        self.opaque[row, first:last] |= opaque
        self.mixed[row, first:last] &= ~(opaque | clear)

    # -- runs of tiles --------------------------------------------------------------------------
    def _runs(self, flags: np.ndarray):
        height, width = self.full_hw
        tile = self.tile
        for r, row in enumerate(flags):
            if not row.any():
                continue
            edges = np.flatnonzero(np.diff(np.concatenate(([0], row.view(np.int8), [0]))))
            for start, stop in zip(edges[::2], edges[1::2]):
                yield (slice(r * tile, min((r + 1) * tile, height)),
                       slice(start * tile, min(stop * tile, width)))

    def opaque_runs(self):
        """(row slice, column slice) of each horizontal run of opaque tiles."""
        return self._runs(self.opaque)

    def mixed_runs(self):
        """(row slice, column slice) of each horizontal run of mixed tiles."""
        return self._runs(self.mixed)

    def copy_opaque(self, source: np.ndarray, target: np.ndarray) -> None:
        """``target[opaque tiles] = source[opaque tiles]``."""
        for ys, xs in self.opaque_runs():
            target[ys, xs] = source[ys, xs]

    def fill_opaque(self, target: np.ndarray, value) -> None:
        for ys, xs in self.opaque_runs():
            target[ys, xs] = value


def sample(low_res: np.ndarray, geometry: LowResMap, ys: slice, xs: slice) -> np.ndarray:
    """A low-resolution map read at the full-resolution pixels ``[ys, xs]``.

    Bilinear, with exactly the geometry of ``resample.expand`` (half-pixel centres; beyond the
    covered region the edge value, which is also what border replication gives), without
    expanding the whole map: one ``warpAffine`` of the low-resolution map onto the region.
    """
    low_h, low_w = geometry.low_hw
    covered_h, covered_w = geometry.covered_hw
    scale_y, scale_x = low_h / covered_h, low_w / covered_w
    to_source = np.array([[scale_x, 0.0, (xs.start + 0.5) * scale_x - 0.5],
                          [0.0, scale_y, (ys.start + 0.5) * scale_y - 0.5]], np.float64)
    size = (xs.stop - xs.start, ys.stop - ys.start)
    return cv2.warpAffine(low_res, to_source, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
