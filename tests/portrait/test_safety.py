"""No file of the user's lost or changed: exclusive outputs, output folders inside the inputs,
temp files of interrupted runs, existing mattes, photos over the pixel budget."""

from __future__ import annotations

import threading

import pytest

from deeplab.atomic import atomic_create, write_bytes_exclusive
from deeplab.image_files import ImageTooLargeError, read_photo
from deeplab.portrait.pipeline import PortraitOptions, expand_inputs, photo_batches, run_portrait

from portrait_fakes import BrightIsPerson, photo, save


def test_exclusive_write_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(FileExistsError):
        with atomic_create(target) as temporary:
            temporary.write_bytes(b"mine")
            target.write_bytes(b"theirs")  # another run published first
    assert target.read_bytes() == b"theirs" and list(tmp_path.iterdir()) == [target]
    with pytest.raises(FileExistsError):
        write_bytes_exclusive(target, b"again")


def test_concurrent_writers_of_one_name_give_one_winner(tmp_path):
    target = tmp_path / "same.jpg"
    outcomes = []

    def write(data: bytes) -> None:
        try:
            write_bytes_exclusive(target, data)
            outcomes.append("written")
        except FileExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(bytes([i]) * 1000,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("written") == 1 and outcomes.count("refused") == 7
    assert len(set(target.read_bytes())) == 1  # one writer's bytes, whole


def test_output_folder_inside_the_input_folder_is_never_read_back(tmp_path):
    folder = tmp_path / "photos"
    save(folder / "a.png", photo())
    options = PortraitOptions(output_dir=folder / "out")
    for _ in range(3):
        summary = run_portrait([folder], options, model=BrightIsPerson(), progress=False)
    assert not (folder / "out" / "out").exists()
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a-1.png", "a-2.png", "a.png"]
    assert len(summary.written) == 1 and not summary.failed


def test_temp_files_of_an_interrupted_run_are_not_inputs(tmp_path):
    folder = tmp_path / "in"
    save(folder / "a.png", photo())
    (folder / ".clip.mp4.tmp-abc123.mp4").write_bytes(b"half a video")
    save(folder / ".hidden" / "b.png", photo())
    assert [item.path.name for item in expand_inputs([folder])] == ["a.png"]
    assert [item.path.name for item in expand_inputs([str(folder / "*")])] == ["a.png"]


def test_save_matte_never_replaces_an_existing_matte(tmp_path):
    image = save(tmp_path / "p.png", photo())
    out = tmp_path / "out"
    out.mkdir()
    (out / "p_matte.png").write_bytes(b"hand-painted matte")
    summary = run_portrait([image], PortraitOptions(output_dir=out, save_matte=True,
                                                    if_exists="skip"),
                           model=BrightIsPerson(), progress=False)
    assert (out / "p_matte.png").read_bytes() == b"hand-painted matte"
    assert not (out / "p.png").exists() and "matte output exists" in summary.report()
    numbered = run_portrait([image], PortraitOptions(output_dir=out, save_matte=True),
                            model=BrightIsPerson(), progress=False)
    assert (out / "p_matte.png").read_bytes() == b"hand-painted matte"
    assert numbered.written == [out / "p-1.png", out / "p-1_matte.png"]
    forced = run_portrait([image], PortraitOptions(output_dir=out, save_matte=True,
                                                   overwrite=True),
                          model=BrightIsPerson(), progress=False)
    assert len(forced.written) == 2


def test_photo_over_the_pixel_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    image = save(tmp_path / "big.png", photo(200, 300))
    with pytest.raises(ImageTooLargeError, match="300x200"):
        read_photo(image, max_pixels=50_000)
    monkeypatch.setattr("cv2.imdecode", lambda *a: pytest.fail("decoded a refused photo"))
    summary = run_portrait([image], PortraitOptions(output_dir=tmp_path / "o", max_pixels=50_000),
                           model=BrightIsPerson(), progress=False)
    assert summary.exit_code == 1 and "megapixels" in summary.failed[0][1]


def test_batches_are_bounded_by_pixels_as_well_as_count(tmp_path):
    folder = tmp_path / "in"
    for i, (h, w) in enumerate([(100, 100), (100, 100), (300, 300), (100, 100)]):
        save(folder / f"{i}.png", photo(h, w))
    items = expand_inputs([folder])
    sizes = [len(b) for b in photo_batches(items, batch_size=4, batch_pixels=50_000)]
    assert sizes == [2, 1, 1]  # the 90 000-pixel photo goes alone
    assert [len(b) for b in photo_batches(items, batch_size=3, batch_pixels=10**9)] == [3, 1]
