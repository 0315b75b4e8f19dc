"""The fast model's training labels: sure teacher labels, hand masks with passers-by ignored,
generated photos with no person."""

from __future__ import annotations

import numpy as np

from deeplab.training.person_fast_data import (IGNORE, generated_negative, hand_labels, shrink,
                                               sure_labels)


def test_teacher_labels_only_where_the_teacher_is_sure():
    probability = np.array([[0.9, 0.5, 0.1, 0.76, 0.24]], np.float32)
    assert sure_labels(probability).tolist() == [[1, IGNORE, 0, 1, 0]]


def test_hand_masks_keep_the_subject_and_ignore_people_the_teacher_finds_outside_it():
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:10] = 255
    teacher = np.zeros((20, 20), np.float32)
    teacher[5:15, 5:10] = 0.9
    teacher[2:6, 15:19] = 0.8  # a passer-by the hand mask leaves out
    labels = hand_labels(mask, teacher, band=1)
    assert (labels[8:12, 7] == 1).all()
    assert (labels[2:6, 15:19] == IGNORE).all()
    assert labels[10, 4] == IGNORE and labels[10, 10] == IGNORE  # the band along the edge
    assert labels[18, 2] == 0


def test_generated_negatives_are_repeatable_photos_and_shrink_keeps_labels_exact():
    textures = [np.full((768, 768, 3), value, np.uint8) for value in (40, 200)]
    first = generated_negative(np.random.default_rng(3), textures)
    again = generated_negative(np.random.default_rng(3), textures)
    assert first.shape == (384, 512, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again) and first.std() > 1
    labels = np.random.default_rng(0).choice([0, 1, IGNORE], (1000, 800)).astype(np.uint8)
    small = shrink(labels, 513, nearest=True)
    assert max(small.shape) == 513 and set(np.unique(small)) <= {0, 1, IGNORE}
