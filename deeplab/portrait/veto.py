"""A second opinion on what is a person: the fast model's other PASCAL classes veto the subject.

The bundled ``person`` model has two classes, so everything salient that is not background
tends to come out as "person": scikit-image's cat photo is 55% person. The fast model
(``person_fast``) keeps PASCAL's 21 labels, and was trained so that a background pixel may stay
a cat, a dog, a car or a chair. ``ObjectVeto`` runs both on the same photo and moves the
subject probability to background in proportion to the fast model's belief in those other
objects:

    person' = person * (1 - P_fast(any class but background and person))

People keep their probability (the fast model puts little mass on other objects there), a cat
loses it. A subject region in which the judge finds no person at all (nowhere above
``SUPPORT``) goes to the background too: a rocket is not a PASCAL class, so only this rule
catches it. It costs one run of the fast network per photo (a few ms at 385 px).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from deeplab.portrait.models import BACKGROUND_NAMES

#: A subject region is kept only if the judge's person probability reaches this somewhere in it.
SUPPORT = 0.5


def other_objects(probabilities: np.ndarray, class_names: Sequence[str],
                  subject: str = "person") -> np.ndarray:
    """``[..., C]`` probabilities -> ``[...]`` mass on classes that are neither background nor
    ``subject``."""
    names = [name.lower() for name in class_names]
    keep = [i for i, name in enumerate(names) if name in BACKGROUND_NAMES or name == subject]
    return np.clip(1.0 - probabilities[..., keep].sum(-1), 0.0, 1.0)


def unsupported_regions(subject: np.ndarray, judge_person: np.ndarray,
                        support: float = SUPPORT) -> np.ndarray:
    """``[B, h, w]`` bool: pixels of subject regions (subject >= 0.5, 8-connected) in which the
    judge's person probability never reaches ``support``."""
    out = np.zeros(subject.shape, bool)
    for index, (probability, person) in enumerate(zip(subject, judge_person)):
        count, labels = cv2.connectedComponents((probability >= 0.5).astype(np.uint8), 8)
        if count <= 1:
            continue
        best = np.zeros(count, np.float32)
        np.maximum.at(best, labels.ravel(), person.ravel().astype(np.float32))
        weak = best < support
        weak[0] = False  # label 0 is the background
        out[index] = weak[labels]
    return out


class ObjectVeto:
    """``model`` (any classes, "background" and "person" among them) with its person probability
    vetoed where ``judge`` (a model with more object classes) sees other objects.

    Keeps ``model``'s interface: class names, fixed network size, and ``for_input_size`` (the
    judge keeps its own size: it only sees the same working photo).
    """

    def __init__(self, model, judge, subject: str = "person"):
        names = [name.lower() for name in model.class_names]
        if subject not in names:
            raise ValueError(f"the model has no {subject!r} class: {list(model.class_names)}")
        background = [i for i, name in enumerate(names) if name in BACKGROUND_NAMES]
        if not background:
            raise ValueError(f"the model has no background class: {list(model.class_names)}")
        self.model, self.judge, self.subject = model, judge, subject
        self._subject, self._background = names.index(subject), background[0]
        judged = [name.lower() for name in judge.class_names]
        if subject not in judged:
            raise ValueError(f"the judge has no {subject!r} class: {list(judge.class_names)}")
        self._judge_names, self._judge_subject = judged, judged.index(subject)
        self.class_names = tuple(model.class_names)
        self.crop_size = getattr(model, "crop_size", None)
        self.preferred_size = getattr(model, "preferred_size", None)

    @property
    def path(self):
        return getattr(self.model, "path", None)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        probabilities = np.array(self.model.probabilities(images), np.float32, copy=True)
        judged = self.judge.probabilities(images)
        objects = other_objects(judged, self._judge_names, self.subject)
        removed = probabilities[..., self._subject] * objects
        unsupported = unsupported_regions(probabilities[..., self._subject] - removed,
                                          judged[..., self._judge_subject])
        removed = np.where(unsupported, probabilities[..., self._subject], removed)
        probabilities[..., self._subject] -= removed
        probabilities[..., self._background] += removed
        return probabilities

    def for_input_size(self, longer_side: int) -> "ObjectVeto":
        resize = getattr(self.model, "for_input_size", None)
        if resize is None:
            return self
        resized = resize(longer_side)
        return self if resized is self.model else ObjectVeto(resized, self.judge, self.subject)


def with_object_veto(model) -> ObjectVeto:
    """``model`` vetoed by the bundled fast model, as ``infer.py`` runs the default photo model."""
    from deeplab.portrait.models import FAST_WEIGHTS, load_probability_model

    return ObjectVeto(model, load_probability_model(FAST_WEIGHTS))
