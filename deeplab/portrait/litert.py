"""The LiteRT path of portrait mode: any weights source converted once to a TFLite network and
cached, so that portrait mode starts without importing TensorFlow.

A bundled model that ships its own LiteRT network (``person_fast``) runs that file as it is:
nothing is converted, and the network's size is the working size unless another is asked for.

TensorFlow takes seconds to import; LiteRT (``ai-edge-litert``) a fraction of one. Any weights
source is converted once to a float32 TFLite network (``deeplab.export.tflite.convert``: the only
step that needs TensorFlow) and cached under ``cache_dir()/litert`` with a JSON sidecar, keyed by
a hash of the source file(s), the crop size and the precision. Later runs, and ``.tflite`` files
given directly, run it with :class:`deeplab.runtimes.litert.LiteRTRuntime` and never import
TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from deeplab.atomic import write_bytes_atomic, write_text_atomic
from deeplab.errors import environment_message
from deeplab.export.formats import FORMATS
from deeplab.portrait.probability_model import PortraitModel
from deeplab.runtimes.litert import LiteRTRuntime, NotAnExportError
from deeplab.weights.bundled import bundled_path
from deeplab.weights.download import cache_dir
from deeplab.weights.registry import find_release

#: What the cache converts to: the TFLite precisions that need no calibration images.
CACHE_PRECISIONS = tuple(p for p in FORMATS["tflite"].precisions if p != "int8")
CACHE_FORMAT = 2  # bump when the cached network or its sidecar changes meaning

logger = logging.getLogger(__name__)


# -- converting and caching -------------------------------------------------------------------
def litert_cache_dir() -> Path:
    return cache_dir() / "litert"


def _file_digest(path: Path, memo: dict) -> str:
    """SHA-256 of a file, remembered by (path, size, mtime) so big archives hash once."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if key not in memo:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        memo[key] = digest.hexdigest()
    return memo[key]


def source_fingerprint(source: str | os.PathLike) -> str:
    """A hash of what a weights source holds: file contents for files, folders and checkpoint
    prefixes (``prefix.*``), the registry entry (name + published hash) for registry names."""
    path = Path(str(source)).expanduser()
    memo_path = litert_cache_dir() / "file_hashes.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    before = dict(memo)
    if path.is_file():
        parts = [_file_digest(path, memo)]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            raise ValueError(f"weights folder {path} is empty")
        parts = [f"{p.relative_to(path)}:{_file_digest(p, memo)}" for p in files]
    else:
        siblings = sorted(path.parent.glob(path.name + ".*")) if path.parent.is_dir() else []
        if siblings:  # a checkpoint prefix
            parts = [f"{p.name[len(path.name):]}:{_file_digest(p, memo)}" for p in siblings]
        else:
            entry = find_release(str(source))
            if entry is None:
                raise FileNotFoundError(f"weights not found: {source} (not a file, folder, "
                                        "checkpoint prefix or registry name)")
            parts = [f"registry:{entry.name}:{entry.sha256 or entry.url}"]
    if memo != before:
        try:
            write_text_atomic(memo_path, json.dumps(memo))
        except OSError:  # a read-only or broken cache: the hashes are only an optimisation
            pass
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def cache_key(source: str | os.PathLike, crop_size: int, precision: str) -> str:
    text = f"deeplab-litert-v{CACHE_FORMAT}|{source_fingerprint(source)}|{crop_size}|{precision}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def convert_source(source: str | os.PathLike, crop_size: int, precision: str = "float32",
                   ) -> tuple[bytes, dict]:
    """(TFLite flatbuffer, sidecar metadata) of any weights source. Imports TensorFlow."""
    if precision not in CACHE_PRECISIONS:
        raise ValueError(f"precision must be one of {CACHE_PRECISIONS}, got {precision!r}")
    from deeplab.export.tflite import convert  # imports TensorFlow
    from deeplab.rewrites import optimize_for_inference
    from deeplab.weights import resolve_model

    model, config = resolve_model(source)
    content = convert(optimize_for_inference(model), crop_size, precision)
    metadata = {"class_names": list(config.class_names), "num_classes": config.num_classes,
                "crop_size": crop_size, "precision": precision, "source": str(source),
                "cache_format": CACHE_FORMAT}
    return content, metadata


def load_litert_model(source: str | os.PathLike, crop_size: int = 513,
                      precision: str = "float32", use_cache: bool = True,
                      num_threads: int | None = None, prebuilt: bool = True) -> PortraitModel:
    """A LiteRT model for any weights source, converted once and cached.

    A bundled model with a prebuilt network (``prebuilt``) returns that network at its own size
    (``crop_size`` is then only used by ``for_input_size``, which converts).

    ``.tflite`` files this project wrote are loaded as they are; other DeepLab ``.tflite`` files
    (the TFLite example, Coral: labels or full-size outputs) are read back into the network
    (:mod:`deeplab.weights.tflite_file`) and converted like any source. Anything else
    (registry name, archive, folder, checkpoint, frozen graph, ``.keras``) is looked up in the
    cache by content hash + crop size + precision; a miss converts it (TensorFlow is imported
    only then) and stores it atomically, unless ``use_cache`` is False (convert in memory every
    time). A cached file that no longer loads (truncated, overwritten) is deleted and converted
    again, not reported forever.
    """
    path = Path(str(source)).expanduser()
    if path.suffix == ".tflite":
        try:
            return PortraitModel(LiteRTRuntime(path, num_threads=num_threads))
        except NotAnExportError:
            pass

    def reload(size: int) -> PortraitModel:
        return load_litert_model(source, size, precision, use_cache, num_threads,
                                 prebuilt=False)

    entry = None if path.exists() else find_release(str(source))
    if prebuilt and entry is not None and entry.kind == "bundled" and entry.litert_archive:
        model = PortraitModel(LiteRTRuntime(bundled_path(entry, litert=True),
                                            num_threads=num_threads), reload)
        model.preferred_size = entry.crop_size
        return model

    if not use_cache:
        content, metadata = convert_source(source, crop_size, precision)
        return PortraitModel(LiteRTRuntime(content, metadata["class_names"], num_threads), reload)
    target = litert_cache_dir() / f"{cache_key(source, crop_size, precision)}.tflite"
    sidecar = target.with_suffix(".json")
    if target.is_file() and sidecar.is_file():
        try:
            json.loads(sidecar.read_text())
            return PortraitModel(LiteRTRuntime(target, num_threads=num_threads), reload)
        except (OSError, ValueError):  # damaged (disk full, killed writer...): rebuild it
            logger.warning("the cached network %s is damaged; converting again", target)
            target.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
    if not (target.is_file() and sidecar.is_file()):
        logger.info("converting %s to a %s TFLite network at %d px (once; cached in %s)",
                    source, precision, crop_size, target.parent)
        content, metadata = convert_source(source, crop_size, precision)
        try:
            write_bytes_atomic(target, content)
            write_text_atomic(sidecar, json.dumps(metadata, indent=2))  # last: marks completion
        except OSError as error:  # read-only, full, or not a folder: run from memory instead
            logger.warning("cannot write the network cache in %s (%s); running the converted "
                           "network from memory (it is converted again next time)",
                           target.parent, environment_message(error))
            return PortraitModel(LiteRTRuntime(content, metadata["class_names"], num_threads),
                                 reload)
    return PortraitModel(LiteRTRuntime(target, num_threads=num_threads), reload)
