"""From a photo and class probabilities (or a given matte) to the requested output image.

Model-free: the caller runs the network on the downscaled photo (``working_image``) and hands the
probabilities in, so every mode can be exercised with synthetic probabilities in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deeplab.portrait import composite, tutorial
from deeplab.portrait.bokeh import BokehConfig
from deeplab.portrait.matte import MatteConfig, RefinedMatte, refine, subject_probability
from deeplab.portrait.resample import Shrunk, shrink_to_longer_side
from deeplab.portrait.subjects import SUBJECT_CHOICES, keep_held_objects, keep_main_subjects

PHOTO_INPUT_SIZE = 513  # longer side fed to the network, as the original demo does
VIDEO_INPUT_SIZE = 225  # >= 30 frames/s at 640x480 with the bundled model on 2 cores (README)


@dataclass(frozen=True)
class RenderConfig:
    """How to turn probabilities into the output: mode, subject classes, matte and blur.

    ``subjects``: ``main`` keeps the main subject and anyone about as prominent, passers-by go to
    the background (``deeplab.portrait.subjects``); ``all`` keeps everyone the network finds.
    ``keep_held``: what the subjects hold stays with them (``subjects.keep_held_objects``).
    """

    mode: str = "blur"
    subject_classes: tuple[int, ...] = (1,)
    subjects: str = "main"
    keep_held: bool = False
    matte: MatteConfig = field(default_factory=MatteConfig)
    bokeh: BokehConfig = field(default_factory=BokehConfig)
    background: np.ndarray | None = None  # replacement background for mode "replace"

    def __post_init__(self):
        if self.mode not in composite.MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose one of {composite.MODES}")
        if self.subjects not in SUBJECT_CHOICES:
            raise ValueError(f"unknown subjects {self.subjects!r}; choose one of {SUBJECT_CHOICES}")
        if self.mode == "replace" and self.background is None:
            raise ValueError("mode 'replace' needs a background image (--background IMG)")


def working_image(image: np.ndarray, longer_side: int = PHOTO_INPUT_SIZE) -> Shrunk:
    """The photo downscaled (area) so its longer side is ``longer_side``; never upscaled.

    This is what the network is fed; the matte refinement and the blur reuse it.
    """
    return shrink_to_longer_side(image, longer_side)


@dataclass
class Rendered:
    """The output image and the full-resolution matte it was made with."""

    image: np.ndarray
    refined: RefinedMatte

    @property
    def matte8(self) -> np.ndarray:
        """uint8 ``[H, W]`` matte (255 = subject), as ``--save-matte`` writes it."""
        return self.refined.alpha8

    @property
    def matte(self) -> np.ndarray:
        """float32 ``[H, W]`` matte in [0, 1] (a full-resolution conversion, made on request)."""
        return self.refined.as_float()


def subject_probability_of(probabilities: np.ndarray, config: RenderConfig) -> np.ndarray:
    """Working-resolution probability of the subject: its classes, then (``subjects="main"``)
    without the passers-by; with what they hold (``keep_held``)."""
    probability = subject_probability(probabilities, config.subject_classes)
    if config.subjects == "main":
        probability = keep_main_subjects(probability)
    return keep_held_objects(probability) if config.keep_held else probability


def matte_from_probabilities(image: np.ndarray, probabilities: np.ndarray,
                             config: RenderConfig, working: Shrunk | None = None,
                             ) -> RefinedMatte:
    """The refined full-resolution matte from working-resolution probabilities: what every mode
    composites with, and what ``--mode matte`` writes."""
    return refine(image, subject_probability_of(probabilities, config), config.matte, working)


def render(image: np.ndarray, config: RenderConfig, probabilities: np.ndarray | None = None,
           matte: np.ndarray | None = None, input_alpha: np.ndarray | None = None,
           working: Shrunk | None = None, working_matte: np.ndarray | None = None) -> Rendered:
    """Render ``config.mode`` for a uint8 RGB photo.

    Give ``probabilities`` (working resolution, [h, w, C]) or a ``matte`` (a ``RefinedMatte``,
    or a full-resolution float [0, 1] / uint8 array); with both, the matte wins and the
    probabilities only feed the overlay/compare views. ``working`` is the downscaled photo the
    network saw (saves work on large photos).
    """
    if matte is None:
        if probabilities is None:
            raise ValueError("render needs class probabilities or a matte")
        matte = matte_from_probabilities(image, probabilities, config, working)
    matte = composite.as_refined(matte)
    if matte.shape != image.shape[:2]:
        raise ValueError(f"matte {matte.shape} does not match the image {image.shape[:2]}")
    height, width = image.shape[:2]
    mode = config.mode
    if mode == "blur":
        output = composite.blur_composite(image, matte, config.bokeh, working, working_matte)
    elif mode == "replace":
        output = composite.replace_composite(image, matte, config.background, working)
    elif mode == "cutout":
        output = composite.cutout(image, matte, input_alpha, working)
    elif mode == "matte":
        output = composite.matte_to_uint8(matte)
    elif mode == "overlay":
        output = tutorial.tutorial_overlay(image, _labels(probabilities, matte, config, height,
                                                          width))
    elif mode == "compare":
        if probabilities is not None:
            mask = tutorial.tutorial_mask_from_probabilities(probabilities,
                                                             config.subject_classes, height, width)
        else:
            mask = matte.alpha8 >= 128
        radius = config.bokeh.radius_for(height, width)
        baseline = tutorial.tutorial_blur(image, mask, tutorial.tutorial_kernel_size(radius))
        ours = composite.blur_composite(image, matte, config.bokeh, working, working_matte)
        output = composite.side_by_side(baseline, ours)
    else:  # guarded by RenderConfig
        raise ValueError(mode)
    return Rendered(image=output, refined=matte)


def _labels(probabilities: np.ndarray | None, matte: RefinedMatte, config: RenderConfig,
            height: int, width: int) -> np.ndarray:
    if probabilities is not None:
        return tutorial.tutorial_labels_full(probabilities, height, width)
    return np.where(matte.alpha8 >= 128, config.subject_classes[0], 0).astype(np.uint8)
