"""Running the network with LiteRT, so that portrait mode starts without importing TensorFlow.

TensorFlow takes seconds to import; LiteRT (``ai-edge-litert``) a fraction of one. Any weights
source is converted once to a float32 TFLite network (``deeplab.export.tflite.convert``: the only
step that needs TensorFlow) and cached under ``cache_dir()/litert`` with a JSON sidecar, keyed by
a hash of the source file(s), the crop size and the precision. Later runs, and ``.tflite`` files
given directly, load it with LiteRT (XNNPACK) and never import TensorFlow.

The network runs on one padded crop; everything around it is done here in numpy/cv2 exactly as
``deeplab.preprocessing`` and ``deeplab.inference`` do it: resize the longer side to the crop
size (antialiased bilinear, skipped when equal), pad bottom/right with 127.5, map to [-1, 1],
network, align-corners bilinear upsampling of the logits to the padded size, crop, softmax.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from deeplab.atomic import write_bytes_atomic, write_text_atomic
from deeplab.input_format import PAD_VALUE, SCALE, resized_size
from deeplab.portrait.matte import softmax

PRECISIONS = ("float32", "float16")
CACHE_FORMAT = 2  # bump when the cached network or its sidecar changes meaning
DEFAULT_THREADS = 2


class LiteRTUnavailableError(RuntimeError):
    """``ai-edge-litert`` is not installed."""


def default_threads() -> int:
    return max(1, min(DEFAULT_THREADS, os.cpu_count() or 1))


# -- pre- and post-processing, numpy versions of deeplab.preprocessing / deeplab.inference ---------
def resize_to_crop(image: np.ndarray, crop_size: int) -> np.ndarray:
    """uint8 ``[H, W, 3]`` with the longer side brought to ``crop_size`` (unchanged if equal).

    Antialiased bilinear (triangle filter widened by the scale), as ``tf.image.resize(...,
    antialias=True)`` and the original demo's PIL resize; rounded back to uint8.
    """
    height, width = image.shape[:2]
    if max(height, width) == crop_size:
        return image
    from PIL import Image

    new_height, new_width = resized_size(height, width, crop_size)
    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (new_width, new_height), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def network_input(image: np.ndarray, crop_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 ``[H, W, 3]`` -> (float32 ``[1, S, S, 3]`` in [-1, 1], (h, w) of the valid region)."""
    resized = resize_to_crop(image, crop_size)
    height, width = resized.shape[:2]
    if height > crop_size or width > crop_size:
        raise ValueError(f"image {height}x{width} does not fit the {crop_size}-px network")
    padded = np.full((1, crop_size, crop_size, 3), PAD_VALUE, np.float32)
    padded[0, :height, :width] = resized
    padded *= SCALE
    padded -= np.float32(1.0)
    return padded, (height, width)


def _align_corners_axis(in_size: int, out_size: int, keep: int):
    """Source indices and weights of TF's align-corners bilinear resize along one axis."""
    # TF: scale = float(in - 1) / float(out - 1) in float32, source = float(out_index) * scale.
    scale = np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.float32(0)
    source = np.arange(keep, dtype=np.float32) * scale
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    lerp = (source - lower.astype(np.float32)).astype(np.float32)
    return lower, upper, lerp


def upsample_logits(logits: np.ndarray, padded_hw: tuple[int, int],
                    valid_hw: tuple[int, int]) -> np.ndarray:
    """Align-corners bilinear upsampling of ``[h, w, C]`` logits to ``padded_hw``, cropped to
    ``valid_hw``; the same float32 arithmetic as TF's ``ResizeBilinear(align_corners=True)``
    (interpolate along x, then along y), computed only for the kept pixels."""
    logits = np.asarray(logits, np.float32)
    in_h, in_w = logits.shape[:2]
    y0, y1, wy = _align_corners_axis(in_h, padded_hw[0], valid_hw[0])
    x0, x1, wx = _align_corners_axis(in_w, padded_hw[1], valid_hw[1])
    left, right = logits[:, x0], logits[:, x1]
    rows = left + (right - left) * wx[None, :, None]            # [in_h, w, C]
    top, bottom = rows[y0], rows[y1]
    return top + (bottom - top) * wy[:, None, None]


