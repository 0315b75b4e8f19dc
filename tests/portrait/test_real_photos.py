"""The bundled network on scikit-image's portraits (skipped without scikit-image, which is not a
dependency): replace mode keeps the cameraman's cheek, --keep-held keeps the astronaut's
helmet."""

from __future__ import annotations

import numpy as np
import pytest

from deeplab.portrait import composite, quality
from deeplab.portrait.models import DEFAULT_WEIGHTS, load_probability_model
from deeplab.portrait.render import RenderConfig, matte_from_probabilities, working_image

data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def model():
    return load_probability_model(DEFAULT_WEIGHTS)


def refined_matte(model, photo, **config):
    working = working_image(photo)
    probabilities = model.probabilities(working.image[None])[0]
    return matte_from_probabilities(photo, probabilities, RenderConfig(**config), working), working


def replace_alpha(photo, refined, working) -> np.ndarray:
    over = [composite.replace_composite(photo, refined, np.full_like(photo, level), working,
                                        wrap=0.0).astype(np.float32) for level in (0, 255)]
    return 1.0 - (over[1] - over[0]).mean(axis=-1) / 255.0


def test_replace_mode_shows_no_new_background_through_the_cameramans_cheek(model):
    photo = np.dstack([data.camera()] * 3)
    refined, working = refined_matte(model, photo)
    now = replace_alpha(photo, refined, working)
    cheek = (slice(145, 170), slice(236, 250))
    matte = refined.alpha8[cheek] / 255.0
    assert now[cheek].min() > matte.min() - 0.1 and now[cheek].mean() > 0.8  # as the matte
    refined.confidence = None  # as before: the colour test alone
    before = replace_alpha(photo, refined, working)
    assert before[cheek].min() < 0.1
    assert quality.hole_fraction(now) < quality.hole_fraction(before)


def test_keep_held_keeps_the_astronauts_helmet(model):
    photo = data.astronaut()
    helmet = np.zeros(photo.shape[:2], bool)
    yy, xx = np.mgrid[:512, :512]
    helmet[(yy - 463) ** 2 + (xx - 390) ** 2 <= 118 ** 2] = True  # hand-drawn label
    plain = refined_matte(model, photo)[0].alpha8 >= 128
    held = refined_matte(model, photo, keep_held=True)[0].alpha8 >= 128
    assert (plain & helmet).mean() / helmet.mean() < 0.3
    assert (held & helmet).mean() / helmet.mean() > 0.6
    assert (held & ~helmet & ~plain).mean() < 0.08  # the background it costs (the flag)
