"""Outputs keep what the user gave: transparency, existing files on a rerun, every image format
a folder holds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from deeplab.image_files import IMAGE_SUFFIXES, read_photo
from deeplab.portrait.cli import main as infer_main
from deeplab.portrait.pipeline import PortraitOptions, expand_inputs, run_portrait
from deeplab.portrait.transparency import attach_alpha, fill_hidden, flatten

from portrait_fakes import BrightIsPerson, photo, save

MAGENTA = (255, 0, 255)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    """The command line runs the fake network too."""
    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model",
                        lambda source, **options: BrightIsPerson())


def transparent_photo() -> tuple[np.ndarray, np.ndarray]:
    """The test photo with a transparent left third hiding bright magenta (which the fake
    network would call a person) and a half-transparent band beside it."""
    rgb = photo()
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    rgb[:, :40] = MAGENTA
    alpha[:, :40] = 0
    alpha[:, 40:44] = 128
    return rgb, alpha


def save_rgba(path, rgb, alpha):
    save(path, np.dstack([rgb, alpha]))
    return path


def read_unchanged(path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_fill_hidden_keeps_visible_pixels_and_extends_their_colours():
    rgb, alpha = transparent_photo()
    filled = fill_hidden(rgb, alpha)
    assert np.array_equal(filled[alpha > 0], rgb[alpha > 0])
    hidden = filled[alpha == 0].astype(int)
    visible = rgb[alpha > 0].astype(int)
    assert (hidden.min(0) >= visible.min(0)).all() and (hidden.max(0) <= visible.max(0)).all()
    assert (hidden[:, 1] >= hidden[:, 0] - 40).all()  # no magenta: green as high as red
    beside = np.corrcoef(filled[:, 38].mean(1), rgb[:, 40:46].mean((1, 2)))[0, 1]
    assert beside > 0.8  # the fill follows the visible colours next to it (here: the disc)
    assert np.array_equal(fill_hidden(rgb, np.full_like(alpha, 255)), rgb)


def test_flatten_composites_onto_white():
    rgb, alpha = transparent_photo()
    flat = flatten(rgb, alpha)
    assert (flat[:, :40] == 255).all()
    assert np.array_equal(flat[:, 60:], rgb[:, 60:])
    half = flat[:, 40:44].astype(int)
    assert np.abs(half - (rgb[:, 40:44].astype(int) * 128 + 255 * 127) / 255).max() <= 1


def test_attach_alpha_per_mode():
    image = np.zeros((4, 6, 3), np.uint8)
    alpha = np.full((4, 6), 100, np.uint8)
    assert attach_alpha(image, alpha, "blur").shape == (4, 6, 4)
    matte = attach_alpha(np.full((4, 6), 255, np.uint8), alpha, "matte")
    assert matte.shape == (4, 6) and (matte == 100).all()
    side = attach_alpha(np.zeros((4, 6 * 2 + 3, 3), np.uint8), alpha, "compare")
    assert side.shape == (4, 15, 4) and (side[:, 6:9, 3] == 255).all()


@pytest.mark.parametrize("mode", ["blur", "replace", "overlay", "cutout", "matte"])
def test_alpha_is_kept_and_hidden_pixels_never_show(tmp_path, mode):
    rgb, alpha = transparent_photo()
    image = save_rgba(tmp_path / "in" / "p.png", rgb, alpha)
    background = save(tmp_path / "bg.png", np.full((20, 20, 3), (0, 200, 0), np.uint8))
    summary = run_portrait([image], PortraitOptions(output_dir=tmp_path / "out", mode=mode,
                                                    background=background),
                           model=BrightIsPerson(), progress=False)
    assert summary.written and not summary.failed
    out = read_unchanged(tmp_path / "out" / "p.png")
    if mode == "matte":
        assert out.ndim == 2 and (out[:, :40] == 0).all()  # hidden magenta is no subject
        return
    assert out.shape == (96, 128, 4)
    if mode != "cutout":
        assert np.array_equal(out[..., 3], alpha)
    assert (out[:, :40, 3] == 0).all()
    shown = out[..., :3][..., ::-1].astype(int)[out[..., 3] > 0]  # RGB of what is visible
    pinkish = (shown[:, 0] > 150) & (shown[:, 2] > 150) & (shown[:, 1] < 120)
    assert not pinkish.any()  # no hidden magenta bled into the visible part
    assert "1 photo(s) with transparency: alpha kept" in summary.report()


def test_flatten_option_and_one_line_for_many_photos(tmp_path):
    rgb, alpha = transparent_photo()
    for name in ("a", "b"):
        save_rgba(tmp_path / "in" / f"{name}.png", rgb, alpha)
    summary = run_portrait([tmp_path / "in"], PortraitOptions(output_dir=tmp_path / "out",
                                                               alpha="flatten"),
                           model=BrightIsPerson(), progress=False)
    out = read_unchanged(tmp_path / "out" / "a.png")
    assert out.shape == (96, 128, 3)
    assert (out[:, :30] >= 250).all()  # white where the photo was transparent
    lines = summary.report().splitlines()
    assert [line for line in lines if "transparency" in line] == [
        "  2 photo(s) with transparency: flattened onto white (--alpha flatten)"]


def test_cli_alpha_choice_is_checked(capsys):
    assert infer_main(["x.png", "--output", "o", "--alpha", "drop"]) == 2
    assert "--alpha" in capsys.readouterr().err


def test_rerun_writes_numbered_copies_and_never_touches_a_users_file(tmp_path):
    image = save(tmp_path / "in" / "a.png", photo())
    out = tmp_path / "out"
    options = PortraitOptions(output_dir=out)
    first = run_portrait([image], options, model=BrightIsPerson(), progress=False)
    (out / "a-1.png").write_bytes(b"the user's own file")
    second = run_portrait([image], options, model=BrightIsPerson(), progress=False)
    assert first.written == [out / "a.png"] and second.written == [out / "a-2.png"]
    assert (out / "a-1.png").read_bytes() == b"the user's own file"
    assert second.exit_code == 0
    report = second.report()
    assert report.startswith("portrait: 1 written, 0 skipped, 0 failed")
    assert "1 output name(s) were taken" in report and "a-2.png" in report
    assert "--overwrite to replace them" in report


def test_two_inputs_with_one_stem_are_both_written(tmp_path):
    first = save(tmp_path / "x" / "p.png", photo())
    second = save(tmp_path / "y" / "p.png", photo(80, 60))
    summary = run_portrait([first, second], PortraitOptions(output_dir=tmp_path / "out"),
                           model=BrightIsPerson(), progress=False)
    assert summary.written == [tmp_path / "out" / "p.png", tmp_path / "out" / "p-1.png"]
    strict = run_portrait([first, second], PortraitOptions(output_dir=tmp_path / "o2",
                                                           if_exists="skip"),
                          model=BrightIsPerson(), progress=False)
    assert len(strict.written) == 1 and "collides" in strict.failed[0][1]


def test_skip_mode_counts_existing_outputs_in_one_line(tmp_path, capsys):
    folder = tmp_path / "in"
    for name in ("a", "b", "c"):
        save(folder / f"{name}.png", photo())
    arguments = [str(folder), "--output", str(tmp_path / "out"), "--quiet"]
    assert infer_main(arguments) == 0
    capsys.readouterr()
    assert infer_main(arguments + ["--if-exists", "skip"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "portrait: 0 written, 3 skipped, 0 failed"
    assert len(err) == 2 and err[1].startswith("  3 skipped because the output exists (e.g. "
                                               f"{tmp_path / 'out'}")
    before = (tmp_path / "out" / "a.png").read_bytes()
    assert infer_main(arguments + ["--if-exists", "overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "c.png"]
    assert (tmp_path / "out" / "a.png").read_bytes() == before  # same input, same output


def write_gif(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, "GIF")
    return path


def test_a_folder_holds_the_formats_a_named_file_may_have(tmp_path):
    folder = tmp_path / "in"
    write_gif(folder / "g.gif", photo())
    save(folder / "w.webp", photo())
    (folder / "notes.txt").write_text("not a photo")
    (folder / "clip.heic").write_bytes(b"an iPhone photo this program cannot decode")
    found = sorted(item.path.name for item in expand_inputs([folder]))
    assert found == ["g.gif", "w.webp"]
    assert ".gif" in IMAGE_SUFFIXES
    summary = run_portrait([folder], PortraitOptions(output_dir=tmp_path / "out"),
                           model=BrightIsPerson(), progress=False)
    assert sorted(p.name for p in summary.written) == ["g.png", "w.png"]
    assert ("2 file(s) in the input folders are not images or videos this program reads "
            "(.heic, .txt): not processed") in summary.report()
    ignored = []
    assert [i.path.name for i in expand_inputs([str(folder / "*")], ignored=ignored)] == [
        "g.gif", "w.webp"]
    assert sorted(p.name for p in ignored) == ["clip.heic", "notes.txt"]


def test_gif_decodes_without_opencv_gif_support(tmp_path, monkeypatch):
    path = write_gif(tmp_path / "g.gif", photo())
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: None)  # an OpenCV before 4.11
    decoded = read_photo(path).rgb
    monkeypatch.setattr(cv2, "imdecode", real)
    assert decoded.shape == (96, 128, 3)
    assert np.abs(decoded.astype(int) - read_photo(path).rgb.astype(int)).max() <= 1


def test_a_gif_decoded_by_pillow_is_held_to_the_pixel_budget(tmp_path, monkeypatch):
    """The Pillow fallback is inside ``decode_pixels``: measured before, checked after."""
    from deeplab import image_files

    path = write_gif(tmp_path / "g.gif", photo(300, 400))
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: None)  # an OpenCV before 4.11
    monkeypatch.setattr(image_files, "_decode_with_pillow",
                        lambda *a: pytest.fail("decoded a GIF over the budget"))
    with pytest.raises(image_files.ImageTooLargeError, match="400x300"):
        read_photo(path, max_pixels=100_000)
    monkeypatch.undo()
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: None)
    monkeypatch.setattr(image_files, "image_size", lambda source: (10, 10))  # a lying header
    with pytest.raises(image_files.ImageTooLargeError, match="400x300"):
        read_photo(path, max_pixels=100_000)
    assert read_photo(path, max_pixels=120_000).rgb.shape == (300, 400, 3)


def test_a_name_taken_while_rendering_goes_to_the_next_number(tmp_path, monkeypatch):
    image = save(tmp_path / "in" / "a.png", photo())
    out = tmp_path / "out"
    from deeplab.portrait import pipeline

    real = pipeline.write_image

    def another_run_publishes_first(path, *args, **kwargs):
        if path.name == "a.png":  # the name was free when chosen, taken when published
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"another run's output")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "write_image", another_run_publishes_first)
    summary = run_portrait([image], PortraitOptions(output_dir=out), model=BrightIsPerson(),
                           progress=False)
    assert (out / "a.png").read_bytes() == b"another run's output"
    assert summary.written == [out / "a-1.png"] and not summary.failed
    assert "written as numbered copies (e.g. " in summary.report()
