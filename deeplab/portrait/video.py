"""Portrait mode on video: frames in order, same size and frame rate, a matte that does not flicker.

Frames are read in batches (one network call per batch), the subject probability is smoothed
over time at the working resolution (``TemporalSmoother``), each frame is rendered like a photo
and written to a temp file that replaces the output only when the whole video is done.
Audio is not carried over (OpenCV does not read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from deeplab.portrait.io import UnreadableImageError, atomic_output
from deeplab.portrait.matte import TemporalSmoother, refine_matte_levels, subject_probability
from deeplab.portrait.models import ProbabilityModel
from deeplab.portrait.render import VIDEO_INPUT_SIZE, RenderConfig, render, working_image

FOURCC_BY_EXTENSION = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v"}
VIDEO_MODES = ("blur", "replace", "matte", "overlay", "compare")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int


def video_info(path: str | Path) -> VideoInfo:
    """Size, frame rate and (container-reported) frame count of a video file."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UnreadableImageError(f"{path}: cannot open video")
        return VideoInfo(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                         int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
                         int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    finally:
        capture.release()


def output_video_extension(input_suffix: str) -> str:
    """Keep .avi/.mp4/.m4v/.mov; anything else is written as .mp4."""
    suffix = input_suffix.lower()
    return suffix if suffix in FOURCC_BY_EXTENSION else ".mp4"


def _frames(capture: cv2.VideoCapture, batch_size: int):
    while True:
        batch = []
        for _ in range(batch_size):
            ok, frame = capture.read()
            if not ok:
                break
            batch.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return


def process_video(source: str | Path, destination: str | Path, model: ProbabilityModel,
                  config: RenderConfig, *, input_size: int = VIDEO_INPUT_SIZE, batch_size: int = 4,
                  smoother: TemporalSmoother | None = None,
                  on_frames: Callable[[int], None] | None = None) -> int:
    """Render every frame of ``source`` into ``destination``; returns the number of frames.

    ``on_frames(n)`` is called after each batch (progress bars).
    """
    if config.mode not in VIDEO_MODES:
        raise ValueError(f"mode {config.mode!r} cannot be written as video; use one of "
                         f"{VIDEO_MODES}")
    source, destination = Path(source), Path(destination)
    info = video_info(source)
    fps = info.fps if info.fps > 0 else 25.0
    fourcc = cv2.VideoWriter_fourcc(*FOURCC_BY_EXTENSION.get(destination.suffix.lower(), "mp4v"))
    smoother = smoother or TemporalSmoother()
    capture = cv2.VideoCapture(str(source))
    written = 0
    try:
        with atomic_output(destination) as temp_path:
            writer = None
            try:
                for batch in _frames(capture, batch_size):
                    workings = [working_image(frame, input_size) for frame in batch]
                    shapes = {w.image.shape for w in workings}
                    if len(shapes) != 1:
                        raise ValueError(f"{source}: frame size changes inside the video")
                    probabilities = model.probabilities(np.stack([w.image for w in workings]))
                    for frame, working, probs in zip(batch, workings, probabilities):
                        probability = smoother(subject_probability(probs, config.subject_classes))
                        matte, working_matte = refine_matte_levels(frame, probability,
                                                                   config.matte, working)
                        output = render(frame, config, probabilities=probs, matte=matte,
                                        working=working, working_matte=working_matte).image
                        if output.ndim == 2:
                            output = cv2.cvtColor(output, cv2.COLOR_GRAY2BGR)
                        else:
                            output = cv2.cvtColor(output, cv2.COLOR_RGB2BGR)
                        if writer is None:
                            size = (output.shape[1], output.shape[0])
                            writer = cv2.VideoWriter(str(temp_path), fourcc, fps, size)
                            if not writer.isOpened():
                                raise OSError(f"cannot write video {destination} "
                                              f"({destination.suffix})")
                        writer.write(output)
                        written += 1
                    if on_frames is not None:
                        on_frames(len(batch))
            finally:
                if writer is not None:
                    writer.release()
            if written == 0:
                raise UnreadableImageError(f"{source}: no frames could be decoded")
    finally:
        capture.release()
    return written
