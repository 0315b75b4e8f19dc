"""A ``.tflite`` DeepLab network run with LiteRT (XNNPACK), without importing TensorFlow.

The one place that opens a LiteRT interpreter (:func:`open_interpreter`). Without LiteRT
installed (``ai-edge-litert`` is a declared dependency) it raises :class:`LiteRTUnavailableError`;
there is no fallback to TensorFlow's deprecated interpreter.

:class:`LiteRTRuntime` runs this project's exports (input ``image`` float32 ``[1, S, S, 3]``:
resized, padded, [-1, 1]; outputs ``labels`` and the stride-level ``logits``) and other files with
one such input and one stride-level float logits output; around the network it computes the
contract with :mod:`deeplab.contract_np`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from deeplab import contract_np
from deeplab.input_format import InputContract
from deeplab.runtimes.base import Runtime

DEFAULT_THREADS = 2


class LiteRTUnavailableError(RuntimeError):
    """``ai-edge-litert`` is not installed."""


class NotAnExportError(ValueError):
    """A ``.tflite`` without a recognisable logits output (an official DeepLab file)."""


def default_threads() -> int:
    return max(1, min(DEFAULT_THREADS, os.cpu_count() or 1))


def open_interpreter(model: str | os.PathLike | bytes, num_threads: int | None = None):
    """A LiteRT interpreter with its tensors allocated, for a ``.tflite`` path or its bytes."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise LiteRTUnavailableError(
            "LiteRT is not installed: pip install ai-edge-litert (or use --backend tensorflow)"
        ) from error
    threads = num_threads or default_threads()
    if isinstance(model, (bytes, bytearray)):
        interpreter = Interpreter(model_content=bytes(model), num_threads=threads)
    else:
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"no TFLite model at {path}")
        try:
            interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except ValueError as error:
            raise ValueError(f"{path}: not a TFLite model ({error})") from error
    interpreter.allocate_tensors()
    return interpreter


def sidecar_class_names(path: Path | None) -> tuple[str, ...] | None:
    """The class names of the JSON sidecar ``<name>.json`` beside a ``.tflite`` file, if any."""
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


class LiteRTRuntime(Runtime):
    """A DeepLab ``.tflite`` network (a path or its bytes) run with LiteRT.

    ``class_names`` default to the JSON sidecar (written by ``export.py --format tflite`` and
    by the portrait cache), else to the usual names for the class count.
    """

    def __init__(self, model: str | os.PathLike | bytes, class_names: Sequence[str] | None = None,
                 num_threads: int | None = None):
        self.path = None if isinstance(model, (bytes, bytearray)) else Path(model)
        self.interpreter = open_interpreter(model, num_threads)
        self.num_threads = num_threads or default_threads()
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
            raise ValueError(f"{'the model' if self.path is None else self.path}: expected one "
                             "[1, S, S, 3] image input (a DeepLab TFLite export)")
        self._input = inputs[0]
        self.contract = InputContract(int(self._input["shape"][1]), fixed=True)
        self._logits, self._labels = self._find_outputs()
        if class_names is None:
            class_names = sidecar_class_names(self.path)
        if class_names is None:
            from deeplab.config import default_class_names

            class_names = default_class_names(int(self._logits["shape"][-1]))
        self.class_names = tuple(class_names)

    def _find_outputs(self) -> tuple[dict, dict | None]:
        """(the float logits output at the output stride, this project's ``labels`` output)."""
        signatures = self.interpreter.get_signature_list()
        outputs = self.interpreter.get_output_details()
        if "serving_default" in signatures and "logits" in signatures["serving_default"]["outputs"]:
            details = self.interpreter.get_signature_runner("serving_default").get_output_details()
            by_index = {o["index"]: o for o in outputs}
            labels = details.get("labels")
            return (by_index[details["logits"]["index"]],
                    None if labels is None else by_index[labels["index"]])
        candidates = [o for o in outputs if len(o["shape"]) == 4 and o["dtype"] == np.float32
                      and o["shape"][1] < self.crop_size]
        if len(candidates) != 1:
            raise NotAnExportError("the TFLite model has no recognisable 'logits' output")
        return candidates[0], None

    def network_input(self, image: np.ndarray,
                      resize: bool = True) -> tuple[np.ndarray, tuple[int, int]]:
        """uint8 ``[h, w, 3]`` -> (float32 ``[1, S, S, 3]`` in [-1, 1], (h, w) of the image at
        the working size)."""
        return contract_np.network_input(image, self.crop_size, resize)

    def _invoke(self, prepared: np.ndarray) -> None:
        self.interpreter.set_tensor(self._input["index"], prepared)
        self.interpreter.invoke()

    def predict_logits(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        prepared, valid = self.network_input(image, resize)
        self._invoke(prepared)
        logits = self.interpreter.get_tensor(self._logits["index"])
        return contract_np.upsample_and_crop(logits, prepared.shape[1:3], valid)[0]

    def predict_labels(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        """int32 ``[h, w]``: the file's own ``labels`` output cropped to the working size."""
        if self._labels is None:
            return super().predict_labels(image, resize=resize)
        prepared, (height, width) = self.network_input(image, resize)
        self._invoke(prepared)
        return self.interpreter.get_tensor(self._labels["index"])[0, :height, :width]
