"""One entry point for every export format: ``export(source, output, format=...)``.

Each format writes beside its target, reloads what it wrote, compares it with the Keras model on
sample images, prints the agreement, and only then moves it into place; a failed check deletes
it and raises :class:`~deeplab.export.verify.VerificationError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deeplab.export.formats import FORMATS, PRECISIONS_BY_FORMAT  # noqa: F401  (re-exported)
from deeplab.export.options import check_export_options
from deeplab.export.verify import Agreement, ExportError, sample_images  # noqa: F401


def missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, deepest first."""
    missing = []
    for parent in path.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders that are (still) empty, deepest first."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote and how well it agreed with the Keras model when reloaded."""

    path: Path
    format: str
    agreement: Agreement | None


def export(source: str | os.PathLike, output: str | os.PathLike, *, format: str = "saved_model",
           precision: str = "float32", fold_batch_norm: bool = True, jit_compile: bool = False,
           sample_dir: str | os.PathLike | None = None, samples: int = 3,
           calibration_dir: str | os.PathLike | None = None, calibration_limit: int = 100,
           min_agreement: float | None = None, output_stride: int | None = None,
           overwrite: bool = False) -> ExportResult:
    """Load any weights source (see :func:`deeplab.weights.resolve_model`) and export it.

    Every option is checked first (:func:`deeplab.export.options.check_export_options`): an
    existing ``output`` is replaced only with ``overwrite`` and only when it is an earlier export
    of the same format (:mod:`deeplab.export.output_target`).
    """
    check_export_options(source, output, format=format, precision=precision, samples=samples,
                         sample_dir=sample_dir, calibration_dir=calibration_dir,
                         calibration_limit=calibration_limit, min_agreement=min_agreement,
                         output_stride=output_stride, overwrite=overwrite)
    output = Path(output).expanduser()
    if format == "onnx":
        from deeplab.export.onnx import check_converter

        check_converter()  # fail before the slow model load when no converter is usable
    created = missing_parents(output)
    try:
        from deeplab.weights import resolve_model

        model, config = resolve_model(source, output_stride=output_stride)
        agreement = _write(format, model, config, output, source=source, precision=precision,
                           fold_batch_norm=fold_batch_norm, jit_compile=jit_compile,
                           calibration_dir=calibration_dir, calibration_limit=calibration_limit,
                           images=sample_images(sample_dir, samples),
                           min_agreement=min_agreement, overwrite=overwrite)
    except BaseException:
        remove_if_empty(created)  # a failed export leaves no new empty folders either
        raise
    print(f"wrote {output} ({format}, {precision})")
    return ExportResult(output, format, agreement)


def _write(format: str, model, config, output: Path, *, source, precision: str,
           fold_batch_norm: bool, jit_compile: bool, calibration_dir, calibration_limit: int,
           **common) -> Agreement | None:
    """Write and check ``output`` in ``format`` (``common``: images, min_agreement, overwrite)."""
    if format == "saved_model":
        from deeplab.export.saved_model import InferenceOptions, export_saved_model

        options = InferenceOptions(precision=precision, fold_batch_norm=fold_batch_norm,
                                   jit_compile=jit_compile)
        return export_saved_model(model, config, output, options=options, source=str(source),
                                  **common)
    if format == "keras":
        from deeplab.export.keras_file import export_keras

        return export_keras(model, config, output, **common)
    if format == "tflite":
        from deeplab.export.tflite import export_tflite

        return export_tflite(model, config, output, precision=precision,
                             calibration_dir=calibration_dir, calibration_limit=calibration_limit,
                             fold_batch_norm=fold_batch_norm, **common)
    if format == "compat":
        from deeplab.export.compat import export_compat

        return export_compat(model, config, output, fold_batch_norm=fold_batch_norm, **common)
    from deeplab.export.onnx import export_onnx

    return export_onnx(model, config, output, **common)
