"""Models that ship inside the package (registry entries of kind ``bundled``): no download.

The file lives in ``deeplab/models/`` as package data, so ``pip install .`` carries it. Its
SHA-256 is part of the registry entry and is checked every time the file is opened, so a damaged
install fails with one line instead of producing wrong masks.
"""

from __future__ import annotations

from pathlib import Path

from deeplab.weights.download import file_sha256
from deeplab.weights.errors import ChecksumError, WeightsError

PACKAGE_MODELS = Path(__file__).resolve().parent.parent / "models"


def bundled_path(entry, litert: bool = False) -> Path:
    """The verified file of a bundled registry entry (:class:`OfficialRelease`): the model, or
    with ``litert`` its prebuilt LiteRT network."""
    archive, expected = ((entry.litert_archive, entry.litert_sha256) if litert
                         else (entry.archive, entry.sha256))
    path = PACKAGE_MODELS / archive
    if not path.is_file():
        raise WeightsError(f"the bundled model {entry.name!r} is missing from this install "
                           f"({path}); reinstall the package")
    digest = file_sha256(path)
    if expected and digest != expected:
        raise ChecksumError(f"the bundled model {entry.name!r} ({path}) is damaged: SHA-256 "
                            f"{digest}, expected {expected}; reinstall the package")
    return path
