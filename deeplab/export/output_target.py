"""What an export may write over: only an earlier export of the same kind, never anything else.

``export.py --overwrite`` replaces an existing output only when it is recognisably this
project's artifact of the requested format (a SavedModel folder holding nothing but a SavedModel
with deeplab's ``assets/metadata.json``, a ``.tflite`` / ``.keras`` / ``.onnx`` file of that
format, a compat archive holding only ``<name>/frozen_inference_graph.pb``). Whatever the flags,
it never touches the current directory or one above it, the filesystem root or home folder, a
folder an input lives in (weights source, sample or calibration images), nor a path inside the
weights source. :func:`check_output` says why in one line (:class:`ExportError`) before any work.
Standard library only.
"""

from __future__ import annotations

import json
import os
import tarfile
import zipfile
from pathlib import Path

from deeplab.export.formats import FORMATS

#: ``format`` of deeplab's ``metadata.json`` (SavedModel asset and TFLite sidecar).
METADATA_FORMAT = "deeplab-saved-model"
SAVED_MODEL_ENTRIES = {"saved_model.pb", "fingerprint.pb", "variables", "assets",
                       "keras_metadata.pb"}
FROZEN_GRAPH_NAME = "frozen_inference_graph.pb"


class UnsafeOutputError(ValueError):
    """The output path names something an export must not write over."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _input_locations(source: str | os.PathLike | None) -> list[Path]:
    """The file or folder an input occupies (a checkpoint prefix: its folder), when local."""
    if source is None:
        return []
    path = Path(source).expanduser()
    if path.exists():
        return [path.resolve()]
    if Path(f"{path}.index").exists():  # checkpoint prefix: protect the folder of its files
        return [path.resolve().parent]
    return []


def sidecar_path(output: Path) -> Path:
    """The TFLite export's JSON sidecar beside ``output``."""
    return output.with_suffix(".json")


def is_deeplab_metadata(path: Path) -> bool:
    """A JSON file this project wrote (``format`` = deeplab-saved-model)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == METADATA_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def saved_model_problem(path: Path) -> str | None:
    """Why ``path`` is not a deeplab SavedModel export folder (None when it is one)."""
    if not path.is_dir():
        return "it is not a folder"
    entries = {entry.name for entry in path.iterdir()}
    others = sorted(entries - SAVED_MODEL_ENTRIES)
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        return f"it holds other files ({shown})"
    if "saved_model.pb" not in entries:
        return "it holds no saved_model.pb"
    assets = path / "assets"
    asset_names = {p.name for p in assets.iterdir()} if assets.is_dir() else set()
    if asset_names - {"metadata.json"} or not is_deeplab_metadata(assets / "metadata.json"):
        return "it is not a SavedModel written by deeplab-export (no deeplab assets/metadata.json)"
    variables = path / "variables"
    if variables.exists() and (not variables.is_dir() or any(
            not p.name.startswith("variables.") for p in variables.iterdir())):
        return "its variables/ folder holds other files"
    return None


def _head(path: Path, size: int = 64) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def file_problem(path: Path, format: str) -> str | None:
    """Why ``path`` is not a file of the kind ``format`` writes (None when it is one)."""
    if not path.is_file():
        return "it is not a file"
    try:
        if format == "tflite":
            return None if _head(path)[4:8] == b"TFL3" else "it is not a TFLite model"
        if format == "keras":
            with zipfile.ZipFile(path) as archive:
                return None if "config.json" in archive.namelist() else "it is not a .keras file"
        if format == "onnx":
            head = _head(path, 256)
            return None if head[:1] == b"\x08" and b"tf2onnx" in head else \
                "it is not an ONNX model written by tf2onnx"
        if format == "compat":
            with tarfile.open(path, "r:gz") as archive:
                names = archive.getnames()
            if len(names) == 1 and names[0].endswith("/" + FROZEN_GRAPH_NAME):
                return None
            return f"it is not a compat archive (it holds {len(names)} members, e.g. {names[:3]})"
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        return f"it cannot be read as a {format} artifact ({error})"
    return f"unknown format {format}"


def protected_reason(output: Path, inputs: dict[str, str | os.PathLike | None],
                     replacing: bool = True) -> str | None:
    """Why writing ``output`` could destroy something (None when it cannot). A new output
    (``replacing=False``) may go inside the weights source's folder; an existing one there may
    not be replaced."""
    resolved = output.resolve()
    cwd = Path.cwd().resolve()
    if _inside(cwd, resolved):
        return ("it is the current directory" if resolved == cwd
                else "it contains the current directory")
    if resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
        return "it is the filesystem root or your home folder"
    for what, value in inputs.items():
        for location in _input_locations(value):
            if _inside(location, resolved):
                return f"it is or contains the {what} {value}"
            if replacing and what == "weights source" and location.is_dir() \
                    and _inside(resolved, location):
                return f"it is inside the weights source {value}"
    return None


def check_output(output: str | os.PathLike, format: str, *, overwrite: bool,
                 inputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse (:class:`UnsafeOutputError`) an output this export must not write or replace.

    ``inputs`` names the local inputs (``{"weights source": ..., "sample folder": ...}``).
    """
    output = Path(output).expanduser()
    suffixes = FORMATS[format].suffixes if format in FORMATS else ()
    if suffixes and not output.name.endswith(suffixes):
        raise UnsafeOutputError(f"--format {format} writes a {' or '.join(suffixes)} file; got "
                                f"--output {output}")
    file_suffixes = tuple(s for record in FORMATS.values() for s in record.suffixes) + (".pb",)
    if format == "saved_model" and output.name.endswith(file_suffixes):
        raise UnsafeOutputError(f"--format saved_model writes a folder; --output {output} looks "
                                f"like a file name (choose --format or another name)")
    existing = output.exists() or output.is_symlink()
    targets = [output] + ([sidecar_path(output)] if format == "tflite" else [])
    for target in targets:
        if not (target.exists() or target.is_symlink()):
            continue
        reason = protected_reason(target, inputs)
        if reason:
            raise UnsafeOutputError(f"refusing to write --output {output}: {reason}")
        if target.is_symlink():
            raise UnsafeOutputError(f"refusing to replace {target}: it is a symbolic link "
                                    f"(give the real path)")
        if target == output:
            problem = saved_model_problem(target) if format == "saved_model" \
                else file_problem(target, format)
        else:
            problem = None if is_deeplab_metadata(target) else \
                "it is not a sidecar written by deeplab-export"
        if problem:
            inside = f" (e.g. --output {output / 'model'})" \
                if format == "saved_model" and target == output and target.is_dir() else ""
            raise UnsafeOutputError(f"refusing to replace {target}: {problem}; --overwrite only "
                                    f"replaces an earlier {format} export, so choose a new "
                                    f"--output{inside} or move it away")
        if not overwrite:
            raise UnsafeOutputError(f"{target} exists (an earlier {format} export); pass "
                                    f"--overwrite to replace it")
    if not existing:
        reason = protected_reason(output, inputs, replacing=False)
        if reason:
            raise UnsafeOutputError(f"refusing to write --output {output}: {reason}")