def _resize_channels(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (half-pixel) resize of a ``[h, w, C]`` float map, in chunks cv2 accepts."""
    import cv2

    chunks = [cv2.resize(np.ascontiguousarray(values[..., i:i + 4]), (width, height),
                         interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
              for i in range(0, values.shape[-1], 4)]
    return np.concatenate(chunks, axis=-1) if len(chunks) > 1 else chunks[0]


# -- the model --------------------------------------------------------------------------------
def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise LiteRTUnavailableError(
            "LiteRT is not installed: pip install ai-edge-litert (or use --backend tensorflow)"
        ) from error
    return Interpreter


class NotAnExportError(ValueError):
    """A ``.tflite`` without this project's ``logits`` output (an official DeepLab file)."""


class LiteRTModel:
    """A DeepLab TFLite network run with LiteRT: a ``ProbabilityModel`` for portrait mode.

    ``model``: a ``.tflite`` path or its bytes. ``class_names`` default to the JSON sidecar
    (``<name>.json``, written by the cache and by ``export.py --format tflite``), else to the
    usual names for the class count. ``reload(crop_size)`` gives the same weights at another
    input size when the model came from a convertible source (see ``load_litert_model``).
    """

    def __init__(self, model: str | os.PathLike | bytes, class_names: Sequence[str] | None = None,
                 num_threads: int | None = None, reload=None):
        Interpreter = _interpreter_class()
        threads = num_threads or default_threads()
        if isinstance(model, (bytes, bytearray)):
            self.path = None
            self.interpreter = Interpreter(model_content=bytes(model), num_threads=threads)
        else:
            self.path = Path(model)
            if not self.path.is_file():
                raise FileNotFoundError(f"no TFLite model at {self.path}")
            try:
                self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
            except ValueError as error:
                raise ValueError(f"{self.path}: not a TFLite model ({error})") from error
        self.interpreter.allocate_tensors()
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
            raise ValueError(f"{model if self.path is None else self.path}: expected one "
                             "[1, S, S, 3] image input (a DeepLab TFLite export)")
        self._input = inputs[0]
        self.crop_size = int(self._input["shape"][1])
        self._logits = self._find_logits_output()
        self._reload = reload
        self.num_threads = threads
        if class_names is None:
            class_names = _sidecar_class_names(self.path)
        if class_names is None:
            from deeplab.config import default_class_names

            class_names = default_class_names(int(self._logits["shape"][-1]))
        self.class_names = tuple(class_names)

    def _find_logits_output(self) -> dict:
        """The float logits output at the output stride (4-D, smaller than the crop)."""
        signatures = self.interpreter.get_signature_list()
        outputs = self.interpreter.get_output_details()
        if "serving_default" in signatures and "logits" in signatures["serving_default"]["outputs"]:
            runner = self.interpreter.get_signature_runner("serving_default")
            index = runner.get_output_details()["logits"]["index"]
            return next(o for o in outputs if o["index"] == index)
        candidates = [o for o in outputs if len(o["shape"]) == 4 and o["dtype"] == np.float32
                      and o["shape"][1] < self.crop_size]
        if len(candidates) != 1:
            raise NotAnExportError("the TFLite model has no recognisable 'logits' output")
        return candidates[0]

    def for_input_size(self, longer_side: int) -> "LiteRTModel":
        """The same weights with the network fed ``longer_side`` px (e.g. smaller for video).

        Converted (and cached) on first use when the model came from a weights source; a bare
        ``.tflite`` file keeps its own fixed size.
        """
        if longer_side == self.crop_size or self._reload is None:
            return self
        return self._reload(longer_side)

    def logits(self, image: np.ndarray) -> np.ndarray:
        """Raw network logits ``[h', w', C]`` at the output stride for one uint8 image."""
        prepared, _ = network_input(image, self.crop_size)
        return self._run(prepared)

    def _run(self, prepared: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._input["index"], prepared)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._logits["index"])[0]

    def working_logits(self, image: np.ndarray) -> np.ndarray:
        """Logits upsampled (align corners) to the resized image, as ``predict_logits``."""
        prepared, valid = network_input(image, self.crop_size)
        return upsample_logits(self._run(prepared), (self.crop_size, self.crop_size), valid)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 ``[B, h, w, 3]`` -> float32 class probabilities ``[B, h, w, C]``.

        Best fed at the working size (longer side = crop size). Other sizes are resized to it
        and the logits brought back to the image's size (bilinear) before the softmax, as
        ``Segmenter.predict`` does.
        """
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 [B, H, W, 3], got {images.dtype} "
                             f"{images.shape}")
        height, width = images.shape[1:3]
        out = []
        for image in images:
            logits = self.working_logits(image)
            if logits.shape[:2] != (height, width):
                logits = _resize_channels(logits, height, width)
            out.append(softmax(logits))
        return np.stack(out)


def _sidecar_class_names(path: Path | None) -> tuple[str, ...] | None:
    if path is None:
        return None
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        names = json.loads(sidecar.read_text()).get("class_names")
    except (OSError, ValueError):
        return None
    return tuple(names) if names else None


# -- converting and caching -------------------------------------------------------------------
def litert_cache_dir() -> Path:
    from deeplab.weights.download import cache_dir  # TensorFlow-free (tested by the CLI tests)

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
            from deeplab.weights.registry import find_release

            entry = find_release(str(source))
            if entry is None:
                raise FileNotFoundError(f"weights not found: {source} (not a file, folder, "
                                        "checkpoint prefix or registry name)")
            parts = [f"registry:{entry.name}:{entry.sha256 or entry.url}"]
    if memo != before:
        write_text_atomic(memo_path, json.dumps(memo))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def cache_key(source: str | os.PathLike, crop_size: int, precision: str) -> str:
    text = f"deeplab-litert-v{CACHE_FORMAT}|{source_fingerprint(source)}|{crop_size}|{precision}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def convert_source(source: str | os.PathLike, crop_size: int, precision: str = "float32",
                   ) -> tuple[bytes, dict]:
    """(TFLite flatbuffer, sidecar metadata) of any weights source. Imports TensorFlow."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    from deeplab.export.optimize import optimize_for_inference
    from deeplab.export.tflite import convert
    from deeplab.weights import resolve_model

    model, config = resolve_model(source)
    content = convert(optimize_for_inference(model), crop_size, precision)
    metadata = {"class_names": list(config.class_names), "num_classes": config.num_classes,
                "crop_size": crop_size, "precision": precision, "source": str(source),
                "cache_format": CACHE_FORMAT}
    return content, metadata


