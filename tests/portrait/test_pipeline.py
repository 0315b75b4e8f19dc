"""Portrait mode end to end on small generated images, with a fake segmenter (no network)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplab.portrait import io as portrait_io
from deeplab.portrait.cli import main as infer_main
from deeplab.portrait.composite import MODES
from deeplab.portrait.pipeline import PortraitOptions, expand_inputs, run_portrait
from deeplab.portrait.video import process_video, video_info
from deeplab.portrait.render import RenderConfig

class FakeSegmenter:
    """A 2-class model that calls every bright pixel "person" (soft, like real probabilities)."""

    class_names = ("background", "person")

    def __init__(self):
        self.calls = []

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(images.shape)
        brightness = images.astype(np.float32).mean(axis=-1) / 255.0
        person = 1.0 / (1.0 + np.exp(-(brightness - 0.5) * 20.0))
        return np.stack([1.0 - person, person], axis=-1).astype(np.float32)


def portrait_photo(height: int = 96, width: int = 128) -> np.ndarray:
    """A bright disc (the subject) on a textured dark background, RGB uint8."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(height, width) // 4, (230, 200, 180), -1)
    return image


def save_rgb(path: Path, image: np.ndarray) -> Path:
    portrait_io.write_image(path, image)
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "in"
    save_rgb(folder / "a.jpg", portrait_photo())
    save_rgb(folder / "sub" / "b.png", portrait_photo(80, 60))
    return folder


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_writes_expected_file(tmp_path, photos, mode):
    options = PortraitOptions(output_dir=tmp_path / "out", mode=mode,
                              background=save_rgb(tmp_path / "bg.png",
                                                  np.full((50, 50, 3), (0, 255, 0), np.uint8)))
    summary = run_portrait([photos], options, model=FakeSegmenter(), progress=False)
    assert summary.exit_code == 0 and not summary.failed
    jpeg_out = {"cutout": ".png", "matte": ".png"}.get(mode, ".jpg")
    first = tmp_path / "out" / f"a{jpeg_out}"
    second = tmp_path / "out" / "sub" / "b.png"
    assert first.is_file() and second.is_file()
    result = cv2.imread(str(second), cv2.IMREAD_UNCHANGED)
    expected_width = 60 * 2 + 8 if mode == "compare" else 60
    assert result.shape[:2] == (80, expected_width)
    if mode == "cutout":
        assert result.shape[2] == 4
        assert result[40, 30, 3] > 200 and result[2, 2, 3] < 30  # subject opaque, corner clear
    if mode == "matte":
        assert result.ndim == 2 and result[40, 30] > 200 and result[2, 2] < 30
    if mode == "replace":
        corner = cv2.cvtColor(result, cv2.COLOR_BGR2RGB)[2, 2]
        assert corner[1] > 200 and corner[0] < 60  # new green background


def test_blur_keeps_subject_and_blurs_background(tmp_path, photos):
    run_portrait([photos / "a.jpg"], PortraitOptions(output_dir=tmp_path, blur_radius=4),
                 model=FakeSegmenter(), progress=False)
    original = portrait_io.read_photo(photos / "a.jpg").rgb.astype(np.float32)
    result = portrait_io.read_photo(tmp_path / "a.jpg").rgb.astype(np.float32)
    centre = (slice(40, 56), slice(56, 72))
    corner = (slice(0, 20), slice(0, 20))
    assert np.abs(result[centre] - original[centre]).mean() < 4  # subject untouched
    assert result[corner].std() < 0.6 * original[corner].std()  # background texture blurred


def test_save_matte_and_skip_existing_and_overwrite(tmp_path, photos):
    options = PortraitOptions(output_dir=tmp_path / "out", save_matte=True, if_exists="skip")
    first = run_portrait([photos / "a.jpg"], options, model=FakeSegmenter(), progress=False)
    matte = cv2.imread(str(tmp_path / "out" / "a_matte.png"), cv2.IMREAD_UNCHANGED)
    assert matte.dtype == np.uint8 and matte.shape == (96, 128)
    assert len(first.written) == 2
    again = run_portrait([photos / "a.jpg"], options, model=FakeSegmenter(), progress=False)
    assert not again.written and len(again.skipped) == 1 and again.exit_code == 0
    assert "1 skipped because the output exists" in again.report()
    assert "--overwrite to replace them" in again.report() and "a.jpg" in again.report()
    forced = run_portrait([photos / "a.jpg"],
                          PortraitOptions(output_dir=tmp_path / "out", overwrite=True),
                          model=FakeSegmenter(), progress=False)
    assert len(forced.written) == 1


def test_input_is_never_overwritten_without_flag(tmp_path):
    photo = save_rgb(tmp_path / "p.jpg", portrait_photo())
    before = photo.read_bytes()
    summary = run_portrait([photo], PortraitOptions(output_dir=tmp_path, if_exists="skip"),
                           model=FakeSegmenter(), progress=False)
    assert photo.read_bytes() == before
    assert summary.skipped and "overwrite the input" in summary.skipped[0][1]
    numbered = run_portrait([photo], PortraitOptions(output_dir=tmp_path), model=FakeSegmenter(),
                            progress=False)
    assert photo.read_bytes() == before and numbered.written == [tmp_path / "p-1.jpg"]


