"""Masks that do not teach a model to ignore people: other people and coarse edges ignored."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplab.data.unlabelled_people import rewrite_folder, rewrite_mask


def _scene():
    subject = np.zeros((80, 120), bool)
    subject[10:70, 20:45] = True
    teacher = subject.copy()
    teacher[30:60, 90:105] = True          # a passer-by the labels call background
    teacher[5:7, 60:62] = True             # 4 px of teacher noise
    return subject, teacher


def test_people_away_from_the_subject_become_ignore_and_the_subject_stays():
    subject, teacher = _scene()
    label, others = rewrite_mask(subject, teacher, band=0)
    assert np.all(label[subject] == 1)
    assert np.all(label[30:60, 90:105] == 255) and others[45, 97]
    assert label[6, 61] == 0               # too small to be a person
    assert label[75, 110] == 0             # plain background untouched


def test_a_thin_band_along_the_labelled_edge_is_ignored():
    subject, teacher = _scene()
    label, _ = rewrite_mask(subject, subject, band=2)
    assert label[40, 20] == 255 and label[40, 18] == 255 and label[40, 17] == 0
    assert label[40, 30] == 1


def test_teacher_pixels_touching_the_subject_are_not_another_person():
    subject, _ = _scene()
    teacher = subject.copy()
    teacher[40:50, 45:52] = True           # the teacher's subject is a little wider
    label, others = rewrite_mask(subject, teacher, band=0)
    assert not others.any() and label[45, 48] == 0


def test_rewrite_folder_writes_a_new_data_set_and_never_overwrites(tmp_path):
    source = tmp_path / "src"
    (source / "images").mkdir(parents=True)
    (source / "masks").mkdir()
    subject, teacher = _scene()
    cv2.imwrite(str(source / "images" / "a.png"), np.full((80, 120, 3), 128, np.uint8))
    cv2.imwrite(str(source / "masks" / "a.png"), subject.astype(np.uint8) * 255)

    summary = rewrite_folder(source, tmp_path / "out", lambda image: teacher, band=0,
                             progress=False)

    written = cv2.imread(str(tmp_path / "out" / "masks" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(written)) == {0, 1, 255}
    assert (tmp_path / "out" / "images" / "a.png").is_file()
    assert summary.photos == 1 and summary.with_other_people == 1
    with pytest.raises(FileExistsError):
        rewrite_folder(source, tmp_path / "out", lambda image: teacher, progress=False)
