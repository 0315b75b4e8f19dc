"""One entry point for every export format: ``export(source, output, format=...)``.

Every export goes the same way (:func:`export_model`): the format's record writes the artifact
beside its target, opens it through its runtime, compares it with the Keras model on sample
images, logs the agreement, and only then moves it into place; a failed check deletes it and
raises :class:`~deeplab.export.verify.VerificationError`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.contract_tf import resize_to_crop
from deeplab.export.formats import FORMATS, WriteOptions
from deeplab.export.options import check_export_options
from deeplab.export.verify import (CHECK_IMAGE_MAX_SIDE, INT8_HINT, Agreement, ExportError,
                                   atomic_output, check, folder_images, sample_images)
from deeplab.inference import IMAGES_SPEC, logits_at_working_size, segment
from deeplab.weights import resolve_model

log = logging.getLogger(__name__)


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
    FORMATS[format].check_available()  # fail before the slow model load
    created = missing_parents(output)
    try:
        model, config = resolve_model(source, output_stride=output_stride)
        agreement = export_model(model, config, output, format=format, precision=precision,
                                 fold_batch_norm=fold_batch_norm, jit_compile=jit_compile,
                                 images=check_images(precision, sample_dir, calibration_dir,
                                                     samples),
                                 calibration_dir=calibration_dir,
                                 calibration_limit=calibration_limit,
                                 min_agreement=min_agreement, overwrite=overwrite,
                                 source=str(source))
    except BaseException:
        remove_if_empty(created)  # a failed export leaves no new empty folders either
        raise
    log.info("wrote %s (%s, %s)", output, format, precision)
    return ExportResult(output, format, agreement)


def check_images(precision: str, sample_dir: str | os.PathLike | None,
                 calibration_dir: str | os.PathLike | None, samples: int) -> list:
    """The photos an export is checked on: ``sample_dir``'s; for int8 without one, the
    calibration photos (int8 ranges fit photos, so generated patterns would judge it on inputs it
    was never calibrated for); otherwise generated images."""
    if sample_dir is None and precision == "int8" and calibration_dir is not None:
        log.info("int8: checked on the first %d calibration photos (--sample-dir to choose "
                 "others)", samples)
        return sample_images(calibration_dir, samples)
    return sample_images(sample_dir, samples)


class KerasReference:
    """What the written artifact is compared with: the unmodified Keras model."""

    def __init__(self, model: keras.Model, crop_size: int):
        self.crop_size = crop_size
        self._segment = tf.function(lambda x: segment(model, x, crop_size),
                                    input_signature=[IMAGES_SPEC])
        self._labels = tf.function(lambda x: tf.argmax(logits_at_working_size(model, x, crop_size),
                                                        -1, output_type=tf.int32),
                                   input_signature=[IMAGES_SPEC])

    def working(self, image: np.ndarray) -> np.ndarray:
        """The photo resized so its longer side is the crop size, as the graph resizes it."""
        return resize_to_crop(image[np.newaxis], self.crop_size).numpy()[0]

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, probabilities) at ``image``'s resolution."""
        labels, probabilities = self._segment(image[np.newaxis])
        return labels.numpy()[0], probabilities.numpy()[0]

    def working_labels(self, image: np.ndarray) -> np.ndarray:
        """Labels at the working size (the size of :meth:`working`'s image)."""
        return self._labels(image[np.newaxis]).numpy()[0]


def compare(runtime, reference: KerasReference, images: Sequence,
            checked_on: str) -> Agreement:
    """Label agreement (and for photo-fed artifacts the probability difference) of ``runtime``
    with ``reference`` on ``images`` (``(name, uint8 [H, W, 3])`` pairs)."""
    agreement = Agreement()
    for name, image in images:
        if checked_on == "photo":
            ours = runtime.predict(image)
            labels, probabilities = reference(image)
            agreement.add(name, ours.labels, labels)
            agreement.add_probabilities(ours.probabilities, probabilities)
        else:
            agreement.add(name, runtime.predict_labels(reference.working(image), resize=False),
                          reference.working_labels(image))
    return agreement


def export_model(model: keras.Model, config: ModelConfig, output: str | os.PathLike, *,
                 format: str = "saved_model", precision: str = "float32",
                 fold_batch_norm: bool = True, jit_compile: bool = False, images: Sequence = (),
                 calibration_dir: str | os.PathLike | None = None, calibration_limit: int = 100,
                 min_agreement: float | None = None, overwrite: bool = False,
                 source: str | None = None) -> Agreement:
    """Write ``model`` to ``output`` in ``format`` atomically, after checking the artifact,
    opened through its runtime, against ``model`` on ``images`` (``(name, uint8 [H, W, 3])``
    pairs): its labels must agree on ``min_agreement`` of the pixels (default: the format's for
    ``precision``), else it is deleted and :class:`VerificationError` is raised."""
    record = FORMATS[format]
    output = Path(output)
    if record.suffixes and not output.name.endswith(record.suffixes):
        raise ValueError(f"--format {format} writes a {' or '.join(record.suffixes)} file; got "
                         f"--output {output}")
    if precision not in record.precisions:
        raise ValueError(f"--precision {precision} is not available for --format {format}")
    if not images:
        raise ValueError(f"the {format} export needs sample images to check it")
    calibration = folder_images(calibration_dir, calibration_limit, CHECK_IMAGE_MAX_SIDE) \
        if calibration_dir else ()
    if precision == "int8" and not calibration:
        raise ExportError("--precision int8 needs --calibration-dir with representative images")
    if min_agreement is None:
        min_agreement = record.default_min_agreement(precision)
    options = WriteOptions(precision, fold_batch_norm, jit_compile, calibration, source,
                           output.name)
    reference = KerasReference(model, config.crop_size)
    with atomic_output(output, directory=record.directory, overwrite=overwrite) as temporary:
        companions = record.write(model, config, temporary, options)
        runtime = record.open(temporary, config)
        try:
            agreement = compare(runtime, reference, images, record.checked_on)
            record.extra_checks(runtime, images, agreement)
        finally:
            getattr(runtime, "close", lambda: None)()  # a frozen graph's session
        check(agreement, min_agreement,
              f"{record.title.format(precision=precision)} {output}",
              INT8_HINT if precision == "int8" else "")
        for suffix, text in companions.items():
            with atomic_output(output.with_suffix(suffix), directory=False,
                               overwrite=True) as companion:
                companion.write_text(text)
    return agreement
