"""Held objects (``--keep-held``): what the network half-sees attached to the subject stays sharp;
weak evidence elsewhere does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplab.portrait.cli import main as infer_main
from deeplab.portrait.pipeline import PortraitOptions, run_portrait
from deeplab.portrait.render import RenderConfig, subject_probability_of
from deeplab.portrait.subjects import keep_held_objects

from portrait_fakes import save


class SmoothBrightIsPerson:
    """Fake 2-class network: bright neighbourhoods are "person" (it sees 9-px areas, not
    pixels, so a striped object gets one weak probability)."""

    class_names = ("background", "person")

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        brightness = np.stack([cv2.blur(image.astype(np.float32).mean(-1), (9, 9))
                               for image in images]) / 255.0
        person = 1.0 / (1.0 + np.exp(-(brightness - 0.5) * 20))
        return np.stack([1.0 - person, person], axis=-1).astype(np.float32)


def probability_with_a_held_object() -> np.ndarray:
    """A sure subject, a half-seen object touching it, another half-seen blob far away."""
    probability = np.full((60, 80), 0.02, np.float32)
    probability[10:50, 10:30] = 0.97       # the person
    probability[25:35, 30:45] = 0.3        # what they hold, touching them
    probability[5:15, 60:75] = 0.3         # something half-seen, on its own
    return probability


def test_an_attached_half_seen_region_joins_the_subject_and_nothing_else_does():
    probability = probability_with_a_held_object()
    held = keep_held_objects(probability)
    assert (held[25:35, 30:45] == 1.0).all()
    assert np.array_equal(held[5:15, 60:75], probability[5:15, 60:75])
    assert np.array_equal(held[held < 0.5], probability[held < 0.5])
    assert probability[25, 30] == np.float32(0.3)  # the input is left alone
    empty = np.full((8, 8), 0.3, np.float32)
    assert keep_held_objects(empty) is empty       # no subject: nothing is held
    with pytest.raises(ValueError, match="threshold"):
        keep_held_objects(probability, threshold=0.6)


def test_render_config_adds_held_objects_after_dropping_passers_by():
    probabilities = probability_with_a_held_object()
    stacked = np.stack([1 - probabilities, probabilities], axis=-1)
    plain = subject_probability_of(stacked, RenderConfig())
    held = subject_probability_of(stacked, RenderConfig(keep_held=True))
    assert plain[30, 40] < 0.5 and held[30, 40] == 1.0


def photo_holding_something() -> np.ndarray:
    """A bright subject holding a striped object on a textured dark background: the fake
    network gives the object a weak but clear probability (~0.3)."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 50, (96, 128, 3), dtype=np.uint8)
    cv2.rectangle(image, (20, 10), (60, 95), (235, 215, 200), -1)
    image[40:60, 61:100] = 60
    image[40:60, 61:100:2] = 175
    return image


@pytest.mark.parametrize("keep_held", [False, True])
def test_the_held_object_stays_sharp_only_when_asked(tmp_path, keep_held):
    image = save(tmp_path / "p.png", photo_holding_something())
    run_portrait([image], PortraitOptions(output_dir=tmp_path / "out", blur_radius=6,
                                          keep_held=keep_held),
                 model=SmoothBrightIsPerson(), progress=False)
    original = photo_holding_something().astype(np.float32)
    result = cv2.imread(str(tmp_path / "out" / "p.png"))[..., ::-1].astype(np.float32)
    held = (slice(44, 56), slice(66, 95))
    background = (slice(70, 90), slice(90, 125))
    change = np.abs(result[held] - original[held]).mean()
    assert (change < 2) if keep_held else (change > 10)
    assert result[background].std() < 0.6 * original[background].std()  # still blurred


def test_cli_keep_held(tmp_path, monkeypatch):
    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model",
                        lambda source, **options: SmoothBrightIsPerson())
    image = save(tmp_path / "p.png", photo_holding_something())
    for flags, out in (([], "plain"), (["--keep-held"], "held")):
        assert infer_main([str(image), "--output", str(tmp_path / out), "--quiet",
                           "--blur-radius", "6", *flags]) == 0
    plain, held = (cv2.imread(str(tmp_path / out / "p.png")).astype(np.float32)
                   for out in ("plain", "held"))
    original = photo_holding_something()[..., ::-1].astype(np.float32)
    box = (slice(44, 56), slice(66, 95))
    assert np.abs(held[box] - original[box]).mean() < 2 < np.abs(plain[box] - original[box]).mean()
