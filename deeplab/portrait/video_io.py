"""Reading and writing video files with FFmpeg's libraries (PyAV): frames out, frames in, and
every audio and subtitle stream carried over untouched.

``VideoReader`` demuxes the input once and yields, in file order, decoded video frames (upright
uint8 RGB with their timestamps) and the packets of the audio and subtitle streams. A
``VideoWriter`` writes the same container format: the frames are encoded (H.264 by default,
VP9 for WebM; ``--video-codec`` / ``--crf``) with the input's timestamps, frame rate and display
rotation, and the other packets are muxed as they came (stream copy: no re-encoding, same
duration). Data and attachment streams are not carried over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from deeplab.image_files import ImageTooLargeError, UnreadableImageError

#: --video-codec name -> FFmpeg encoder.
ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
#: Constant-quality default of each encoder (FFmpeg's own defaults, roughly equal quality).
DEFAULT_CRF = {"h264": 23, "hevc": 28, "vp9": 33, "av1": 35}
CRF_RANGE = {"h264": (0, 51), "hevc": (0, 51), "vp9": (0, 63), "av1": (1, 63)}
#: Containers that only take some codecs (anything else takes all of ENCODERS).
CONTAINER_CODECS = {".webm": ("vp9", "av1")}
COPIED_STREAM_TYPES = ("audio", "subtitle")
_CONTAINER_METADATA_SKIPPED = {"major_brand", "minor_version", "compatible_brands", "encoder"}
_STREAM_METADATA_SKIPPED = {"encoder", "duration"}  # written anew by the encoder / muxer


class TruncatedVideoError(UnreadableImageError):
    """Fewer frames could be decoded than the file declares (cut short or damaged)."""


def _av():
    import av

    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a video file declares: stored frame size, frame rate, frames, duration, rotation."""

    width: int
    height: int
    fps: float
    frame_count: int  # declared or estimated from the duration; 0 when unknown
    duration: float  # seconds of the video stream; 0 when unknown
    codec: str
    copied_streams: tuple[str, ...]  # types of the audio / subtitle streams, in order
    #: The container states the frame count (MP4); else ``frame_count`` is an estimate (MKV,
    #: WebM: duration x frame rate, too high for variable-frame-rate video).
    frames_declared: bool = False
    #: ``duration`` is the video stream's own (not the container's, which audio may lengthen).
    duration_declared: bool = False


def _stream_duration(container, stream) -> tuple[float, bool]:
    """(seconds, whether the video stream itself states them)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base), True
    tag = {k.lower(): v for k, v in stream.metadata.items()}.get("duration")
    if tag:  # Matroska: "HH:MM:SS.nnnnnnnnn"
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds), True
        except ValueError:
            pass
    return (float(container.duration) / 1e6 if container.duration else 0.0), False


def _open_input(path: Path):
    av = _av()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise UnreadableImageError(f"cannot open video {path}: {error}") from error
    if not container.streams.video:
        container.close()
        raise UnreadableImageError(f"{path}: no video stream")
    return container


def _info(container, path: Path) -> VideoInfo:
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    duration, duration_declared = _stream_duration(container, stream)
    frames = int(stream.frames or 0)
    declared = frames > 0
    if not declared and duration > 0 and fps > 0:
        frames = int(round(duration * fps))
    copied = tuple(s.type for s in container.streams if s.type in COPIED_STREAM_TYPES)
    context = stream.codec_context
    return VideoInfo(int(context.width), int(context.height), fps, frames, duration,
                     context.name, copied, declared, duration_declared)


def video_info(path: str | Path) -> VideoInfo:
    """Size, frame rate, frame count, duration and other streams of a video file."""
    container = _open_input(Path(path))
    try:
        return _info(container, Path(path))
    finally:
        container.close()


@dataclass
class DecodedFrame:
    """One video frame, upright RGB, with its timestamp in the video stream's time base."""

    rgb: np.ndarray
    pts: int | None
    index: int


def upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored frame the way a player shows it (``rotation``: counter-clockwise degrees)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(frame, turns)) if turns else frame


