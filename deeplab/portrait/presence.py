"""Is there a subject at all? The no-subject rule, what to do then, and the fade used in video.

A matte "holds no subject" when less than ``MIN_SUBJECT_AREA`` (0.2%) of the frame is at least
half subject (matte >= 0.5). Blurring such a photo all over is rarely what anyone wants, so
``--if-empty`` chooses:

- ``keep`` (default): the photo is written unchanged (blur and replace modes; matte, cutout,
  overlay and compare show the empty matte as it is), and the summary names the file;
- ``blur``: rendered as usual (everything is background);
- ``skip``: nothing is written; the file is listed as skipped.

In video, frames cannot be left out: ``PresenceFader`` moves an effect strength between 0 (the
frame as it is) and 1 (the rendered frame) over ``fade_seconds``, so the effect fades out when
the subject leaves and back in when it returns, instead of popping. With ``skip``, a video in
which no frame holds a subject is not written.
"""

from __future__ import annotations

import cv2
import numpy as np

IF_EMPTY_CHOICES = ("keep", "blur", "skip")
MIN_SUBJECT_AREA = 0.002
#: Modes whose effect is left out for an empty matte (the others show the matte itself).
KEPT_MODES = ("blur", "replace")
FADE_SECONDS = 0.5


def subject_area(matte: np.ndarray) -> float:
    """Fraction of pixels that are at least half subject (float [0, 1] or uint8 matte)."""
    matte = np.asarray(matte)
    if matte.size == 0:
        return 0.0
    threshold = 128 if matte.dtype == np.uint8 else 0.5
    return float(np.count_nonzero(matte >= threshold)) / matte.size


def has_subject(matte: np.ndarray, min_area: float = MIN_SUBJECT_AREA) -> bool:
    """True when at least ``min_area`` of the frame is subject (see the module docstring)."""
    return subject_area(matte) >= min_area


def check_if_empty(choice: str) -> str:
    if choice not in IF_EMPTY_CHOICES:
        raise ValueError(f"--if-empty must be one of {IF_EMPTY_CHOICES}, got {choice!r}")
    return choice


def keeps_photo(mode: str, choice: str) -> bool:
    """Whether an empty matte means "write the photo as it is" for this mode and choice."""
    return choice == "keep" and mode in KEPT_MODES


class PresenceFader:
    """Effect strength per video frame: ramps to 1 while a subject is seen, to 0 while not.

    ``enabled=False`` (``--if-empty blur``, or modes that show the matte) always gives 1.
    The ramp is linear over ``fade_seconds`` at the video's frame rate and starts at the first
    frame's state (a clip that opens on an empty room starts unblurred).
    """

    def __init__(self, fps: float, fade_seconds: float = FADE_SECONDS, enabled: bool = True):
        self.step = 1.0 / max(1.0, fade_seconds * max(fps, 1.0))
        self.enabled = enabled
        self.strength: float | None = None
        self.frames_without_subject = 0
        self.frames_seen = 0

    def __call__(self, present: bool) -> float:
        self.frames_seen += 1
        if not present:
            self.frames_without_subject += 1
        if not self.enabled:
            return 1.0
        target = 1.0 if present else 0.0
        if self.strength is None:
            self.strength = target
        elif self.strength < target:
            self.strength = min(target, self.strength + self.step)
        else:
            self.strength = max(target, self.strength - self.step)
        return self.strength


def mix(photo: np.ndarray, rendered: np.ndarray, strength: float) -> np.ndarray:
    """``strength * rendered + (1 - strength) * photo`` in uint8 (no work at 0 or 1)."""
    if strength >= 1.0 or rendered.shape != photo.shape:
        return rendered
    if strength <= 0.0:
        return photo
    return cv2.addWeighted(rendered, strength, photo, 1.0 - strength, 0.0)
