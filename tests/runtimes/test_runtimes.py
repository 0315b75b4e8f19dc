"""Every runtime on the same tiny randomly initialised model: each format written, opened by
:func:`deeplab.runtimes.open_runtime`, and its working-size logits compared with the Keras
runtime's (no ../shared)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deeplab import contract_np
from deeplab.config import ModelConfig
from deeplab.export import export_model
from deeplab.export.verify import generated_images
from deeplab.input_format import InputContract
from deeplab.model import build_deeplab
from deeplab.runtimes import (FrozenGraphRuntime, LiteRTRuntime, OnnxRuntime, Runtime,
                              SavedModelRuntime, Segmenter, open_runtime)

TINY = ModelConfig("mobilenet_v2", 0.5, 3, 16, crop_size=97, class_names=("bg", "cat", "dog"))
#: format -> (output name, runtime class, fixed-size input)
ARTIFACTS = {
    "saved_model": ("saved", SavedModelRuntime, False),
    "keras": ("tiny.keras", Segmenter, False),
    "tflite": ("tiny.tflite", LiteRTRuntime, True),
    "compat": ("tiny.tar.gz", FrozenGraphRuntime, False),
    "onnx": ("tiny.onnx", OnnxRuntime, True),
}


@pytest.fixture(scope="module")
def tiny():
    model = build_deeplab(TINY)
    rng = np.random.default_rng(7)
    for layer in model.layers:  # non-trivial batch norm, so the rewrites have work to do
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.2, channels))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, channels))
    return model


@pytest.fixture(scope="module")
def working_images():
    """Photos resized to their working size (longer side 97, or 96 where the resize rounds
    down), fed with ``resize=False``."""
    return [contract_np.resize_to_crop(image[np.newaxis], TINY.crop_size)[0]
            for _, image in generated_images(3)]


@pytest.fixture(scope="module")
def reference(tiny, working_images):
    keras_runtime = Segmenter(tiny, TINY, optimize=False)
    return [keras_runtime.predict_logits(image, resize=False) for image in working_images]


@pytest.fixture(scope="module", params=list(ARTIFACTS))
def artifact(request, tiny, tmp_path_factory):
    format = request.param
    if format == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("tf2onnx")
    name, kind, fixed = ARTIFACTS[format]
    path = tmp_path_factory.mktemp(format) / name
    export_model(tiny, TINY, path, format=format, images=generated_images(1), min_agreement=0.9)
    return format, path, kind, fixed


def test_each_artifact_opens_as_its_runtime_with_the_contract(artifact):
    format, path, kind, fixed = artifact
    runtime = open_runtime(path, **({"crop_size": TINY.crop_size} if format == "compat" else {}))
    assert isinstance(runtime, kind) and isinstance(runtime, Runtime)
    assert runtime.contract == InputContract(TINY.crop_size, fixed=fixed)
    if format != "compat":  # a frozen graph does not keep the class names
        assert runtime.class_names == TINY.class_names


def test_each_runtime_gives_the_keras_logits_at_the_working_size(artifact, working_images,
                                                                reference):
    format, path, _, _ = artifact
    runtime = open_runtime(path, **({"crop_size": TINY.crop_size} if format == "compat" else {}))
    for image, expected in zip(working_images, reference):
        logits = runtime.predict_logits(image, resize=False)
        assert logits.shape == expected.shape == (*image.shape[:2], 3)
        # SavedModel and compat graphs give log-probabilities: compare the softmax
        np.testing.assert_allclose(contract_np.softmax(logits), contract_np.softmax(expected),
                                   atol=2e-3)
        labels = runtime.predict_labels(image, resize=False)
        assert labels.shape == image.shape[:2]
        assert np.mean(labels == expected.argmax(-1)) >= 0.99


def test_probabilities_come_back_at_the_images_size(artifact):
    format, path, _, _ = artifact
    runtime = open_runtime(path, **({"crop_size": TINY.crop_size} if format == "compat" else {}))
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 60, 3), dtype=np.uint8)
    probabilities = runtime.probabilities(images)
    assert probabilities.shape == (2, 40, 60, 3) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-4)


def test_open_runtime_refuses_what_no_runtime_opens(tmp_path):
    with pytest.raises(ValueError, match="not an artifact"):
        open_runtime(tmp_path / "weights.h5")


def test_litert_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        LiteRTRuntime(tmp_path / "missing.tflite")


def test_without_litert_the_interpreter_opener_says_how_to_install_it(monkeypatch, tmp_path):
    import sys

    from deeplab.runtimes.litert import LiteRTUnavailableError, open_interpreter

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    with pytest.raises(LiteRTUnavailableError, match="pip install ai-edge-litert"):
        open_interpreter(tmp_path / "model.tflite")
