"""The motion-aware temporal smoother: still areas held under noise, moving edges followed at
once, the first frame and size changes passed through, for the probability and for the refined
full-resolution matte. Frames are made here (tiny, seeded)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplab.portrait.matte import RefinedMatte
from deeplab.portrait.temporal import TemporalConfig, TemporalSmoother, luma

HEIGHT, WIDTH = 72, 96


def scene(seed: int = 0) -> np.ndarray:
    """A textured still background (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 200, (HEIGHT // 8, WIDTH // 8, 3)).astype(np.uint8)
    return np.kron(base, np.ones((8, 8, 1), np.uint8))


def noisy(frame: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def square_at(left: int, top: int = 20, side: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The scene with a bright square at ``left``, and the square's mask as a probability."""
    frame = scene()
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    mask[top:top + side, left:left + side] = 1.0
    frame[mask > 0] = (240, 235, 230)
    return frame, mask


def test_first_frame_passes_through_unchanged():
    smoother = TemporalSmoother()
    probability = np.random.default_rng(1).random((HEIGHT, WIDTH)).astype(np.float32)
    assert np.array_equal(smoother(probability, scene()), probability)


def test_still_area_is_held_under_camera_noise_and_network_flicker():
    rng = np.random.default_rng(2)
    _, truth = square_at(30)
    frame0, _ = square_at(30)
    smoother = TemporalSmoother()
    raw_changes, held_changes, previous_raw, previous_held = [], [], None, None
    for _ in range(30):
        probability = np.clip(truth + rng.normal(0, 0.06, truth.shape), 0, 1).astype(np.float32)
        held = smoother(probability, noisy(frame0, rng)).copy()
        if previous_raw is not None:
            raw_changes.append(np.abs(probability - previous_raw).mean())
            held_changes.append(np.abs(held - previous_held).mean())
        previous_raw, previous_held = probability, held
    assert np.mean(held_changes) < 0.25 * np.mean(raw_changes)
    assert np.abs(held - truth).mean() < 0.08  # held near the truth, not frozen somewhere else


def test_a_moving_edge_is_followed_within_one_to_two_frames():
    rng = np.random.default_rng(3)
    smoother = TemporalSmoother()
    for _ in range(5):  # settle on a still square
        frame, probability = square_at(10)
        smoother(probability, noisy(frame, rng))
    for step, left in enumerate((16, 22, 28, 34)):
        frame, probability = square_at(left)
        out = smoother(probability, noisy(frame, rng))
        changed = np.abs(out - probability)
        assert changed.max() < 0.15, f"frame {step}: lag {changed.max():.2f} at a moving edge"
    frame, probability = square_at(34)  # stops: the next frame still matches
    out = smoother(probability, noisy(frame, rng))
    assert np.abs(out - probability).max() < 0.05


def settled(config: TemporalConfig, frame: np.ndarray, value: float = 0.0,
            frames: int = 20) -> TemporalSmoother:
    """A smoother that has seen ``frames`` still frames of a constant probability."""
    smoother = TemporalSmoother(config)
    for _ in range(frames):
        smoother(np.full((HEIGHT, WIDTH), value, np.float32), frame)
    return smoother


def test_still_pixels_average_the_frames_since_rest_then_move_at_the_still_rate():
    smoother = TemporalSmoother(TemporalConfig(still_rate=0.2, jump=None))
    frame = scene()
    smoother(np.zeros((HEIGHT, WIDTH), np.float32), frame)
    outs = [float(smoother(np.ones((HEIGHT, WIDTH), np.float32), frame).mean())
            for _ in range(5)]
    # the mean of 0, 1, 1, ... while 1/n > still_rate, then an EMA at still_rate
    assert np.allclose(outs, [1 / 2, 2 / 3, 3 / 4, 4 / 5, 4 / 5 + 0.2 * (1 - 4 / 5)])


def test_a_jump_of_the_value_is_taken_at_once_a_small_change_held():
    frame = scene()
    smoother = settled(TemporalConfig(still_rate=0.1, jump=0.4), frame)
    probability = np.zeros((HEIGHT, WIDTH), np.float32)
    probability[:, :40] = 0.9   # a jump: the outline moved where the picture shows no change
    probability[:, 40:] = 0.15  # below half the jump: noise, held
    out = smoother(probability, frame)
    assert np.allclose(out[:, :40], 0.9)
    assert np.allclose(out[:, 40:], 0.015)


def test_slow_drift_below_the_threshold_accumulates_into_motion():
    """A picture that creeps by less than ``still_levels`` per frame is still followed."""
    config = TemporalConfig(still_rate=0.1, still_levels=3.0, moving_levels=10.0, jump=None)
    start = scene().astype(np.float32)
    smoother = settled(config, start.astype(np.uint8))
    for i in range(1, 41):  # 2 levels a frame: never "moving" between consecutive frames
        out = smoother(np.ones((HEIGHT, WIDTH), np.float32),
                       np.clip(start + 2 * i, 0, 255).astype(np.uint8))
    assert out.mean() > 0.995
    held = settled(config, start.astype(np.uint8))  # no drift: the still rate alone
    for _ in range(3):
        slow = held(np.ones((HEIGHT, WIDTH), np.float32), start.astype(np.uint8))
    assert slow.mean() < 0.3


def test_size_change_and_reset_restart_from_the_frame():
    smoother = TemporalSmoother()
    smoother(np.zeros((HEIGHT, WIDTH), np.float32), scene())
    other = np.full((HEIGHT // 2, WIDTH // 2), 0.7, np.float32)
    assert np.array_equal(smoother(other, scene()[::2, ::2]), other)
    smoother.reset()
    ones = np.ones((HEIGHT // 2, WIDTH // 2), np.float32)
    assert np.array_equal(smoother(ones, scene()[::2, ::2]), ones)


def test_probability_at_another_size_than_the_motion_map():
    config = TemporalConfig(motion_side=32, still_rate=0.5, jump=None)
    frame = scene()
    assert luma(frame, 32).shape == (24, 32)
    smoother = settled(config, frame, frames=1)
    assert np.allclose(smoother(np.ones((HEIGHT, WIDTH), np.float32), frame), 0.5)


@pytest.mark.parametrize("kwargs", [dict(still_rate=0.0), dict(still_rate=1.5),
                                    dict(still_levels=5.0, moving_levels=5.0),
                                    dict(motion_side=4), dict(reach=0.6), dict(jump=0.0),
                                    dict(jump=1.5)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        TemporalConfig(**kwargs)


def test_bad_shapes_are_refused():
    smoother = TemporalSmoother()
    with pytest.raises(ValueError, match="probability"):
        smoother(np.zeros((HEIGHT, WIDTH, 2), np.float32), scene())
    with pytest.raises(ValueError, match="frame"):
        smoother(np.zeros((HEIGHT, WIDTH), np.float32), np.zeros((2, 3, 4, 5), np.uint8))


# -- holding the refined full-resolution matte ---------------------------------------------------

def refined_square(left: int, rng: np.random.Generator, noise: float = 0.0) -> RefinedMatte:
    """A full-resolution (2x) matte of the square at ``left`` with a soft 4-px edge, plus noise
    on the edge (what the refinement's full-resolution pass does with a noisy photo)."""
    _, mask = square_at(left)
    full = cv2.resize(mask, (2 * WIDTH, 2 * HEIGHT), interpolation=cv2.INTER_NEAREST)
    soft = cv2.blur(full, (5, 5))
    edge = (soft > 0) & (soft < 1)
    soft[edge] += rng.normal(0, noise, int(edge.sum()))
    return RefinedMatte.from_array(np.clip(soft, 0, 1), tile=16)


def check_tiles(matte: RefinedMatte) -> None:
    """Opaque tiles are all 255, tiles neither opaque nor mixed all 0 (what compositing trusts)."""
    tile = matte.tiles.tile
    for r, c in zip(*np.nonzero(matte.tiles.opaque)):
        assert (matte.alpha8[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] == 255).all()
    clear = ~matte.tiles.opaque & ~matte.tiles.mixed
    for r, c in zip(*np.nonzero(clear)):
        assert (matte.alpha8[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] == 0).all()


def test_hold_passes_the_first_matte_through():
    smoother = TemporalSmoother()
    frame, probability = square_at(30)
    smoother(probability, frame)
    matte = refined_square(30, np.random.default_rng(0), 0.2)
    assert smoother.hold(matte) is matte


def test_hold_steadies_a_noisy_outline_where_the_picture_is_still():
    rng = np.random.default_rng(4)
    frame, probability = square_at(30)
    smoother = TemporalSmoother()
    raw, held, previous = [], [], None
    for _ in range(20):
        smoother(probability, noisy(frame, rng))
        matte = refined_square(30, rng, noise=0.05)
        out = smoother.hold(matte)
        check_tiles(out)
        if previous is not None:
            raw.append(np.abs(matte.as_float() - previous[0]).mean())
            held.append(np.abs(out.as_float() - previous[1]).mean())
        previous = (matte.as_float(), out.as_float())
    assert np.mean(held) < 0.3 * np.mean(raw)
    # held near the clean matte, not frozen somewhere else: only the faint ends of the soft
    # edge may sit at 0 or 1 (the hysteresis), never across 0.5
    clean = refined_square(30, rng, noise=0.0).as_float()
    error = np.abs(out.as_float() - clean)
    assert error.mean() < 0.01 and error.max() <= TemporalConfig().clear_until
    assert np.array_equal(out.as_float() > 0.5, clean > 0.5)


def test_hold_follows_a_moving_outline_at_once():
    """Where the picture changed the new matte is taken (only the stateless ends of the
    hysteresis apply); elsewhere at most a faint fringe is held at 0; and the matte thresholded
    at 0.5 is the new one."""
    rng = np.random.default_rng(5)
    config = TemporalConfig()
    smoother = TemporalSmoother(config)
    for _ in range(5):  # settle on a still square
        frame, probability = square_at(10)
        smoother(probability, noisy(frame, rng))
        smoother.hold(refined_square(10, rng))
    previous = frame
    for left in (16, 22, 28):
        frame, probability = square_at(left)
        smoother(probability, noisy(frame, rng))
        matte = refined_square(left, rng)
        out = smoother.hold(matte)
        check_tiles(out)
        expected = matte.as_float()
        expected[expected >= config.opaque_at] = 1.0
        expected[expected <= config.clear_at] = 0.0
        changed = np.abs(frame.astype(int) - previous).max(axis=-1) > 20
        changed = cv2.resize(changed.astype(np.uint8), (2 * WIDTH, 2 * HEIGHT),
                             interpolation=cv2.INTER_NEAREST) > 0
        error = np.abs(out.as_float() - expected)
        assert error[changed].max() < 0.1
        assert error.max() <= config.clear_until and error.mean() < 0.002
        assert np.array_equal(out.as_float() > 0.5, matte.as_float() > 0.5)
        previous = frame


# -- hysteresis at the matte's two ends ----------------------------------------------------------

NO_SMOOTHING = dict(still_rate=1.0)  # isolates the hysteresis from the holding
NO_HYSTERESIS = dict(opaque_at=1.0, opaque_until=1.0, clear_at=0.0, clear_until=0.0)


def held_values(config: TemporalConfig, values: list[float], frames: list[np.ndarray],
                background: float = 0.4) -> list[float]:
    """``hold`` of a matte that is ``background`` except for a block that takes ``values`` in
    turn, with ``frames`` as the pictures; the block's output after each frame."""
    smoother = TemporalSmoother(config)
    outs = []
    for value, frame in zip(values, frames):
        smoother(np.zeros((HEIGHT, WIDTH), np.float32), frame)
        matte = np.full((2 * HEIGHT, 2 * WIDTH), background, np.float32)
        matte[32:64, 32:64] = value
        out = smoother.hold(RefinedMatte.from_array(matte, tile=16))
        check_tiles(out)
        outs.append(round(float(out.as_float()[32:64, 32:64].mean()), 3))
    return outs


def test_an_opaque_pixel_stays_opaque_through_a_dip_while_the_picture_is_calm():
    config = TemporalConfig(**NO_SMOOTHING)
    values = [1.0, 0.6, 1.0, 0.5, 0.7, 0.85, 0.6]
    outs = held_values(config, values, [scene()] * len(values))
    # 0.6 kept at 1; 0.5 is below opaque_until: released; 0.7 does not re-enter; 0.85 does
    assert outs == [1.0, 1.0, 1.0, 0.502, 0.698, 1.0, 1.0]


def test_a_clear_pixel_stays_clear_through_a_rise_while_the_picture_is_calm():
    config = TemporalConfig(**NO_SMOOTHING)
    values = [0.0, 0.25, 0.35, 0.2, 0.03, 0.2]
    outs = held_values(config, values, [scene()] * len(values), background=0.6)
    assert outs == [0.0, 0.0, 0.349, 0.2, 0.0, 0.0]


def test_the_hysteresis_lets_go_where_the_picture_changes():
    config = TemporalConfig(**NO_SMOOTHING)
    changed = scene()
    changed[12:36, 12:36] = 0  # around the block (frame size): darker by 30 levels or more
    outs = held_values(config, [1.0, 0.6, 0.0, 0.25], [scene(), changed, scene(), changed])
    assert outs == [1.0, 0.6, 0.0, 0.251]


def test_the_hysteresis_never_moves_a_pixel_across_one_half():
    """The matte thresholded at 0.5 (what IoU is measured on) is the same with and without."""
    rng = np.random.default_rng(6)
    with_it = TemporalSmoother(TemporalConfig(still_rate=0.3))
    without = TemporalSmoother(TemporalConfig(still_rate=0.3, **NO_HYSTERESIS))
    base = scene()
    for step in range(12):
        frame = noisy(base, rng, sigma=3.0 if step % 3 else 40.0)
        matte = cv2.resize(rng.random((9, 12)).astype(np.float32), (2 * WIDTH, 2 * HEIGHT))
        outs = []
        for smoother in (with_it, without):
            smoother(np.zeros((HEIGHT, WIDTH), np.float32), frame)
            outs.append(smoother.hold(RefinedMatte.from_array(matte, tile=16)))
        check_tiles(outs[0])
        assert np.array_equal(outs[0].alpha8 > 127, outs[1].alpha8 > 127)
        if step > 2:
            assert not np.array_equal(outs[0].alpha8, outs[1].alpha8)  # it did something


@pytest.mark.parametrize("kwargs", [dict(opaque_until=0.5), dict(opaque_until=0.9, opaque_at=0.8),
                                    dict(opaque_at=1.2), dict(clear_until=0.5),
                                    dict(clear_at=0.2, clear_until=0.1), dict(clear_at=-0.1),
                                    dict(keep_levels=-1.0)])
def test_bad_hysteresis_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        TemporalConfig(**kwargs)
