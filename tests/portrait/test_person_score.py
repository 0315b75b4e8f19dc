"""Person scoring as DESIGN.md section 6: working size, nearest masks, mean and pooled IoU."""

from __future__ import annotations

import cv2
import numpy as np

from deeplab.portrait.person_score import SetScore, reference_mask, working_photo


def test_working_photo_has_a_longer_side_of_513():
    assert working_photo(np.zeros((1000, 600, 3), np.uint8)).shape == (513, 308, 3)
    assert working_photo(np.zeros((200, 300, 3), np.uint8)).shape == (342, 513, 3)


def test_reference_mask_is_resized_by_nearest_and_thresholded(tmp_path):
    mask = np.zeros((10, 10), np.uint8)
    mask[:, 5:] = 255
    mask[0, 0] = 127
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    resized = reference_mask(tmp_path / "m.png", (20, 20))
    assert resized.dtype == bool and resized.shape == (20, 20)
    assert resized[:, 10:].all() and not resized[:, :10].any()


def test_mean_counts_every_photo_alike_and_pooled_weighs_by_size():
    score = SetScore()
    big = np.ones((10, 10), bool)
    score.add("big", big, big)                          # IoU 1 on 100 px
    small_truth = np.zeros((10, 10), bool)
    small_truth[0, 0] = True
    score.add("missed", np.zeros((10, 10), bool), small_truth)  # nobody found: 0
    assert score.per_photo == {"big": 1.0, "missed": 0.0}
    assert score.mean == 0.5
    assert score.pooled == 100 / 101


def test_an_empty_photo_predicted_empty_scores_one():
    score = SetScore()
    empty = np.zeros((4, 4), bool)
    assert score.add("empty", empty, empty) == 1.0


def test_ignored_pixels_count_neither_way():
    score = SetScore()
    truth = np.zeros((10, 10), bool)
    truth[:, :5] = True
    predicted = truth.copy()
    predicted[:, 8:] = True                # a passer-by the labels call background
    ignore = np.zeros((10, 10), bool)
    ignore[:, 7:] = True
    assert score.add("with passer-by", predicted, truth, ignore) == 1.0
