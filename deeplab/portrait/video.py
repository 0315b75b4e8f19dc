"""Portrait mode on video: every frame, same timing and sound, a matte that does not flicker.

Frames are decoded and encoded with FFmpeg's libraries (``video_io``: H.264 or the container's
codec family, audio and subtitles copied unchanged). Decoding, the network and rendering run as
three overlapping stages (threads; PyAV, OpenCV and LiteRT release the GIL); the subject
probability and the refined matte are held where the picture is still and follow where it moves
(``temporal.TemporalSmoother``); each frame is rendered like a photo (with a cheaper blur), and
where no subject is seen the effect fades out and back in (``presence.PresenceFader``). The
file is written under a temporary name and published only when the whole video is done and no
frame was missing.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2

from deeplab.atomic import atomic_create, atomic_path
from deeplab.portrait.matte import refine
from deeplab.portrait.models import ProbabilityModel
from deeplab.portrait.presence import (KEPT_MODES, PresenceFader, check_if_empty, has_subject,
                                       mix)
from deeplab.portrait.render import (VIDEO_INPUT_SIZE, RenderConfig, render, subject_probability_of,
                                     working_image)
from deeplab.portrait.temporal import TemporalSmoother
from deeplab.portrait.video_io import (DecodedFrame, VideoInfo, VideoReader, VideoWriter,
                                       check_codec, default_codec, stored, video_info)

__all__ = ["NoSubjectInVideo", "VIDEO_MODES", "VideoInfo", "VideoResult",
           "output_video_extension", "process_video", "video_info", "video_render_config"]

VIDEO_MODES = ("blur", "replace", "matte", "overlay", "compare")


class NoSubjectInVideo(Exception):
    """``if_empty="skip"`` and no frame of the video holds a subject: nothing was written."""


@dataclass(frozen=True)
class VideoResult:
    """What ``process_video`` did: frames written and how many of them showed no subject."""

    frames: int
    frames_without_subject: int
    copied_streams: tuple[str, ...]


def output_video_extension(input_suffix: str) -> str:
    """The input's own container (FFmpeg writes every one we read)."""
    return input_suffix.lower() or ".mp4"


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


def video_render_config(config: RenderConfig) -> RenderConfig:
    """Cheaper settings for video frames: the background blur runs at ~4-px disc radius (a
    quarter of the work of a photo's 8 px; motion hides the difference)."""
    bokeh = replace(config.bokeh, max_working_radius=min(config.bokeh.max_working_radius, 4))
    return replace(config, bokeh=bokeh)


def process_video(source: str | Path, destination: str | Path, model: ProbabilityModel,
                  config: RenderConfig, *, input_size: int = VIDEO_INPUT_SIZE,
                  smoother: TemporalSmoother | None = None, if_empty: str = "keep",
                  codec: str | None = None, crf: int | None = None, overwrite: bool = True,
                  on_frames: Callable[[int], None] | None = None,
                  max_pixels: int | None = None) -> VideoResult:
    """Render every frame of ``source`` into ``destination`` (same container, timing, sound).

    Three stages overlap in threads: demuxing + decoding + downscaling, the network, and
    rendering + encoding + muxing (in file order, so copied audio packets stay interleaved).
    ``on_frames(n)`` is called as frames are written (progress bars). ``if_empty``: see
    ``deeplab.portrait.presence``. Raises ``TruncatedVideoError`` (nothing written) when fewer
    frames decode than the file declares, ``NoSubjectInVideo`` for ``if_empty="skip"`` when no
    frame shows a subject. ``overwrite=False``: ``FileExistsError`` if ``destination`` exists
    when the finished file is published (concurrent runs never replace each other's output).
    ``max_pixels``: frames larger than this are refused (``ImageTooLargeError``, nothing written).
    """
    if config.mode not in VIDEO_MODES:
        raise ValueError(f"mode {config.mode!r} cannot be written as video; use one of "
                         f"{VIDEO_MODES}")
    check_if_empty(if_empty)
    source, destination = Path(source), Path(destination)
    check_codec(codec or default_codec(destination.suffix), destination.suffix, crf)
    smoother = smoother or TemporalSmoother()
    config = video_render_config(config)
    shape = None

    def prepare(event):
        nonlocal shape
        if not isinstance(event, DecodedFrame):
            return event, None
        working = working_image(event.rgb, input_size)
        if shape is None:
            shape = working.image.shape
        elif working.image.shape != shape:
            raise ValueError(f"{source}: frame size changes inside the video")
        return event, working

    def predict(item):
        event, working = item
        if working is None:
            return event, None, None
        return event, working, model.probabilities(working.image[None])[0]

    with VideoReader(source, max_pixels=max_pixels) as reader:
        fader = PresenceFader(reader.info.fps, enabled=if_empty != "blur"
                              and config.mode in KEPT_MODES)
        stages = []
        publish = atomic_path(destination) if overwrite else atomic_create(destination)
        with publish as temp_path:
            writer = VideoWriter(temp_path, reader, codec, crf)
            try:
                stages.append(_Stage(reader.events(), prepare))
                stages.append(_Stage(stages[0], predict))
                for event, working, probs in stages[1]:
                    if working is None:
                        writer.mux(event)
                        continue
                    frame = event.rgb
                    # passers-by leave before the smoothing, so they fade out instead of popping
                    probability = smoother(subject_probability_of(probs, config), working.image)
                    matte = smoother.hold(refine(frame, probability, config.matte, working))
                    strength = fader(has_subject(matte.low if matte.low is not None
                                                 else matte.alpha8))
                    if strength > 0.0:
                        output = render(frame, config, probabilities=probs, matte=matte,
                                        working=working).image
                        if output.ndim == 2:
                            output = cv2.cvtColor(output, cv2.COLOR_GRAY2RGB)
                        output = mix(frame, output, strength)
                    else:
                        output = frame
                    writer.write(stored(output, reader.rotation), event.pts, event.index)
                    if on_frames is not None:
                        on_frames(1)
                reader.check_complete()
                if if_empty == "skip" and fader.frames_without_subject == fader.frames_seen:
                    raise NoSubjectInVideo(f"no subject in any frame of {source}")
                writer.close()
            except BaseException:
                writer.abort()
                raise
            finally:
                for stage in reversed(stages):
                    stage.close()
        return VideoResult(writer.frames_written, fader.frames_without_subject,
                           reader.info.copied_streams)
