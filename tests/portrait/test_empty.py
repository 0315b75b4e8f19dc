"""Photos without a subject: written as --if-empty says, and named in the summary."""

from __future__ import annotations

import numpy as np
import pytest

from deeplab.portrait import io as portrait_io
from deeplab.portrait.pipeline import PortraitOptions, run_portrait
from deeplab.portrait.presence import has_subject, subject_area

from portrait_fakes import BrightIsPerson, photo, save


@pytest.fixture
def room(tmp_path):
    folder = tmp_path / "in"
    save(folder / "empty_room.png", photo(subject=False))
    save(folder / "person.png", photo())
    return folder


def test_photo_without_person_is_written_unblurred_and_named(tmp_path, room):
    summary = run_portrait([room], PortraitOptions(output_dir=tmp_path / "out", blur_radius=5),
                           model=BrightIsPerson(), progress=False)
    assert summary.exit_code == 0 and len(summary.written) == 2
    report = summary.report()
    assert "no person found in" in report and "empty_room.png: written unblurred" in report
    assert "person.png: written" not in report
    written = portrait_io.read_photo(tmp_path / "out" / "empty_room.png").rgb
    np.testing.assert_array_equal(written, portrait_io.read_photo(room / "empty_room.png").rgb)


def test_if_empty_blur_blurs_and_skip_writes_nothing(tmp_path, room):
    blurred = run_portrait([room / "empty_room.png"],
                           PortraitOptions(output_dir=tmp_path / "b", blur_radius=5,
                                           if_empty="blur"),
                           model=BrightIsPerson(), progress=False)
    original = portrait_io.read_photo(room / "empty_room.png").rgb.astype(np.float32)
    result = portrait_io.read_photo(tmp_path / "b" / "empty_room.png").rgb.astype(np.float32)
    assert result.std() < 0.6 * original.std() and "empty_room.png" in blurred.report()
    skipped = run_portrait([room], PortraitOptions(output_dir=tmp_path / "s", if_empty="skip"),
                           model=BrightIsPerson(), progress=False)
    assert skipped.exit_code == 0 and not (tmp_path / "s" / "empty_room.png").exists()
    assert (tmp_path / "s" / "person.png").exists()
    assert "empty_room.png" in skipped.skipped[0][0].name
    assert "not written (--if-empty skip)" in skipped.report()


def test_subject_threshold_is_a_fifth_of_a_percent_of_the_frame():
    matte = np.zeros((100, 100), np.float32)
    matte[:1, :19] = 1.0  # 0.19%
    assert not has_subject(matte)
    matte[:1, :20] = 0.6  # 0.2%, at least half subject
    assert subject_area(matte) == pytest.approx(0.002) and has_subject(matte)
    assert not has_subject(np.full((10, 10), 0.49, np.float32))
