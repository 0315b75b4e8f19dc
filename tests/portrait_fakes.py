"""Small helpers shared by the portrait tests: a fake network and generated photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deeplab.portrait import io as portrait_io


class BrightIsPerson:
    """Fake 2-class network: bright pixels are "person" (soft, like real probabilities)."""

    class_names = ("background", "person")

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        person = 1.0 / (1.0 + np.exp(-(images.astype(np.float32).mean(-1) / 255.0 - 0.5) * 20))
        return np.stack([1.0 - person, person], axis=-1).astype(np.float32)


def photo(height: int = 96, width: int = 128, subject: bool = True) -> np.ndarray:
    """A bright disc (the subject, if any) on a textured dark background, RGB uint8."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    if subject:
        cv2.circle(image, (width // 2, height // 2), min(height, width) // 4, (230, 200, 180), -1)
    return image


def save(path: Path, image: np.ndarray) -> Path:
    portrait_io.write_image(path, image)
    return path