def stored(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Inverse of ``upright``: back to the stored orientation (the display matrix is kept)."""
    turns = (-(rotation // 90)) % 4
    return np.ascontiguousarray(np.rot90(frame, turns)) if turns else frame


def _rotation_of(frame) -> int:
    try:
        degrees = float(frame.rotation)
    except (AttributeError, TypeError, ValueError):
        return 0
    return int(round(degrees / 90.0)) * 90 % 360 if math.isfinite(degrees) else 0


class VideoReader:
    """Demux a video once: decoded frames of the first video stream and copied-stream packets.

    ``events()`` yields ``DecodedFrame`` objects and PyAV packets (audio, subtitles) in file
    order. Decoding stops at the first damaged spot; ``error`` then says what went wrong and
    ``frames_decoded`` how far it got. ``rotation`` is known once the first frame is out.
    ``max_pixels``: a frame size over it is refused (``ImageTooLargeError``) from the stream's
    header before any frame is decoded, and any decoded frame over it before it is converted.
    """

    def __init__(self, path: str | Path, max_pixels: int | None = None):
        self.path = Path(path)
        self.max_pixels = max_pixels
        self.container = _open_input(self.path)
        self.info = _info(self.container, self.path)
        try:
            self._check_size(self.info.width, self.info.height)
        except ImageTooLargeError:
            self.container.close()
            raise
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.copied = [s for s in self.container.streams if s.type in COPIED_STREAM_TYPES]
        self.rotation = 0
        self.frames_decoded = 0
        self.error: str | None = None
        self.last_time: float | None = None  # seconds of the last decoded frame
        self.longest_gap = 0.0  # seconds between two decoded frames, at most

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def _check_size(self, width: int, height: int) -> None:
        if self.max_pixels is not None and width * height > self.max_pixels:
            raise ImageTooLargeError(
                f"{self.path}: video frames of {width}x{height} are {width * height / 1e6:.0f} "
                f"megapixels, over the limit of {self.max_pixels / 1e6:g}")

    def events(self) -> Iterator[object]:
        av = _av()
        try:
            for packet in self.container.demux(self.video, *self.copied):
                if packet.stream.index != self.video.index:
                    if packet.dts is not None:
                        yield packet
                    continue
                for frame in packet.decode():
                    self._check_size(frame.width, frame.height)
                    if self.frames_decoded == 0:
                        self.rotation = _rotation_of(frame)
                    if frame.time is not None:
                        if self.last_time is not None:
                            self.longest_gap = max(self.longest_gap, frame.time - self.last_time)
                        self.last_time = frame.time
                    rgb = upright(frame.to_ndarray(format="rgb24"), self.rotation)
                    yield DecodedFrame(rgb, frame.pts, self.frames_decoded)
                    self.frames_decoded += 1
        except av.FFmpegError as error:
            self.error = str(error)

    def check_complete(self, tolerance: float = 0.02) -> None:
        """Raise ``TruncatedVideoError`` when decoding failed or ended well before the end: fewer
        frames than the container declares or, where it declares none (MKV, WebM; the frame
        rate of a variable-frame-rate video does not give the count), the last frame shown
        well before the video stream's stated duration."""
        info = self.info
        expected = info.frame_count if info.frames_declared else 0
        short = expected > 0 and self.frames_decoded < expected * (1 - tolerance) - 1
        if not info.frames_declared and info.duration_declared and self.last_time is not None:
            start = float(self.video.start_time * self.video.time_base) \
                if self.video.start_time is not None and self.video.time_base else 0.0
            shown_until = self.last_time - start + max(self.longest_gap, 1.0 / (info.fps or 25))
            short = shown_until < info.duration * (1 - tolerance)
        if self.error is not None or short or self.frames_decoded == 0:
            of = f" of {info.frame_count}" if info.frame_count else ""
            why = f" ({self.error})" if self.error else ""
            raise TruncatedVideoError(
                f"{self.path}: truncated or damaged video: decoded {self.frames_decoded}{of} "
                f"frames{why}; nothing written")


def check_codec(codec: str, suffix: str, crf: int | None = None) -> None:
    """Refuse a codec the container cannot hold, an unknown codec or an out-of-range CRF."""
    if codec not in ENCODERS:
        raise ValueError(f"--video-codec must be one of {tuple(ENCODERS)}, got {codec!r}")
    allowed = CONTAINER_CODECS.get(suffix.lower())
    if allowed is not None and codec not in allowed:
        raise ValueError(f"a {suffix} file cannot hold {codec}; use --video-codec "
                         f"{' or '.join(allowed)}")
    if crf is not None:
        low, high = CRF_RANGE[codec]
        if not low <= crf <= high:
            raise ValueError(f"--crf for {codec} must be in {low}..{high}, got {crf}")


def default_codec(suffix: str) -> str:
    """H.264 for every container that takes it, VP9 for WebM."""
    return CONTAINER_CODECS.get(suffix.lower(), ("h264",))[0]


class VideoWriter:
    """Encode frames and mux copied packets into ``path`` (format from its extension).

    The video stream is created at the first frame (its size is the rendered size); packets
    that arrive before it are held back, since a container's header lists every stream.
    """

    def __init__(self, path: str | Path, reader: VideoReader, codec: str | None = None,
                 crf: int | None = None):
        av = _av()
        self.path = Path(path)
        self.reader = reader
        self.codec = codec or default_codec(self.path.suffix)
        check_codec(self.codec, self.path.suffix, crf)
        self.crf = DEFAULT_CRF[self.codec] if crf is None else crf
        try:
            self.container = av.open(str(self.path), "w")
        except (av.FFmpegError, OSError) as error:
            raise OSError(f"cannot write video {self.path}: {error}") from error
        metadata = {k: v for k, v in reader.container.metadata.items()
                    if k.lower() not in _CONTAINER_METADATA_SKIPPED}
        self.container.metadata.update(metadata)
        self._copies: dict = {}
        self._video = None
        self._pending: list = []
        self._last_pts: int | None = None
        self.frames_written = 0

    def _open_video(self, height: int, width: int) -> None:
        """Add every output stream, in the input's order (the encoded video at its place)."""
        av = _av()
        source = self.reader.video
        for stream in self.reader.copied:
            if stream.index > source.index:
                break
            self._copy_stream(stream)
        rate = source.average_rate or source.guessed_rate or Fraction(25)
        stream = self.container.add_stream(ENCODERS[self.codec], rate=rate)
        stream.width, stream.height = width, height
        even = width % 2 == 0 and height % 2 == 0
        stream.pix_fmt = "yuv420p" if even else "yuv444p"
        stream.time_base = source.time_base
        stream.codec_context.time_base = source.time_base
        options = {"crf": str(self.crf)}
        if self.codec == "h264":
            options["preset"] = "veryfast"
        elif self.codec == "vp9":
            options.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        stream.options = options
        stream.metadata.update({k: v for k, v in source.metadata.items()
                                if k.lower() not in _STREAM_METADATA_SKIPPED})
        if self.reader.rotation:
            stream.set_display_rotation(self.reader.rotation)
        self._video = stream
        for stream in self.reader.copied:
            if stream.index > source.index:
                self._copy_stream(stream)
        try:
            for packet in self._pending:
                self.mux(packet)
        except av.FFmpegError as error:
            raise OSError(f"cannot write video {self.path}: {error}") from error
        self._pending.clear()

    def _copy_stream(self, stream) -> None:
        copy = self.container.add_stream_from_template(stream)
        copy.metadata.update(stream.metadata)
        self._copies[stream.index] = copy

    def mux(self, packet) -> None:
        """Copy an audio / subtitle packet of the input into the output, unchanged."""
        if self._video is None:
            self._pending.append(packet)
            return
        packet.stream = self._copies[packet.stream.index]
        try:
            self.container.mux(packet)
        except _av().FFmpegError as error:
            raise OSError(f"cannot copy a stream into {self.path}: {error}") from error

    def write(self, rgb_stored: np.ndarray, pts: int | None, index: int) -> None:
        """Encode one RGB frame (in the stored orientation) at the input's timestamp."""
        av = _av()
        if self._video is None:
            self._open_video(*rgb_stored.shape[:2])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb_stored), format="rgb24")
        if pts is None:
            rate = self.reader.info.fps or 25.0
            pts = int(round(index / rate / float(self._video.time_base)))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # damaged files repeat timestamps; encoders refuse that
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = self._video.time_base
        try:
            for packet in self._video.encode(frame):
                self.container.mux(packet)
        except av.FFmpegError as error:
            raise OSError(f"cannot encode video {self.path}: {error}") from error
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (call only when every frame is written)."""
        av = _av()
        try:
            if self._video is not None:
                for packet in self._video.encode(None):
                    self.container.mux(packet)
        except av.FFmpegError as error:
            raise OSError(f"cannot encode video {self.path}: {error}") from error
        finally:
            self.container.close()

    def abort(self) -> None:
        """Close without flushing (the file is being thrown away)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - a broken half-written file is deleted anyway
            pass
