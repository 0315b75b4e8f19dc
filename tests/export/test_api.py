"""Which photos an export is checked on (deeplab/export/api.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplab.export.api import check_images
from deeplab.export.output_target import UnsafeOutputError, check_output


def _photos(folder, names):
    folder.mkdir()
    for index, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((20, 30, 3), 40 * index, np.uint8))
    return folder


def test_int8_is_checked_on_its_calibration_photos_unless_told_otherwise(tmp_path, logged):
    calibration = _photos(tmp_path / "calibration", ["a.jpg", "b.png", "c.jpg"])
    samples = _photos(tmp_path / "samples", ["s.png"])
    assert [n for n, _ in check_images("int8", None, calibration, 2)] == ["a.jpg", "b.png"]
    assert logged == ["int8: checked on the first 2 calibration photos (--sample-dir to choose "
                      "others)"]
    assert [n for n, _ in check_images("int8", samples, calibration, 2)] == ["s.png"]
    generated = check_images("float32", None, None, 2)
    assert [n.split("_")[0] for n, _ in generated] == ["generated", "generated"]


def test_a_folder_of_other_files_is_refused_with_what_to_do(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "astronaut.jpg").write_bytes(b"photo")
    for overwrite in (False, True):
        with pytest.raises(UnsafeOutputError) as error:
            check_output(out, "saved_model", overwrite=overwrite, inputs={})
        assert str(error.value) == (
            f"refusing to replace {out}: it holds other files (astronaut.jpg); --overwrite only "
            f"replaces an earlier saved_model export, so choose a new --output (e.g. --output "
            f"{out / 'model'}) or move it away")
    assert (out / "astronaut.jpg").read_bytes() == b"photo"
