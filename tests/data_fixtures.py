"""A tiny generated folder data set, shared by the data, training and CLI tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_folder_dataset(root: Path, count: int = 6, size: tuple[int, int] = (40, 56),
                         binary: bool = True, seed: int = 0, mask_scale: float = 1.0) -> Path:
    """A tiny images/ + masks/ set: a bright rectangle (the 'person') on a dark noisy ground.

    ``binary`` writes 0/255 masks, otherwise class ids 0/1 with a 255 border; ``mask_scale``
    < 1 writes masks smaller than the photos (nearest neighbour), as some real sets do.
    """
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    height, width = size
    for index in range(count):
        image = rng.normal(40, 12, (height, width, 3))
        mask = np.zeros((height, width), np.uint8)
        top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
        image[top:top + height // 2, left:left + width // 2] = (60, 180, 230)
        mask[top:top + height // 2, left:left + width // 2] = 255 if binary else 1
        if not binary:
            mask[:2, :] = 255
        if mask_scale != 1.0:
            small = (int(width * mask_scale), int(height * mask_scale))
            mask = cv2.resize(mask, small, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(root / "images" / f"img{index:02d}.png"),
                    np.clip(image, 0, 255).astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"img{index:02d}.png"), mask)
    return root
