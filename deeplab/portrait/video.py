"""Portrait mode on video: frames in order, same size and frame rate, a matte that does not flicker.

Decoding, the network and rendering run as three overlapping stages (threads; OpenCV and LiteRT
release the GIL), the subject probability is smoothed over time at the working resolution
(``TemporalSmoother``), each frame is rendered like a photo (with a cheaper blur) and written to
a temp file that replaces the output only when the whole video is done.
Audio is not carried over (OpenCV does not read it).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2

from deeplab.atomic import atomic_path
from deeplab.image_files import UnreadableImageError
from deeplab.portrait.matte import TemporalSmoother, refine, subject_probability
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


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


class _Stage:
    """Runs ``function`` over ``items`` in a background thread, handing results on in order.

    The stages of a video (decode + downscale, network, render + encode) each release the GIL
    in OpenCV / LiteRT, so on two cores they overlap. Errors are re-raised in the consumer;
    ``close`` stops the thread (used when the consumer fails or finishes early).
    """

    def __init__(self, items, function, depth: int = 3):
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(items, function), daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, items, function) -> None:
        try:
            for item in items:
                if not self._put(function(item)):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer
            self._put(_Failed(error))

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _read_frames(capture: cv2.VideoCapture):
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def video_render_config(config: RenderConfig) -> RenderConfig:
    """Cheaper settings for video frames: the background blur runs at ~4-px disc radius (a
    quarter of the work of a photo's 8 px; motion hides the difference)."""
    bokeh = replace(config.bokeh, max_working_radius=min(config.bokeh.max_working_radius, 4))
    return replace(config, bokeh=bokeh)


def process_video(source: str | Path, destination: str | Path, model: ProbabilityModel,
                  config: RenderConfig, *, input_size: int = VIDEO_INPUT_SIZE, batch_size: int = 4,
                  smoother: TemporalSmoother | None = None,
                  on_frames: Callable[[int], None] | None = None) -> int:
    """Render every frame of ``source`` into ``destination``; returns the number of frames.

    Three stages overlap in threads: decoding + downscaling, the network, and rendering +
    encoding (in frame order). ``on_frames(n)`` is called as frames are written (progress
    bars). ``batch_size`` is accepted for compatibility; frames go through the network one by
    one so that the stages overlap.
    """
    if config.mode not in VIDEO_MODES:
        raise ValueError(f"mode {config.mode!r} cannot be written as video; use one of "
                         f"{VIDEO_MODES}")
    source, destination = Path(source), Path(destination)
    info = video_info(source)
    fps = info.fps if info.fps > 0 else 25.0
    fourcc = cv2.VideoWriter_fourcc(*FOURCC_BY_EXTENSION.get(destination.suffix.lower(), "mp4v"))
    smoother = smoother or TemporalSmoother()
    config = video_render_config(config)
    capture = cv2.VideoCapture(str(source))
    written = 0
    shape = None

    def prepare(frame_bgr):
        nonlocal shape
        frame = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        working = working_image(frame, input_size)
        if shape is None:
            shape = working.image.shape
        elif working.image.shape != shape:
            raise ValueError(f"{source}: frame size changes inside the video")
        return frame, working

    def predict(item):
        frame, working = item
        return frame, working, model.probabilities(working.image[None])[0]

    stages = []
    try:
        with atomic_path(destination) as temp_path:
            writer = None
            try:
                stages.append(_Stage(_read_frames(capture), prepare))
                stages.append(_Stage(stages[0], predict))
                for frame, working, probs in stages[1]:
                    probability = smoother(subject_probability(probs, config.subject_classes))
                    matte = refine(frame, probability, config.matte, working)
                    output = render(frame, config, probabilities=probs, matte=matte,
                                    working=working).image
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
                        on_frames(1)
            finally:
                for stage in reversed(stages):
                    stage.close()
                if writer is not None:
                    writer.release()
            if written == 0:
                raise UnreadableImageError(f"{source}: no frames could be decoded")
    finally:
        capture.release()
    return written
