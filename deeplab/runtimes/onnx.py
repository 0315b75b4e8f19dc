"""An ONNX DeepLab export run with onnxruntime (optional: ``pip install onnxruntime``).

The one place that opens an onnxruntime session. Same contract as the TFLite export: input
``image`` float32 ``[1, S, S, 3]`` (resized, padded, [-1, 1]); outputs ``labels`` int32
``[1, S, S]`` and ``logits`` at the output stride. No TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deeplab import contract_np
from deeplab.input_format import InputContract
from deeplab.runtimes.base import Runtime


class OnnxRuntime(Runtime):
    """A ``.onnx`` DeepLab export in an onnxruntime CPU session."""

    def __init__(self, path: str | os.PathLike, class_names=None):
        import onnxruntime

        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(str(self.path),
                                                    providers=["CPUExecutionProvider"])
        model_input = self.session.get_inputs()[0]
        self._input = model_input.name
        self._outputs = [o.name for o in self.session.get_outputs()]
        self.contract = InputContract(int(model_input.shape[1]), fixed=True)
        if class_names is None:
            from deeplab.config import default_class_names

            logits = next(o for o in self.session.get_outputs() if "logits" in o.name)
            class_names = default_class_names(int(logits.shape[-1]))
        self.class_names = tuple(class_names)

    def _run(self, image: np.ndarray, resize: bool) -> tuple[dict, np.ndarray, tuple]:
        prepared, valid = contract_np.network_input(image, self.crop_size, resize)
        outputs = dict(zip(self._outputs, self.session.run(None, {self._input: prepared})))
        return outputs, prepared, valid

    @staticmethod
    def _output(outputs: dict, name: str) -> np.ndarray:
        return next(value for key, value in outputs.items() if name in key)

    def predict_logits(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        outputs, prepared, valid = self._run(image, resize)
        return contract_np.upsample_and_crop(self._output(outputs, "logits"),
                                             prepared.shape[1:3], valid)[0]

    def predict_labels(self, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        """int32 ``[h, w]``: the file's own ``labels`` output cropped to the working size."""
        outputs, _, (height, width) = self._run(image, resize)
        return self._output(outputs, "labels")[0, :height, :width]
