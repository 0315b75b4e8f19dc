"""The fast model's other PASCAL classes veto the person model's subject (a cat is no person)."""

from __future__ import annotations

import numpy as np
import pytest

from deeplab.portrait.veto import ObjectVeto, other_objects

PASCAL_LIKE = ("background", "cat", "person")


class Fixed:
    """A model that returns the same probabilities for any image of its size."""

    def __init__(self, class_names, probabilities):
        self.class_names = class_names
        self._probabilities = np.asarray(probabilities, np.float32)

    def probabilities(self, images):
        return np.broadcast_to(self._probabilities, (len(images),) + self._probabilities.shape)


def test_other_objects_is_the_mass_on_neither_background_nor_the_subject():
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.0, 0.5]], np.float32)
    assert other_objects(probabilities, PASCAL_LIKE) == pytest.approx([0.7, 0.0])


def test_veto_moves_the_subject_to_background_where_the_judge_sees_another_object():
    # two pixels, both "person" for the 2-class model; the judge sees a cat in the first
    model = Fixed(("background", "person"), [[[0.1, 0.9], [0.1, 0.9]]])
    judge = Fixed(PASCAL_LIKE, [[[0.05, 0.9, 0.05], [0.1, 0.0, 0.9]]])
    vetoed = ObjectVeto(model, judge).probabilities(np.zeros((1, 1, 2, 3), np.uint8))[0, 0]
    assert vetoed[0, 1] == pytest.approx(0.9 * 0.1)  # the cat: person falls to 0.09
    assert vetoed[0].sum() == pytest.approx(1.0)  # still a distribution
    assert vetoed[1, 1] == pytest.approx(0.9)  # the person is untouched
    assert ObjectVeto(model, judge).class_names == ("background", "person")


def test_veto_needs_a_person_and_a_background_class():
    judge = Fixed(PASCAL_LIKE, [[[1.0, 0.0, 0.0]]])
    with pytest.raises(ValueError, match="person"):
        ObjectVeto(Fixed(("background", "car"), [[[1.0, 0.0]]]), judge)


def test_a_subject_region_the_judge_sees_no_person_in_goes_to_the_background():
    # a 1x6 strip: two subject regions; the judge sees a person only in the first
    model = Fixed(("background", "person"), [[[0.1, 0.9]] * 2 + [[0.9, 0.1]] + [[0.2, 0.8]] * 3])
    judge = Fixed(PASCAL_LIKE, [[[0.2, 0.0, 0.8]] * 2 + [[1.0, 0.0, 0.0]] * 4])
    vetoed = ObjectVeto(model, judge).probabilities(np.zeros((1, 1, 6, 3), np.uint8))[0, 0]
    assert vetoed[:2, 1] == pytest.approx([0.9, 0.9])  # supported: kept
    assert vetoed[3:, 1] == pytest.approx([0.0, 0.0, 0.0])  # nowhere a person for the judge
    assert vetoed.sum(-1) == pytest.approx(np.ones(6))