def load_litert_model(source: str | os.PathLike, crop_size: int = 513,
                      precision: str = "float32", use_cache: bool = True,
                      num_threads: int | None = None, log=None) -> LiteRTModel:
    """A LiteRT model for any weights source, converted once and cached.

    ``.tflite`` files this project wrote are loaded as they are; other DeepLab ``.tflite`` files
    (the TFLite example, Coral: labels or full-size outputs) are read back into the network
    (:mod:`deeplab.weights.tflite_file`) and converted like any source. Anything else (registry name, archive, folder,
    checkpoint, frozen graph, ``.keras``) is looked up in the cache by content hash + crop size
    + precision; a miss converts it (TensorFlow is imported only then) and stores it atomically,
    unless ``use_cache`` is False (convert in memory every time). A cached file that no longer
    loads (truncated, overwritten) is deleted and converted again, not reported forever.
    """
    path = Path(str(source)).expanduser()
    if path.suffix == ".tflite":
        try:
            return LiteRTModel(path, num_threads=num_threads)
        except NotAnExportError:
            pass

    def reload(size: int) -> LiteRTModel:
        return load_litert_model(source, size, precision, use_cache, num_threads, log)

    if not use_cache:
        content, metadata = convert_source(source, crop_size, precision)
        return LiteRTModel(content, metadata["class_names"], num_threads, reload)
    target = litert_cache_dir() / f"{cache_key(source, crop_size, precision)}.tflite"
    sidecar = target.with_suffix(".json")
    if target.is_file() and sidecar.is_file():
        try:
            json.loads(sidecar.read_text())
            return LiteRTModel(target, num_threads=num_threads, reload=reload)
        except (OSError, ValueError):  # damaged (disk full, killed writer...): rebuild it
            if log is not None:
                print(f"the cached network {target} is damaged; converting again", file=log)
            target.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
    if not (target.is_file() and sidecar.is_file()):
        if log is not None:
            print(f"converting {source} to a {precision} TFLite network at {crop_size} px "
                  f"(once; cached in {target.parent})", file=log)
        content, metadata = convert_source(source, crop_size, precision)
        write_bytes_atomic(target, content)
        write_text_atomic(sidecar, json.dumps(metadata, indent=2))  # last: marks completion
    return LiteRTModel(target, num_threads=num_threads, reload=reload)
