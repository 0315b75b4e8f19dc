"""Replace mode opens no hole inside a subject the network is sure of (a grayscale cheek as
bright as the sky behind it), and still drops a rim that spills over the background."""

from __future__ import annotations

import numpy as np
import pytest

from deeplab.portrait import composite, quality
from deeplab.portrait.matte import RefinedMatte
from deeplab.portrait.tiles import LowResMap

SKY, COAT, GREEN = 200, 40, (0, 200, 0)


def grey_portrait() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark coat on a bright sky with a cheek as bright as the sky near its edge; the matte
    is a little soft over the cheek (as the guided filter leaves it next to an edge), the
    network sure of it. Returns (photo, matte, network probability)."""
    photo = np.full((64, 64, 3), SKY, np.uint8)
    photo[:, 20:] = COAT
    photo[20:40, 24:34] = SKY                           # the cheek
    matte = np.zeros((64, 64), np.float32)
    matte[:, 20:] = 1.0
    matte[20:40, 24:34] = 0.85
    probability = np.zeros((64, 64), np.float32)
    probability[:, 20:] = 1.0
    return photo, matte, probability


def effective_alpha(photo, refined) -> np.ndarray:
    black = composite.replace_composite(photo, refined, np.zeros_like(photo), wrap=0.0)
    white = composite.replace_composite(photo, refined, np.full_like(photo, 255), wrap=0.0)
    return 1.0 - (white.astype(np.float32) - black).mean(axis=-1) / 255.0


def test_a_sure_subject_keeps_its_cheek_in_replace_mode():
    photo, matte, probability = grey_portrait()
    unsure = RefinedMatte.from_array(matte, tile=8)
    before = effective_alpha(photo, unsure)
    assert before[20:40, 24:34].mean() < 0.2 and quality.hole_fraction(before) > 0.04
    sure = RefinedMatte.from_array(matte, tile=8)
    sure.confidence = (probability, LowResMap((64, 64), (64, 64), (64, 64)))
    now = effective_alpha(photo, sure)
    assert now[20:40, 24:34].min() > 0.8 and quality.hole_fraction(now) == 0
    out = composite.replace_composite(photo, sure, np.full_like(photo, GREEN), wrap=0.0)
    assert (out[20:40, 24:34, 1] - out[20:40, 24:34, 0]).max() < 40  # no green in the cheek


def test_an_unsure_rim_over_the_background_is_still_dropped():
    photo, matte, probability = grey_portrait()
    matte[:, 14:20] = 0.4                               # spills 6 px over the sky
    probability[:, 14:20] = 0.6                         # where the network hesitates
    refined = RefinedMatte.from_array(matte, tile=8)
    refined.confidence = (probability, LowResMap((64, 64), (64, 64), (64, 64)))
    assert effective_alpha(photo, refined)[:, 14:20].max() < 0.05


def test_hole_fraction_counts_only_enclosed_holes():
    matte = np.zeros((20, 20), np.float32)
    matte[5:15, 5:15] = 1.0
    assert quality.hole_fraction(matte) == 0
    matte[8:10, 8:10] = 0.0                             # enclosed: 4 of 100 pixels
    matte[5:15, 13:15] = 0.0                            # a notch open to the outside: no hole
    assert quality.hole_fraction(matte) == pytest.approx(4 / 80)
