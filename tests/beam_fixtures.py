"""Helpers shared by the Beam tests: a small real network (the bundled person model converted
once to a 129-px LiteRT file) and small labelled person photos made from ../shared."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from deeplab.portrait import io as portrait_io

from conftest import shared_path

SMALL_INPUT_SIZE = 129


@functools.lru_cache(maxsize=None)
def small_litert() -> Path:
    """The bundled person model as a 129-px ``.tflite`` (with its sidecar), converted once per
    test process into a private cache; workers load it without TensorFlow."""
    from deeplab.portrait.litert import load_litert_model

    folder = Path(tempfile.mkdtemp(prefix="deeplab_beam_cache_"))
    atexit.register(shutil.rmtree, folder, True)
    previous = os.environ.get("DEEPLAB_CACHE_DIR")
    os.environ["DEEPLAB_CACHE_DIR"] = str(folder)
    try:
        model = load_litert_model("person", crop_size=SMALL_INPUT_SIZE)
    finally:
        if previous is None:
            os.environ.pop("DEEPLAB_CACHE_DIR", None)
        else:
            os.environ["DEEPLAB_CACHE_DIR"] = previous
    return Path(model.path)


def person_photos(count: int, side: int = 96) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``count`` photos of people from person_dev, longer side ``side``: (stem, RGB, 0/255
    mask at the photo's size)."""
    root = shared_path("data", "person_dev")
    stems = sorted(p.stem for p in (root / "images").glob("*.jpg"))[:count]
    photos = []
    for stem in stems:
        image = cv2.cvtColor(cv2.imread(str(root / "images" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(root / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        scale = side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        photos.append((stem, cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)))
    return photos


def save(path: Path, image: np.ndarray) -> Path:
    portrait_io.write_image(path, image)
    return path
