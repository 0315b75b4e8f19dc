"""The export formats as records: file names, precisions, how each is written and opened.

Plain data, no TensorFlow, so ``export.py --help`` and the option checks answer at once; a
record's ``write`` and ``open`` import its module (``deeplab.export.<name>``) on first use.
Adding a format means adding a module with ``write(model, config, path, options)`` and
``open_runtime(path, config)`` (-> a :mod:`deeplab.runtimes` runtime), and one record here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Sequence

from deeplab.precision import DEFAULT_MIN_AGREEMENT

#: A ``.keras`` file must reproduce the Keras model's labels exactly.
KERAS_FILE_MIN_AGREEMENT = 1.0


@dataclass(frozen=True)
class WriteOptions:
    """How a format writes the network (each format reads the fields it needs)."""

    precision: str = "float32"
    fold_batch_norm: bool = True
    jit_compile: bool = False
    calibration: Sequence = ()  # (name, uint8 image) pairs for int8 quantisation
    source: str | None = None
    name: str = ""  # the final output's file name (the temporary one differs)


@dataclass(frozen=True)
class Format:
    """One export format.

    ``suffixes``: what the output name must end with (empty: a folder). ``checked_on``: what
    the written artifact is compared with the Keras model on, as it is fed in use: ``photo``
    (any size; labels and probabilities at the photo's resolution) or ``working`` (the photo
    resized so its longer side is the crop size; labels at that size).
    """

    name: str
    title: str  # how the check line names it
    suffixes: tuple[str, ...]
    precisions: tuple[str, ...]
    checked_on: str
    min_agreement: float | None = None  # None: DEFAULT_MIN_AGREEMENT of the precision
    module: str = ""  # where write/open_runtime live; default deeplab.export.<name>

    @property
    def directory(self) -> bool:
        return not self.suffixes

    @property
    def _module(self):
        return importlib.import_module(self.module or f"deeplab.export.{self.name}")

    def default_min_agreement(self, precision: str) -> float:
        return self.min_agreement if self.min_agreement is not None \
            else DEFAULT_MIN_AGREEMENT[precision]

    def check_available(self) -> None:
        """Raise an ExportError now when the format's converter cannot run here."""
        check = getattr(self._module, "check_available", None)
        if check is not None:
            check()

    def write(self, model, config, path, options: WriteOptions) -> dict[str, str]:
        """Write the artifact at ``path``; returns companion files to publish beside the output
        after the check (suffix -> text)."""
        return self._module.write(model, config, path, options) or {}

    def open(self, path, config):
        """The written artifact as a runtime (:mod:`deeplab.runtimes`)."""
        return self._module.open_runtime(path, config)

    def extra_checks(self, runtime, images, agreement) -> None:
        """Format-specific checks beyond the label agreement (SavedModel: other signatures)."""
        check = getattr(self._module, "extra_checks", None)
        if check is not None:
            check(runtime, images, agreement)


#: Precisions name entries of :data:`deeplab.precision.PRECISIONS`.
_RECORDS = (
    Format("saved_model", "SavedModel", (), ("float32", "bfloat16"), "photo"),
    Format("tflite", "TFLite {precision}", (".tflite",), ("float32", "float16", "int8"),
           "working"),
    Format("compat", "compat archive", (".tar.gz", ".tgz"), ("float32",), "working"),
    Format("keras", "Keras file", (".keras",), ("float32",), "photo", KERAS_FILE_MIN_AGREEMENT,
           "deeplab.export.keras_file"),
    Format("onnx", "ONNX", (".onnx",), ("float32",), "working"),
)

#: name -> record, in the order ``--format`` lists them.
FORMATS: dict[str, Format] = {record.name: record for record in _RECORDS}
PRECISIONS_BY_FORMAT = {name: record.precisions for name, record in FORMATS.items()}
