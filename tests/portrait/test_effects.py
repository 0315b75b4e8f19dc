"""Matte refinement, lens blur, compositing and the tutorial baseline on synthetic images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplab import contract_np
from deeplab.portrait import bokeh, composite, matte, quality, resample, tutorial


def subject_scene(size: int = 120, radius: int = 30):
    """A bright disc subject on a dark, slightly textured background, and its exact matte."""
    rng = np.random.default_rng(0)
    image = rng.integers(30, 50, (size, size, 3), dtype=np.uint8)
    truth = np.zeros((size, size), np.float32)
    cv2.circle(truth, (size // 2, size // 2), radius, 1.0, -1)
    image[truth > 0] = (250, 245, 240)
    return image, truth


@pytest.mark.parametrize("radius", [3, 8])
def test_normalised_blur_has_no_halo_unlike_the_tutorial(radius):
    image, truth = subject_scene()
    ours = composite.blur_composite(image, truth, bokeh.BokehConfig(radius=radius))
    baseline = tutorial.tutorial_blur(image, truth > 0.5, tutorial.tutorial_kernel_size(radius))
    ring = (cv2.dilate(truth, np.ones((7, 7))) > 0) & (truth == 0)  # 3 px outside the subject
    background = image[ring].astype(np.float32).mean()
    assert abs(ours[ring].astype(np.float32).mean() - background) < 3  # neither lit nor darkened
    assert background - baseline[ring].astype(np.float32).mean() > 5   # the tutorial darkens
    assert quality.halo(image, ours, truth) < 0.2 * quality.halo(image, baseline, truth)


def test_disc_kernel_is_round_and_normalised():
    kernel = bokeh.disc_kernel(6)
    assert kernel.shape == (13, 13) and kernel.sum() == pytest.approx(1.0)
    assert kernel[0, 0] == 0 and kernel[6, 0] > 0 and kernel[6, 6] == kernel.max()


def test_small_highlights_bloom_but_bright_areas_keep_their_level():
    image = np.full((81, 81, 3), 20, np.uint8)
    image[38:43, 38:43] = 255  # a small street light
    image[:24] = 240  # a band of bright sky
    config = bokeh.BokehConfig(radius=12, highlight_full_radius=12, highlight_gain=4)
    bloomed = bokeh.blur_background(image, None, config)
    plain = bokeh.blur_background(image, None, bokeh.BokehConfig(radius=12, highlight_gain=0))
    assert bloomed[40, 48].mean() > plain[40, 48].mean() + 15  # a visible disc, not grey mush
    assert bloomed[40, 58].mean() < 25  # disc edge, then nothing
    assert abs(bloomed[4, 40].mean() - 240) <= 2  # the sky is not pushed to white


def test_large_radius_blurs_at_reduced_resolution_with_same_look():
    image, truth = subject_scene(240, 60)
    config = bokeh.BokehConfig(radius=24, max_working_radius=24)
    fast = bokeh.blur_background(image, truth, bokeh.BokehConfig(radius=24, max_working_radius=6))
    full = bokeh.blur_background(image, truth, config)
    outside = truth == 0
    assert np.abs(fast.astype(int) - full.astype(int))[outside].mean() < 4


def test_depth_falloff_blurs_less_next_to_the_subject():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)
    truth = np.zeros((160, 160), np.float32)
    truth[:, :40] = 1
    near_blur = bokeh.blur_background(image, truth, bokeh.BokehConfig(radius=8,
                                                                      depth_falloff=0.5))
    uniform = bokeh.blur_background(image, truth, bokeh.BokehConfig(radius=8))
    near = (slice(None), slice(44, 52))
    assert near_blur[near].std() > uniform[near].std()


def test_refined_matte_follows_the_photo_edges_and_stays_soft():
    image, truth = subject_scene(400, 100)
    small = cv2.resize(truth, (50, 50), interpolation=cv2.INTER_AREA)
    coarse = cv2.GaussianBlur(small, (0, 0), 2.0)  # a blurry, low-resolution probability
    refined = matte.refine(image, coarse, matte.MatteConfig(coarse_radius=4)).as_float()
    naive = cv2.resize(coarse, (400, 400), interpolation=cv2.INTER_LINEAR)
    assert refined.shape == (400, 400) and refined.dtype == np.float32
    assert quality.edge_error(refined, truth) < 0.5 * quality.edge_error(naive, truth)
    assert quality.iou(refined, truth > 0.5) > 0.97


def test_guided_filter_keeps_a_constant_source_constant():
    rng = np.random.default_rng(1)
    guide = rng.random((40, 50, 3), dtype=np.float32)
    source = np.full((40, 50), 0.3, np.float32)
    a, b = matte.guided_filter_color(guide, source, 4, 1e-3)
    assert np.allclose((a * guide).sum(-1) + b, 0.3, atol=1e-4)


def test_subject_probability_sums_classes_and_validates():
    probabilities = contract_np.softmax(np.random.default_rng(0).normal(size=(4, 5, 3)))
    both = matte.subject_probability(probabilities, (1, 2))
    assert np.allclose(both, 1 - probabilities[..., 0])
    with pytest.raises(ValueError):
        matte.subject_probability(probabilities, (3,))


def test_replace_removes_old_background_spill_from_edges():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:] = (0, 0, 255)                       # blue screen
    alpha = np.zeros((40, 40), np.float32)
    alpha[:, 20:] = 1.0
    alpha[:, 19] = 0.5
    image[:, 20:] = (200, 50, 50)                # red subject
    image[:, 19] = (100, 25, 152)                # half red, half blue
    green = np.zeros((10, 10, 3), np.uint8)
    green[:] = (0, 255, 0)
    out = composite.replace_composite(image, alpha, green)
    naive = composite.blend(image, composite.fit_background(green, 40, 40), alpha)
    assert out[20, 19, 2] < naive[20, 19, 2] - 40  # the blue spill is gone
    assert tuple(out[20, 5]) == (0, 255, 0) and tuple(out[20, 30]) == (200, 50, 50)


def test_tutorial_mask_is_blocky_threshold_of_argmax():
    probabilities = np.zeros((4, 4, 2), np.float32)
    probabilities[..., 0] = 1
    probabilities[1:3, 1:3] = (0.2, 0.8)
    mask = tutorial.tutorial_mask_from_probabilities(probabilities, (1,), 40, 40)
    assert mask.dtype == bool and set(np.unique(mask)) == {False, True}
    assert mask[20, 20] and not mask[2, 2]


def test_shrink_expand_round_trip_is_aligned():
    ramp = np.tile(np.arange(1003, dtype=np.float32), (701, 1))
    shrunk = resample.shrink_to_longer_side(ramp, 100)
    back = shrunk.expand(shrunk.image)
    assert back.shape == ramp.shape
    assert np.abs(back - ramp)[:, 50:950].max() < 6  # no drift across the image


def test_blend_matches_float_formula():
    rng = np.random.default_rng(2)
    fg = rng.integers(0, 256, (130, 150, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (130, 150, 3), dtype=np.uint8)
    alpha = np.zeros((130, 150), np.float32)
    alpha[20:100, 30:90] = rng.random((80, 60), dtype=np.float32)
    alpha[40:60, 40:60] = 1
    expected = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    blended = composite.blend(fg, bg, alpha).astype(np.float32)
    # The matte is kept in 8 bits and blended in uint8 arithmetic: within 1.5 levels.
    assert np.abs(blended - expected).max() <= 1.5
    assert np.abs(blended - expected).mean() < 0.5
    assert np.array_equal(blended[alpha == 1], fg[alpha == 1])
    assert np.array_equal(blended[alpha == 0], bg[alpha == 0])


def test_tiled_refinement_equals_the_dense_full_resolution_matte():
    """Computing the matte only on mixed tiles gives the dense result (no tile is missed)."""
    rng = np.random.default_rng(3)
    height, width = 301, 405
    image = rng.integers(0, 50, (height, width, 3), dtype=np.uint8)
    cv2.ellipse(image, (200, 170), (90, 120), 15, 0, 360, (220, 190, 160), -1)
    image[::7, :, 1] = 240  # thin bright lines: detail the low-resolution pass cannot see
    working = resample.shrink_to_longer_side(image, 81)
    gray_small = working.image.astype(np.float32).mean(axis=-1) / 255
    probability = cv2.GaussianBlur(np.clip((gray_small - 0.3) * 3, 0, 1), (5, 5), 0)
    config = matte.MatteConfig(coarse_radius=4)
    a, b, _, shrunk = matte.matte_coefficients(image, probability, config, working)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    dense = np.clip(shrunk.expand(a) * gray + shrunk.expand(b), 0, 1)
    refined = matte.refine(image, probability, config, working, tile=16)
    difference = np.abs(refined.alpha8.astype(np.float32) - dense * 255)
    # Rounding to 8 bits, and OpenCV's warp weights quantized to 1/32 px: within 2 levels.
    assert difference.max() <= 2.0 and difference.mean() < 0.05
    mixed = (refined.alpha8 > 0) & (refined.alpha8 < 255)
    assert 0 < mixed.mean() < 0.5  # the test has an outline, and it is not everywhere
    tiles = refined.tiles  # every semi-transparent pixel lies in a tile marked mixed
    rows, cols = np.nonzero(mixed)
    assert tiles.mixed[rows // 16, cols // 16].all()


def test_replace_leaves_no_fringe_where_the_matte_spills_over_the_background():
    image = np.zeros((60, 60, 3), np.uint8)
    image[:] = (110, 120, 60)                    # olive background
    image[:, 30:] = (200, 60, 60)                # red subject
    alpha = np.zeros((60, 60), np.float32)
    alpha[:, 30:] = 1.0
    alpha[:, 24:30] = 0.4                        # the matte spills 6 px over the background
    blue = np.zeros((10, 10, 3), np.uint8)
    blue[:] = (30, 60, 220)
    out = composite.replace_composite(image, alpha, blue, wrap=0.0)
    naive = composite.blend(image, composite.fit_background(blue, 60, 60), alpha)
    fringe = (slice(10, 50), slice(24, 30))
    assert np.abs(out[fringe].astype(int) - (30, 60, 220)).max() <= 12  # new background only
    assert np.abs(naive[fringe].astype(int) - (30, 60, 220)).max() > 40  # olive showed through


def test_light_wrap_tints_only_the_subjects_edge():
    image = np.zeros((80, 80, 3), np.uint8)
    image[:, 40:] = (200, 60, 60)
    alpha = np.zeros((80, 80), np.float32)
    alpha[:, 40:] = 1.0
    blue = np.full((10, 10, 3), (30, 60, 220), np.uint8)
    wrapped = composite.replace_composite(image, alpha, blue)
    plain = composite.replace_composite(image, alpha, blue, wrap=0.0)
    assert wrapped[40, 40, 2] > plain[40, 40, 2] + 15  # the edge picks up the blue light
    assert tuple(wrapped[40, 70]) == tuple(plain[40, 70]) == (200, 60, 60)  # inside: untouched
    assert tuple(wrapped[40, 10]) == tuple(plain[40, 10])  # outside: the new background


def test_huge_or_invalid_blur_radius_from_the_api_is_bounded_or_refused():
    image = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    assert bokeh.BokehConfig(radius=1e9).radius_for(50, 60) == pytest.approx(np.hypot(50, 60))
    assert bokeh.blur_background(image, None, bokeh.BokehConfig(radius=1e9)).shape == image.shape
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="finite"):
            bokeh.BokehConfig(radius=bad).radius_for(50, 60)