def test_corrupt_file_is_reported_and_skipped(tmp_path, photos, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (photos / "empty.png").write_bytes(b"")
    code = infer_main([str(photos), "--output", str(tmp_path / "out"), "--quiet"])
    assert code != 0
    assert (tmp_path / "out" / "a.jpg").is_file() and (tmp_path / "out" / "sub" / "b.png").is_file()
    assert not (tmp_path / "out" / "broken.jpg").exists()
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "empty.png" in err and "2 failed" in err


def test_unexpected_error_is_logged_with_its_traceback_and_the_run_goes_on(tmp_path, photos,
                                                                          monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr("deeplab.portrait.pipeline.render", broken)
    with caplog.at_level(logging.ERROR, logger="deeplab"):
        summary = run_portrait([photos], PortraitOptions(output_dir=tmp_path / "out"),
                               model=FakeSegmenter(), progress=False)
    assert summary.exit_code == 1 and len(summary.failed) == 2
    records = [r for r in caplog.records if r.name == "deeplab.portrait.pipeline"]
    assert len(records) == 2 and all(r.exc_info and r.exc_info[0] is KeyError for r in records)
    assert "unexpected error on" in records[0].getMessage()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    """infer.main loads the model by name: give it the fake one."""
    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model",
                        lambda source, **options: FakeSegmenter())


def test_no_partial_output_when_writing_fails(tmp_path, monkeypatch):
    photo = save_rgb(tmp_path / "p.jpg", portrait_photo())
    out = tmp_path / "out"
    def disk_full(descriptor):  # the data went to the temp file; flushing it to disk fails
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("deeplab.atomic.os.fsync", disk_full)
        summary = run_portrait([photo], PortraitOptions(output_dir=out), model=FakeSegmenter(),
                               progress=False)
    assert summary.exit_code == 1 and "No space" in summary.failed[0][1]
    assert list(out.iterdir()) == []  # neither the output nor a temp file is left behind


def test_given_smaller_matte_is_resized_and_used(tmp_path):
    photo = np.full((120, 160, 3), 90, np.uint8)
    photo[:, :, 0] = np.linspace(0, 255, 160, dtype=np.uint8)  # texture the model never sees
    photo_path = save_rgb(tmp_path / "p.png", photo)
    matte = np.zeros((30, 40), np.uint8)
    matte[:, 20:] = 255  # right half is the subject
    matte_path = save_rgb(tmp_path / "m.png", matte)

    class NoModel:
        class_names = ("background", "person")

        def probabilities(self, images):
            raise AssertionError("the model must not run when a matte is given")

    summary = run_portrait([photo_path], PortraitOptions(output_dir=tmp_path / "out",
                                                         mode="matte", matte=matte_path),
                           model=NoModel(), progress=False)
    assert summary.exit_code == 0
    written = cv2.imread(str(tmp_path / "out" / "p.png"), cv2.IMREAD_UNCHANGED)
    assert written.shape == (120, 160)
    assert written[:, :70].max() == 0 and written[:, 90:].min() == 255


def test_matte_with_wrong_aspect_is_rejected(tmp_path):
    photo_path = save_rgb(tmp_path / "p.png", portrait_photo(100, 100))
    matte_path = save_rgb(tmp_path / "m.png", np.zeros((10, 40), np.uint8))
    summary = run_portrait([photo_path], PortraitOptions(output_dir=tmp_path / "o",
                                                         matte=matte_path),
                           model=FakeSegmenter(), progress=False)
    assert summary.exit_code == 1 and "aspect" in summary.failed[0][1]


def test_inputs_expand_folders_globs_and_reject_missing(tmp_path, photos):
    (photos / "notes.txt").write_text("not an image")
    items = expand_inputs([photos, str(photos / "*.jpg")])
    names = sorted(str(item.name) for item in items)
    assert names == ["a", "sub/b"]  # the glob repeats a.jpg: listed once
    with pytest.raises(FileNotFoundError):
        expand_inputs([tmp_path / "missing.jpg"])
    with pytest.raises(FileNotFoundError):
        expand_inputs([str(tmp_path / "*.nothing")])


def test_batched_inference_groups_equal_sizes(tmp_path):
    folder = tmp_path / "in"
    for i in range(5):
        save_rgb(folder / f"{i}.png", portrait_photo())
    model = FakeSegmenter()
    run_portrait([folder], PortraitOptions(output_dir=tmp_path / "o", batch_size=4), model=model,
                 progress=False)
    assert [shape[0] for shape in model.calls] == [4, 1]


def test_unknown_class_is_a_clear_error_before_any_file(tmp_path, photos):
    with pytest.raises(ValueError, match="--classes unicorn: class 'unicorn' is not in"):
        run_portrait([photos / "a.jpg"], PortraitOptions(output_dir=tmp_path / "out",
                                                         classes="unicorn"),
                     model=FakeSegmenter(), progress=False)
    assert not (tmp_path / "out").exists()


def write_test_video(path: Path, frames: int, size=(64, 48), fps=12.0) -> Path:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, size)
    assert writer.isOpened()
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 20, np.uint8)
        cv2.circle(frame, (10 + 3 * i, size[1] // 2), 10, (220, 220, 220), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_video_round_trip_keeps_frames_size_and_rate(tmp_path, suffix):
    source = write_test_video(tmp_path / f"clip{suffix}", frames=7)
    summary = run_portrait([source], PortraitOptions(output_dir=tmp_path / "out", batch_size=3),
                           model=FakeSegmenter(), progress=False)
    assert summary.exit_code == 0, summary.report()
    out = tmp_path / "out" / f"clip{suffix}"
    info_in, info_out = video_info(source), video_info(out)
    assert (info_out.width, info_out.height) == (64, 48)
    assert info_out.fps == pytest.approx(info_in.fps)
    capture = cv2.VideoCapture(str(out))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 7


def test_video_rejects_cutout_and_leaves_nothing(tmp_path):
    source = write_test_video(tmp_path / "clip.avi", frames=3)
    with pytest.raises(ValueError, match="cannot be written as video"):
        process_video(source, tmp_path / "o.avi", FakeSegmenter(), RenderConfig(mode="cutout"))
    assert not (tmp_path / "o.avi").exists()
