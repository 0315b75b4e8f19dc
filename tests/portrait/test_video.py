"""Portrait video through FFmpeg's libraries: sound, codec, frames, timing, rotation, truncated
files and frames without a subject. Small videos are made here with PyAV (fake network)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from deeplab.portrait.cli import main as infer_main
from deeplab.portrait.pipeline import PortraitOptions, run_portrait
from deeplab.portrait.presence import PresenceFader
from deeplab.portrait.video import NoSubjectInVideo, process_video
from deeplab.portrait.render import RenderConfig
from deeplab.portrait.video_io import video_info

from conftest import shared_path
from portrait_fakes import BrightIsPerson


def frame_at(i: int, size=(96, 64), subject: bool = True) -> np.ndarray:
    width, height = size
    rng = np.random.default_rng(i)
    frame = rng.integers(10, 70, (height, width, 3), dtype=np.uint8)
    if subject:
        y, x = np.mgrid[:height, :width]
        frame[(y - height / 2) ** 2 + (x - 20 - 2 * i) ** 2 < 15 ** 2] = (230, 220, 210)
    return frame


def make_video(path: Path, frames: int = 24, fps: int = 12, size=(96, 64), audio: bool = True,
               rotation: int = 0, empty_frames: int = 0, codec: str = "libx264") -> Path:
    """A clip of ``frames`` frames (the first ``empty_frames`` without a subject) and, with
    ``audio``, a 440 Hz AAC tone as long as the video."""
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_at(i, size, i >= empty_frames), "rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            samples = int(48000 * frames / fps)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[None, start:start + 1024]
                audio_frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), "fltp",
                                                         "mono")
                audio_frame.sample_rate = 48000
                audio_frame.pts = start
                audio_frame.time_base = Fraction(1, 48000)
                for packet in sound.encode(audio_frame):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return path


def streams(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        decoded = [frame for frame in container.decode(video=0)]
        result = {"codec": video.codec_context.name, "frames": len(decoded),
                  "rate": video.average_rate, "duration": container.duration / 1e6,
                  "rotation": decoded[0].rotation if decoded else None,
                  "size": (video.codec_context.width, video.codec_context.height)}
    with av.open(str(path)) as container:
        result["audio"] = [(s.codec_context.name, s.codec_context.sample_rate) for s in
                           container.streams.audio]
        result["audio_packets"] = [bytes(p) for p in container.demux(audio=0) if p.size] \
            if container.streams.audio else []
    return result


def run(source: Path, out: Path, **options) -> tuple:
    summary = run_portrait([source], PortraitOptions(output_dir=out, **options),
                           model=BrightIsPerson(), progress=False)
    return summary, out / source.name


def test_video_with_sound_keeps_audio_frames_rate_duration_and_is_h264(tmp_path):
    source = make_video(tmp_path / "clip.mp4", frames=24, fps=12)
    summary, out = run(source, tmp_path / "out")
    assert summary.exit_code == 0, summary.report()
    before, after = streams(source), streams(out)
    assert after["codec"] == "h264" and after["frames"] == before["frames"] == 24
    assert after["rate"] == before["rate"] and after["size"] == before["size"]
    assert abs(after["duration"] - before["duration"]) < 0.1
    assert after["audio"] == before["audio"] == [("aac", 48000)]
    assert after["audio_packets"] == before["audio_packets"]  # copied bit for bit


def test_shared_webcam_clip_comes_out_with_its_sound_and_no_bigger(tmp_path):
    source = shared_path("data", "videos", "webcam_help_with_audio.mp4")
    summary, out = run(source, tmp_path / "out")
    assert summary.exit_code == 0, summary.report()
    before, after = streams(source), streams(out)
    assert after["codec"] == "h264" and after["frames"] == before["frames"]
    assert after["rate"] == before["rate"]
    assert abs(after["duration"] - before["duration"]) < 0.1
    assert after["audio_packets"] == before["audio_packets"]
    assert out.stat().st_size <= 1.1 * source.stat().st_size


def test_display_rotation_is_kept(tmp_path):
    source = make_video(tmp_path / "phone.mp4", frames=6, audio=False, rotation=90)
    summary, out = run(source, tmp_path / "out")
    assert summary.exit_code == 0, summary.report()
    after = streams(out)
    assert after["rotation"] == 90 and after["size"] == (96, 64) and after["frames"] == 6


def test_video_codec_and_crf_are_used_and_impossible_pairs_refused(tmp_path):
    source = make_video(tmp_path / "clip.mkv", frames=6, audio=False)
    summary, out = run(source, tmp_path / "out", video_codec="vp9", crf=40)
    assert summary.exit_code == 0, summary.report()
    assert streams(out)["codec"] == "vp9"
    webm = make_video(tmp_path / "clip.webm", frames=3, audio=False, codec="libvpx-vp9")
    summary, out = run(webm, tmp_path / "o2", video_codec="h264")
    assert summary.exit_code == 1 and "cannot hold h264" in summary.failed[0][1]
    assert not out.exists()
    code = infer_main([str(webm), "--output", str(tmp_path / "o3"), "--video-codec", "h264"])
    assert code == 2  # refused before any work


def test_truncated_video_fails_naming_the_decoded_frames_and_writes_nothing(tmp_path):
    whole = make_video(tmp_path / "whole.mkv", frames=60, audio=False, size=(160, 120))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    summary, out = run(cut, tmp_path / "out")
    assert summary.exit_code == 1
    message = summary.failed[0][1]
    assert "truncated" in message and "of 60 frames" in message
    assert not out.exists() and not list((tmp_path / "out").glob("*"))


def test_frames_without_subject_fade_in_instead_of_popping(tmp_path):
    source = make_video(tmp_path / "room.mp4", frames=24, fps=12, audio=False, empty_frames=8)
    summary, out = run(source, tmp_path / "out", blur_radius=6, crf=16)  # little noise
    assert summary.exit_code == 0 and summary.written
    assert "8 of 24 frames" in summary.report() and "room.mp4" in summary.report()
    with av.open(str(source)) as a, av.open(str(out)) as b:
        change = [np.abs(x.to_ndarray(format="rgb24").astype(np.float32)
                         - y.to_ndarray(format="rgb24")).mean()
                  for x, y in zip(a.decode(video=0), b.decode(video=0))]
    assert max(change[:8]) < 3  # empty room: written as it is (up to compression)
    ramp = change[8:12]  # the subject arrives: the blur fades in over half a second
    assert all(later > earlier + 0.5 for earlier, later in zip(ramp, ramp[1:]))
    assert change[8] - change[7] < 0.4 * (change[16] - change[7])  # not a step


def test_side_by_side_video_with_empty_frames_keeps_its_size_and_frames(tmp_path):
    source = make_video(tmp_path / "room.mp4", frames=8, audio=False, empty_frames=4)
    summary, out = run(source, tmp_path / "out", mode="compare")
    assert summary.exit_code == 0, summary.report()
    after = streams(out)
    assert after["frames"] == 8 and after["size"] == (2 * 96 + 8, 64)
    assert "4 of 8 frames; rendered as usual (compare mode)" in summary.report()


def test_presence_fader_ramps_over_half_a_second():
    fader = PresenceFader(fps=10)
    strengths = [fader(present) for present in [False] * 2 + [True] * 6 + [False] * 6]
    assert strengths[:2] == [0.0, 0.0]
    assert strengths[2:8] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert strengths[8:] == pytest.approx([0.8, 0.6, 0.4, 0.2, 0.0, 0.0])
    assert fader.frames_without_subject == 8


def test_if_empty_skip_drops_a_video_without_any_subject(tmp_path):
    source = make_video(tmp_path / "empty.mp4", frames=6, audio=False, empty_frames=6)
    with pytest.raises(NoSubjectInVideo):
        process_video(source, tmp_path / "o.mp4", BrightIsPerson(), RenderConfig(),
                      if_empty="skip")
    assert not (tmp_path / "o.mp4").exists()
    summary, out = run(source, tmp_path / "out", if_empty="skip")
    assert summary.exit_code == 0 and not out.exists()
    assert "no person found in" in summary.report()


def test_video_info_reads_frames_rate_and_other_streams(tmp_path):
    info = video_info(make_video(tmp_path / "clip.mp4", frames=12, fps=12))
    assert (info.width, info.height, info.frame_count) == (96, 64, 12)
    assert info.fps == pytest.approx(12) and info.copied_streams == ("audio",)
