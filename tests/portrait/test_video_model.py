"""Which model renders video frames: the fast bundled one by default, the user's when given."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplab.portrait import pipeline
from deeplab.portrait.models import FAST_WEIGHTS, video_weights_for
from deeplab.portrait.pipeline import PortraitOptions, PortraitRunner
from portrait_fakes import BrightIsPerson, photo, save


class PascalBright(BrightIsPerson):
    """Like BrightIsPerson, but with PASCAL's 21 labels (person is class 15)."""

    class_names = ("background",) + tuple(f"c{i}" for i in range(1, 15)) + ("person",) + tuple(
        f"c{i}" for i in range(16, 21))

    def __init__(self, size: int | None = None):
        self.preferred_size = size
        self.seen_sizes: list[tuple[int, int]] = []

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        self.seen_sizes.append(images.shape[1:3])
        two = super().probabilities(images)
        out = np.zeros(two.shape[:-1] + (21,), np.float32)
        out[..., 0], out[..., 15] = two[..., 0], two[..., 1]
        return out


def clip(path: Path, frames: int = 4, size=(160, 120)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    for index in range(frames):
        frame = np.full((size[1], size[0], 3), 20, np.uint8)
        cv2.circle(frame, (60 + 4 * index, 60), 30, (230, 230, 230), -1)
        writer.write(frame)
    writer.release()
    return path


def test_video_weights_default_to_the_fast_model_only_with_the_default_photo_model():
    assert video_weights_for("person") == FAST_WEIGHTS
    assert video_weights_for("my_run") == "my_run"  # a user's model is used throughout
    assert video_weights_for("person", "person") == "person"
    assert video_weights_for("my_run", "other.tflite") == "other.tflite"


def test_video_frames_use_the_video_model_its_classes_and_its_own_size(tmp_path, monkeypatch):
    fast, big = PascalBright(size=97), BrightIsPerson()
    loaded = []

    def load(weights, **_):
        loaded.append(weights)
        return {"person": big, FAST_WEIGHTS: fast}[weights]

    monkeypatch.setattr(pipeline, "load_probability_model", load)
    video = clip(tmp_path / "clip.avi")
    summary = PortraitRunner(PortraitOptions(output_dir=tmp_path / "out", mode="matte"),
                             progress=False).run([video])
    assert summary.exit_code == 0, summary.report()
    assert loaded == [FAST_WEIGHTS]  # a video-only run never loads the photo model
    assert fast.seen_sizes and all(max(s) == 97 for s in fast.seen_sizes)
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi"))
    ok, frame = capture.read()
    assert ok and frame[60, 60].mean() > 128 and frame[5, 5].mean() < 64  # person class 15 kept


def test_photos_keep_the_photo_model_and_an_explicit_video_size_wins(tmp_path, monkeypatch):
    fast, big = PascalBright(size=97), BrightIsPerson()
    monkeypatch.setattr(pipeline, "load_probability_model",
                        lambda weights, **_: {"person": big, FAST_WEIGHTS: fast}[weights])
    image = save(tmp_path / "a.png", photo())
    video = clip(tmp_path / "clip.avi")
    options = PortraitOptions(output_dir=tmp_path / "out", mode="matte", video_input_size=64)
    runner = PortraitRunner(options, progress=False)
    summary = runner.run([image, video])
    assert summary.exit_code == 0, summary.report()
    assert runner.model.model is big and runner.model.judge is fast  # photos: vetoed by fast
    frames = [size for size in fast.seen_sizes if size != (96, 128)]  # (96, 128): the photo
    assert frames and all(max(size) == 64 for size in frames)


def test_a_callers_model_renders_videos_too(tmp_path):
    given = PascalBright()
    summary = PortraitRunner(PortraitOptions(output_dir=tmp_path / "out", mode="matte"),
                             model=given, progress=False).run([clip(tmp_path / "clip.avi")])
    assert summary.exit_code == 0, summary.report()
    assert given.seen_sizes


@pytest.mark.parametrize("name", [FAST_WEIGHTS])
def test_the_bundled_fast_network_runs_without_conversion(name):
    from deeplab.portrait.models import load_probability_model
    from deeplab.weights.registry import find_release

    entry = find_release(name)
    model = load_probability_model(name)
    assert model.preferred_size == entry.crop_size == model.crop_size
    assert "person" in model.class_names and len(model.class_names) == 21
    assert str(model.path).endswith(entry.litert_archive)
