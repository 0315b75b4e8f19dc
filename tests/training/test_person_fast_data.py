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


def test_pasted_people_are_person_with_an_ignored_seam_over_the_background_labels(tmp_path):
    import cv2

    from deeplab.training.person_fast_data import add_pasted_people, paste_people, person_cutout

    rng = np.random.default_rng(0)
    subject = np.full((60, 40, 3), 200, np.uint8)
    labels = np.zeros((60, 40), np.uint8)
    labels[10:50, 12:28] = 1
    labels[9, 12:28] = IGNORE  # the hand mask's edge band
    crop, alpha = person_cutout(subject, labels, band=1)
    assert crop.shape[:2] == alpha.shape and alpha.max() > 0.99 and alpha.min() < 0.01
    assert person_cutout(subject, np.zeros_like(labels)) is None

    background = np.zeros((80, 100, 3), np.uint8)
    base = np.zeros((80, 100), np.uint8)
    base[:, 90:] = IGNORE  # a region the background's own labels leave out
    image, pasted = paste_people(rng, background, base, [(crop, alpha)], band=1)
    person = pasted == 1
    assert person.any()
    assert (image[person] > 60).all()  # the subject's pixels were pasted there
    assert (image[pasted == 0] < 60).all()  # untouched background stays background
    seam = cv2.dilate(person.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert (pasted[seam & ~person] == IGNORE).all()
    assert set(np.unique(pasted)) <= {0, 1, IGNORE}

    root = tmp_path / "folder"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, (photo, mask) in {"ccp_a": (subject, labels), "negative_b": (background, base)}.items():
        cv2.imwrite(str(root / "images" / f"{stem}.png"), photo)
        cv2.imwrite(str(root / "masks" / f"{stem}.png"), mask)
    (root / "train.txt").write_text("ccp_a\nnegative_b\n")
    stems = add_pasted_people(root, 3, rng, progress=False)
    assert stems == ["pasted_0000", "pasted_0001", "pasted_0002"]
    for stem in stems:
        mask = cv2.imread(str(root / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        assert (mask == 1).any()
