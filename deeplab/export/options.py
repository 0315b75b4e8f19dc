"""Every export option checked before any work, each refusal one line naming the option.

Run by :func:`deeplab.export.export` first and by ``export.py`` before TensorFlow is imported,
so a typo costs no model load. Standard library only.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from deeplab.export.formats import FORMATS, PRECISIONS_BY_FORMAT
from deeplab.export.output_target import UnsafeOutputError, check_output
from deeplab.export.verify import ExportError
from deeplab.image_files import IMAGE_SUFFIXES

#: Upper bounds that keep a mistyped count from running for hours.
MAX_SAMPLES = 100
MAX_CALIBRATION_IMAGES = 500


class ExportOptionError(ExportError, ValueError):
    """An export option is out of range or names something unusable."""


def _check_count(value: int, option: str, largest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= largest:
        raise ExportOptionError(f"{option} must be a whole number from 1 to {largest}, "
                                f"got {value!r}")


def _check_folder(value: str | os.PathLike | None, option: str) -> None:
    """An existing folder with at least one image file in it (or no folder given)."""
    if value is None:
        return
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ExportOptionError(f"{option} {value}: no such folder")
    if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.rglob("*")):
        raise ExportOptionError(f"{option} {value}: no images ({', '.join(IMAGE_SUFFIXES)}) "
                                f"in it")


def check_min_agreement(value: float | None) -> None:
    """``None`` (the format's default) or a fraction in [0, 1]; NaN and infinities refused
    (NaN would turn the self-check off: every comparison with it is false)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0 <= value <= 1:
        hint = " (a fraction: 0.999 means 99.9%)" if isinstance(value, (int, float)) \
            and math.isfinite(value) and 1 < value <= 100 else ""
        raise ExportOptionError(f"--min-agreement must be a number from 0 to 1{hint}, "
                                f"got {value!r}")


def check_export_options(source: str | os.PathLike, output: str | os.PathLike, *, format: str,
                         precision: str, samples: int, sample_dir: str | os.PathLike | None,
                         calibration_dir: str | os.PathLike | None, calibration_limit: int,
                         min_agreement: float | None, output_stride: int | None,
                         overwrite: bool) -> None:
    """Raise :class:`ExportOptionError` for the first unusable option (see module doc)."""
    if format not in FORMATS:
        raise ExportOptionError(f"unknown format {format!r} (--format); choose one of "
                                f"{', '.join(FORMATS)}")
    if precision not in PRECISIONS_BY_FORMAT[format]:
        raise ExportOptionError(f"--precision {precision} is not available for --format {format} "
                                f"(choose {', '.join(PRECISIONS_BY_FORMAT[format])})")
    if not str(source).strip():
        raise ExportOptionError("--weights is empty")
    if not str(output).strip():
        raise ExportOptionError("--output is empty")
    _check_count(samples, "--samples", MAX_SAMPLES)
    _check_count(calibration_limit, "--calibration-limit", MAX_CALIBRATION_IMAGES)
    check_min_agreement(min_agreement)
    if output_stride not in (None, 8, 16):
        raise ExportOptionError(f"--output-stride must be 8 or 16, got {output_stride!r}")
    _check_folder(sample_dir, "--sample-dir")
    _check_folder(calibration_dir, "--calibration-dir")
    if format == "tflite" and precision == "int8" and calibration_dir is None:
        raise ExportOptionError("--precision int8 needs --calibration-dir: a folder of "
                                "representative images to calibrate the quantization ranges")
    if calibration_dir is not None and not (format == "tflite" and precision == "int8"):
        raise ExportOptionError("--calibration-dir is only used by --format tflite "
                                "--precision int8")
    try:
        check_output(output, format, overwrite=overwrite,
                     inputs={"weights source": source, "sample folder": sample_dir,
                             "calibration folder": calibration_dir})
    except UnsafeOutputError as error:
        raise ExportOptionError(str(error)) from None
