"""Which of the people found in a photo are its subject: the main one and those as prominent.

A fast lens focuses on the subject; passers-by further back fall out of focus with the rest of
the scene. A person network finds every person, so portrait mode keeps a found region only when
its area is at least ``min_area_fraction`` of the largest one (a group of similar size stays
whole) and hands the others to the background. Both sets this project is scored on (person_dev,
CCP) label only the main subject, as a portrait photographer would.

What a subject holds (a helmet, a camera, a cup) is not a person, but a person network half-sees
it: its probability rises well above the background's where it touches the person.
``keep_held_objects`` (``--keep-held``) keeps those regions with the subject.
"""

from __future__ import annotations

import cv2
import numpy as np

SUBJECT_CHOICES = ("main", "all")
#: A region smaller than this fraction of the largest one is a passer-by, not a subject...
MAIN_SUBJECT_AREA_FRACTION = 0.25
#: ... unless it lies this close to a subject (a fraction of the longer side): a hand or a foot
#: cut off by a strap, a pole or a held object is part of the subject.
NEAR_SUBJECT_FRACTION = 0.02
#: Held objects: pixels above this probability, connected to the subject through such pixels,
#: are kept with it (measured in benchmarks/held_objects.py: 0.1 keeps about half to three
#: quarters of a held object for a few per cent of the background kept sharp).
HELD_THRESHOLD = 0.1


def keep_main_subjects(probability: np.ndarray,
                       min_area_fraction: float = MAIN_SUBJECT_AREA_FRACTION,
                       threshold: float = 0.5,
                       near_fraction: float = NEAR_SUBJECT_FRACTION) -> np.ndarray:
    """``probability`` ([h, w] in [0, 1]) with the regions of minor people set to 0.

    Regions are the 8-connected parts of ``probability > threshold``; a small region within
    ``near_fraction`` of the longer side of a subject region stays with it. A dropped region
    takes its soft fringe with it (the ramp the network's upsampling leaves around it, about
    1.5% of the longer side), except where that fringe also borders a kept region. The input is
    not modified; when nothing is dropped it is returned as it is.
    """
    if not 0.0 <= min_area_fraction <= 1.0:
        raise ValueError(f"min_area_fraction must be in [0, 1], got {min_area_fraction}")
    probability = np.asarray(probability)
    if probability.ndim != 2:
        raise ValueError(f"expected an [h, w] probability, got shape {probability.shape}")
    found = (probability > threshold).astype(np.uint8)
    count, regions, stats, _ = cv2.connectedComponentsWithStats(found, connectivity=8)
    if count <= 2 or min_area_fraction == 0.0:  # background plus at most one region
        return probability
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = areas >= min_area_fraction * areas.max()
    if near_fraction > 0 and not keep[1:].all():
        reach = _disc(max(1, round(near_fraction * max(probability.shape))))
        near = cv2.dilate(keep[regions].astype(np.uint8), reach).astype(bool)
        keep[np.unique(regions[near])] = True
        keep[0] = False  # the background is never a subject
    if keep[1:].all():
        return probability
    kept = keep[regions]
    dropped = (regions > 0) & ~kept
    fringe = _disc(max(2, round(0.015 * max(probability.shape))))
    zone = dropped | (cv2.dilate(dropped.astype(np.uint8), fringe).astype(bool)
                      & ~cv2.dilate(kept.astype(np.uint8), fringe).astype(bool))
    result = probability.copy()
    result[zone] = 0
    return result


def keep_held_objects(probability: np.ndarray, threshold: float = HELD_THRESHOLD) -> np.ndarray:
    """``probability`` ([h, w] in [0, 1]) with what the subject holds raised to 1.

    A held object gets a weak but clear probability where it touches the person; the
    8-connected regions of ``probability > threshold`` that contain subject pixels (``> 0.5``)
    become subject (hysteresis thresholding), and the matte refinement snaps their outline to
    the photo's edges. Weak regions not attached to a subject stay as they are. The input is
    not modified; when nothing is added it is returned as it is.
    """
    if not 0.0 < threshold < 0.5:
        raise ValueError(f"held-object threshold must be in (0, 0.5), got {threshold}")
    probability = np.asarray(probability)
    subject = probability > 0.5
    if not subject.any():
        return probability
    weak = (probability > threshold).astype(np.uint8)
    count, regions = cv2.connectedComponents(weak, connectivity=8)
    attached = np.zeros(count, bool)
    attached[regions[subject]] = True
    attached[0] = False
    held = attached[regions] & ~subject
    if not held.any():
        return probability
    result = probability.copy()
    result[held] = 1.0
    return result


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
