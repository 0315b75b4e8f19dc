"""Main-subject selection: minor people go to the background, subjects stay exactly as found."""

import numpy as np
import pytest

from deeplab.portrait.subjects import keep_main_subjects


def soft_disc(shape, centre, radius, ramp=4.0):
    """A person-probability blob: 1 inside, a linear ramp to 0 over ``ramp`` px outside."""
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    distance = np.hypot(ys - centre[0], xs - centre[1])
    return np.clip((radius + ramp - distance) / ramp, 0.0, 1.0).astype(np.float32)


def test_a_passer_by_goes_with_its_fringe_and_the_subject_is_untouched():
    subject = soft_disc((200, 300), (100, 80), 50)
    passer_by = soft_disc((200, 300), (60, 240), 12)
    probability = np.maximum(subject, passer_by)

    kept = keep_main_subjects(probability)

    assert kept.dtype == probability.dtype
    np.testing.assert_array_equal(kept[:, :160], subject[:, :160])
    assert kept[:, 200:].max() == 0.0  # the soft ramp around the passer-by went too
    assert probability[60, 240] == 1.0  # the input is not modified


def test_people_of_similar_size_are_all_subjects():
    probability = np.maximum(soft_disc((200, 300), (100, 80), 40),
                             soft_disc((200, 300), (100, 220), 30))
    assert keep_main_subjects(probability) is probability


def test_the_fraction_decides_and_zero_keeps_everyone():
    probability = np.maximum(soft_disc((200, 300), (100, 80), 40),
                             soft_disc((200, 300), (100, 220), 20))  # a quarter of the area
    assert keep_main_subjects(probability, 0.2)[100, 220] == 1.0
    assert keep_main_subjects(probability, 0.3)[100, 220] == 0.0
    assert keep_main_subjects(probability, 0.0) is probability


def test_a_small_region_clear_of_the_subject_goes_and_the_subject_edge_stays():
    subject = soft_disc((120, 200), (60, 60), 40)
    small = soft_disc((120, 200), (60, 130), 4)  # 20 px clear of the subject: a passer-by
    probability = np.maximum(subject, small)
    kept = keep_main_subjects(probability)
    assert kept[60, 130] == 0.0
    np.testing.assert_array_equal(kept[:, :110], probability[:, :110])  # with its soft ramp


def test_a_small_part_next_to_the_subject_stays_with_it():
    subject = soft_disc((120, 200), (60, 60), 40)
    hand = soft_disc((120, 200), (60, 108), 4)  # cut off by a 2-px gap (a strap, a pole)
    probability = np.maximum(subject, hand)
    assert keep_main_subjects(probability) is probability
    assert keep_main_subjects(probability, near_fraction=0.0)[60, 108] == 0.0


@pytest.mark.parametrize("probability", [np.zeros((30, 40), np.float32),
                                         np.full((30, 40), 0.4, np.float32)])
def test_nobody_found_is_left_alone(probability):
    assert keep_main_subjects(probability) is probability


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="min_area_fraction"):
        keep_main_subjects(np.zeros((4, 4), np.float32), 1.5)
    with pytest.raises(ValueError, match=r"\[h, w\]"):
        keep_main_subjects(np.zeros((4, 4, 2), np.float32))


def two_people_probabilities(shape=(200, 300)):
    """[h, w, 2] background/person probabilities: a subject on the left, a passer-by right."""
    person = np.maximum(soft_disc(shape, (100, 80), 50), soft_disc(shape, (80, 235), 20))
    return np.dstack([1.0 - person, person]).astype(np.float32)


@pytest.mark.parametrize("subjects, passer_by_sharp", [("main", False), ("all", True)])
def test_portrait_mattes_follow_the_subjects_option(subjects, passer_by_sharp):
    from deeplab.portrait.render import RenderConfig, matte_from_probabilities

    image = np.full((200, 300, 3), 128, np.uint8)
    matte = matte_from_probabilities(image, two_people_probabilities(),
                                     RenderConfig(mode="matte", subjects=subjects))
    assert matte.alpha8[100, 80] == 255
    assert (matte.alpha8[80, 235] > 127) == passer_by_sharp
    assert (matte.alpha8[:, 200:].max() > 0) == passer_by_sharp  # dropped: no trace left


def test_an_unknown_subjects_choice_is_refused():
    from deeplab.portrait.render import RenderConfig

    with pytest.raises(ValueError, match="subjects"):
        RenderConfig(subjects="largest")


def test_infer_passes_the_subjects_option_through():
    from deeplab.portrait.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["a.jpg", "-o", "out"]).subjects == "main"
    assert parser.parse_args(["a.jpg", "-o", "out", "--subjects", "all"]).subjects == "all"
