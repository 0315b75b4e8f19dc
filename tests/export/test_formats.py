"""Export formats and inference rewrites on a tiny randomly initialised model (no ../shared)."""

from __future__ import annotations

import json
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.export import ExportError, export
from deeplab.rewrites import (fold_batch_norm, foldable_pairs, optimize_for_inference,
                              simplify_head, with_precision)
from deeplab.export.verify import atomic_output, generated_images
from deeplab.model import build_deeplab, save_model

TINY = ModelConfig("mobilenet_v2", 0.5, 3, 16, crop_size=97)


def _randomize_batch_norm(model: keras.Model, rng: np.random.Generator) -> None:
    """Non-trivial statistics so folding has something to fold (fresh BN is the identity)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels))
            layer.beta.assign(rng.normal(0, 0.2, channels))
            layer.moving_mean.assign(rng.normal(0, 0.2, channels))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, channels))


@pytest.fixture(scope="module")
def tiny_model():
    model = build_deeplab(TINY)
    _randomize_batch_norm(model, np.random.default_rng(1))
    return model


@pytest.fixture(scope="module")
def tiny_keras_file(tiny_model, tmp_path_factory):
    return save_model(tiny_model, TINY, tmp_path_factory.mktemp("tiny") / "tiny.keras")


def test_fold_batch_norm_keeps_the_outputs(tiny_model):
    folded = fold_batch_norm(tiny_model)
    batch_norms = [l for l in tiny_model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(foldable_pairs(tiny_model)) == len(batch_norms)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in folded.layers)
    depthwise = [l for l in folded.layers if isinstance(l, keras.layers.DepthwiseConv2D)]
    assert depthwise and all(l.use_bias for l in depthwise)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 97, 129, 3)).astype(np.float32)
    expected = tiny_model(images, training=False).numpy()
    got = folded(images, training=False).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
    # the source model is untouched
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in tiny_model.layers)


def test_with_precision_computes_low_and_returns_float32(tiny_model):
    low = with_precision(tiny_model, "bfloat16")
    assert low.get_layer("MobilenetV2.Conv").compute_dtype == "bfloat16"
    images = np.random.default_rng(0).uniform(-1, 1, (1, 65, 65, 3)).astype(np.float32)
    out = low(images, training=False)
    assert out.dtype == tf.float32
    assert with_precision(tiny_model, "float32") is tiny_model
    with pytest.raises(ValueError, match="precision"):
        with_precision(tiny_model, "int4")


def test_keras_export_round_trip(tiny_keras_file, tmp_path):
    result = export(tiny_keras_file, tmp_path / "copy.keras", format="keras", samples=1)
    assert result.agreement.fraction == 1.0
    assert (tmp_path / "copy.keras").is_file()


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_tflite_export_has_a_sidecar_and_agrees(tiny_keras_file, tmp_path, precision):
    from deeplab.runtimes import LiteRTRuntime

    output = tmp_path / f"tiny_{precision}.tflite"
    result = export(tiny_keras_file, output, format="tflite", precision=precision, samples=2,
                    min_agreement=0.9)
    assert result.agreement.pixels > 0
    runtime = LiteRTRuntime(output)
    assert runtime.crop_size == TINY.crop_size
    image = generated_images(1)[0][1]
    labels = runtime.predict_labels(image)
    assert labels.dtype == np.int32 and max(labels.shape) == TINY.crop_size
    sidecar = json.loads(output.with_suffix(".json").read_text())
    assert sidecar["class_names"] == list(TINY.class_names)
    assert sidecar["tflite"]["precision"] == precision


def test_int8_needs_calibration_images(tiny_keras_file, tmp_path):
    with pytest.raises(ExportError, match="calibration"):
        export(tiny_keras_file, tmp_path / "x.tflite", format="tflite", precision="int8")
    assert not (tmp_path / "x.tflite").exists()


def test_int8_export_with_calibration_folder(tiny_keras_file, tmp_path):
    import cv2

    folder = tmp_path / "calibration"
    folder.mkdir()
    for name, image in generated_images(3, seed=5):
        cv2.imwrite(str(folder / f"{name}.png"), image[..., ::-1])
    output = tmp_path / "tiny_int8.tflite"
    export(tiny_keras_file, output, format="tflite", precision="int8",
           calibration_dir=folder, samples=1, min_agreement=0.0)
    assert output.stat().st_size > 0


def test_precision_must_fit_the_format(tiny_keras_file, tmp_path):
    with pytest.raises(ExportError, match="not available"):
        export(tiny_keras_file, tmp_path / "out", format="saved_model", precision="int8")
    with pytest.raises(ExportError, match="unknown format"):
        export(tiny_keras_file, tmp_path / "out", format="coreml")


def test_compat_archive_is_release_shaped(tiny_keras_file, tmp_path):
    from deeplab.runtimes import FrozenGraphRuntime

    output = tmp_path / "tiny_release.tar.gz"
    export(tiny_keras_file, output, format="compat", samples=2)
    with tarfile.open(output) as archive:
        assert archive.getnames() == ["tiny_release/frozen_inference_graph.pb"]
    image = generated_images(1)[0][1][:60, :97]
    with FrozenGraphRuntime(output, crop_size=TINY.crop_size) as graph:
        labels = graph.run(image)
        operations = graph.graph.get_operations()
    assert labels.dtype == np.int64 and labels.shape == (60, 97)
    assert {"ImageTensor", "SemanticPredictions"} <= {op.name for op in operations}
    # frozen: the input is the only placeholder and no variable is left
    assert [op.name for op in operations if op.type == "Placeholder"] == ["ImageTensor"]
    assert not {op.type for op in operations} & {"VarHandleOp", "ReadVariableOp", "VariableV2"}


def test_compat_needs_a_tar_gz_name(tiny_keras_file, tmp_path):
    with pytest.raises(ValueError, match="tar.gz"):
        export(tiny_keras_file, tmp_path / "graph.pb", format="compat", samples=1)
    assert list(tmp_path.iterdir()) == []


def test_onnx_export_or_clear_error(tiny_keras_file, tmp_path):
    output = tmp_path / "tiny.onnx"
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError:
        with pytest.raises(ExportError, match="tf2onnx"):
            export(tiny_keras_file, output, format="onnx")
        return
    result = export(tiny_keras_file, output, format="onnx", samples=1)
    assert result.agreement.fraction >= 0.999 and output.is_file()


def test_atomic_output_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(target, directory=False, overwrite=True) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("check failed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]
    with atomic_output(target, directory=False, overwrite=True) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_atomic_output_replaces_a_directory(tmp_path):
    target = tmp_path / "saved"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(ExportError, match="exists"):
        with atomic_output(target, directory=True):
            pass
    with atomic_output(target, directory=True, overwrite=True) as temporary:
        (temporary / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


def _close(got, expected, tolerance=1e-4):
    return np.abs(got - expected).max() <= tolerance * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("config", [
    ModelConfig("mobilenet_v2", 0.5, 3, 8, crop_size=97),  # projection merged into aspp0
    ModelConfig("mobilenet_v2", 0.5, 3, 16, atrous_rates=(6, 12, 18), decoder_output_stride=4,
                crop_size=97),  # atrous branches + decoder: only the image-pooling bias
], ids=["mnv2-os8", "mnv2-aspp-decoder"])
def test_optimize_for_inference_keeps_the_outputs(config):
    from deeplab.layers import NativeDilatedDepthwiseConv2D

    model = build_deeplab(config)
    _randomize_batch_norm(model, np.random.default_rng(2))
    for layer in model.layers:  # non-zero biases everywhere, so the bias algebra is exercised
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            layer.bias.assign(np.random.default_rng(3).normal(0, 0.3, layer.bias.shape))
    optimized = optimize_for_inference(model, native_kernels=True)
    names = {layer.name for layer in optimized.layers}
    assert "concat_projection.image_pooling" in names
    assert optimized.get_layer("concat_projection").kernel.shape[2] == \
        model.get_layer("concat_projection").kernel.shape[2] - 256
    merged = config.atrous_rates == ()
    aspp0_inputs = optimized.get_layer("aspp0").kernel.shape[2]
    assert (aspp0_inputs != model.get_layer("aspp0").kernel.shape[2]) == merged
    dilated = [layer for layer in optimized.layers
               if isinstance(layer, keras.layers.DepthwiseConv2D) and max(layer.dilation_rate) > 1]
    assert dilated and all(isinstance(layer, NativeDilatedDepthwiseConv2D) for layer in dilated)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 97, 129, 3)).astype(np.float32)
    expected = model(images, training=False).numpy()
    assert _close(optimized(images, training=False).numpy(), expected)
    # the rewrites leave the source model alone and are skipped when they cannot apply
    assert "concat_projection.image_pooling" not in {layer.name for layer in model.layers}
    assert optimize_for_inference(model, fold=False) is model
    assert simplify_head(model) is model  # batch norm not folded: nothing to simplify


def test_simplify_head_without_image_pooling_merges_only():
    config = ModelConfig("mobilenet_v2", 0.5, 3, 16, image_pooling=False, crop_size=97)
    model = build_deeplab(config)
    _randomize_batch_norm(model, np.random.default_rng(4))
    folded = fold_batch_norm(model)
    simplified = simplify_head(folded)
    assert "concat_projection.image_pooling" not in {layer.name for layer in simplified.layers}
    images = np.random.default_rng(0).uniform(-1, 1, (1, 97, 97, 3)).astype(np.float32)
    assert _close(simplified(images).numpy(), model(images, training=False).numpy())
