"""Reading DeepLab ``.tflite`` files: weights mapped by the operator graph, architecture inferred,
parity with the interpreter running the same file (made here, and the official files in
../shared when present)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from conftest import shared_path
from weights_fixtures import LocalHTTPServer, mobilenet_v2_shapes, random_weights

from deeplab.config import PASCAL_VOC_CLASSES, ModelConfig
from deeplab.layers import resize_bilinear_align_corners
from deeplab.model import assign_original_weights, build_deeplab
from deeplab.weights import load_release, resolve_model
from deeplab.weights.registry import REGISTRY, TFLITE_RELEASES
from deeplab.weights.tflite_file import TFLiteError, read_tflite

SIZE = 97


def _run_file(path, network_input: np.ndarray) -> list[np.ndarray]:
    """Every output of the file for one prepared input, as LiteRT computes it."""
    from deeplab.runtimes.litert import open_interpreter

    interpreter = open_interpreter(path, num_threads=2)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], network_input.astype(detail["dtype"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def _file_labels(path, network_input: np.ndarray) -> np.ndarray:
    """The file's labels (argmax of its logits when it outputs those)."""
    outputs = _run_file(path, network_input)
    labels = [o for o in outputs if o.ndim == 3]
    return labels[0] if labels else np.argmax(outputs[0], axis=-1)


def _file_logits(path, network_input: np.ndarray) -> np.ndarray:
    """The stride-level logits output of a file written by this project's converter."""
    return next(o for o in _run_file(path, network_input) if o.ndim == 4)


def _labels(model, network_input: np.ndarray, size: int) -> np.ndarray:
    upsampled = resize_bilinear_align_corners(model(network_input), [size, size])
    return np.argmax(upsampled.numpy(), axis=-1)


def _source_model(config: ModelConfig, seed: int = 0):
    shapes = mobilenet_v2_shapes(config.depth_multiplier, config.num_classes,
                                 atrous_branches=len(config.atrous_rates),
                                 separable=config.aspp_with_separable_conv,
                                 image_pooling=config.image_pooling)
    model = build_deeplab(config)
    assign_original_weights(model, random_weights(shapes, seed))
    return model


def _write_tflite(tmp_path, model, precision: str, name: str = "model.tflite"):
    from deeplab.export.tflite import convert

    rng = np.random.default_rng(1)
    calibration = [(f"c{i}", rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
                   for i in range(4)]
    path = tmp_path / name
    path.write_bytes(convert(model, SIZE, precision, calibration))
    return path


SMALL = {
    "os8_pooling": ModelConfig("mobilenet_v2", 0.5, 3, 8, crop_size=SIZE),
    "os16_separable_aspp": ModelConfig("mobilenet_v2", 0.5, 3, 16, atrous_rates=(2, 3),
                                       crop_size=SIZE),
    "os16_plain_aspp_no_pooling": ModelConfig("mobilenet_v2", 0.5, 3, 16, atrous_rates=(2,),
                                              aspp_with_separable_conv=False,
                                              image_pooling=False, crop_size=SIZE),
}


@pytest.mark.parametrize("name", SMALL)
def test_float_file_gives_back_the_architecture_and_the_weights(tmp_path, name, rng):
    config = SMALL[name]
    model = _source_model(config)
    path = _write_tflite(tmp_path, model, "float32")

    release = load_release(path)

    assert release.origin == "tflite"
    expected = dataclasses.replace(config, class_names=release.config.class_names)
    assert release.config == expected
    assert release.input_convention.describe() == "float32 in [-1, 1]"
    rebuilt = build_deeplab(release.config)
    assign_original_weights(rebuilt, release.weights)
    image = rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    reference = model(image).numpy()
    np.testing.assert_allclose(rebuilt(image).numpy(), reference,
                               atol=1e-4 * np.abs(reference).max())
    file_logits = _file_logits(path, image)
    np.testing.assert_allclose(rebuilt(image).numpy(), file_logits,
                               atol=1e-4 * np.abs(file_logits).max())


@pytest.mark.parametrize("precision", ["float16", "int8"])
def test_quantised_weights_are_dequantised_with_their_own_scales(tmp_path, precision, rng):
    config = SMALL["os8_pooling"]
    model = _source_model(config)
    path = _write_tflite(tmp_path, model, precision)

    network = read_tflite(path)

    assert network.weight_precision == ("float16" if precision == "float16" else "int8")
    rebuilt = build_deeplab(load_release(path).config)
    assign_original_weights(rebuilt, network.weights)
    image = rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    reference = model(image).numpy()
    error = np.abs(rebuilt(image).numpy() - reference).max() / np.abs(reference).max()
    # float16 weights: rounding only; int8: one quantisation step per weight, never a
    # mis-mapped tensor (which gives errors of the order of the logits themselves).
    assert error < (1e-2 if precision == "float16" else 0.2)
    correlation = np.corrcoef(rebuilt(image).numpy().ravel(), reference.ravel())[0, 1]
    assert correlation > 0.99


def test_batch_norm_is_held_at_identity_around_the_folded_bias(tmp_path):
    model = _source_model(SMALL["os8_pooling"])
    weights = read_tflite(_write_tflite(tmp_path, model, "float32")).weights

    scope = "MobilenetV2/expanded_conv_3/expand/BatchNorm"
    assert np.all(weights[f"{scope}/gamma"] == 1) and np.all(weights[f"{scope}/moving_mean"] == 0)
    np.testing.assert_allclose(weights[f"{scope}/moving_variance"], 1 - 1e-3)
    np.testing.assert_allclose(weights["aspp0/BatchNorm/moving_variance"], 1 - 1e-5)


def test_resolve_model_reads_a_tflite_path(tmp_path, rng):
    model = _source_model(SMALL["os8_pooling"])
    path = _write_tflite(tmp_path, model, "float32")

    rebuilt, config = resolve_model(path)

    image = rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    reference = model(image).numpy()
    np.testing.assert_allclose(rebuilt(image).numpy(), reference,
                               atol=1e-4 * np.abs(reference).max())
    assert config.crop_size == SIZE


def test_output_stride_override_rescales_the_aspp_rates(tmp_path):
    model = _source_model(SMALL["os16_separable_aspp"])
    release = load_release(_write_tflite(tmp_path, model, "float32"), output_stride=8)
    assert release.config.output_stride == 8
    assert release.config.atrous_rates == (4, 6)


def test_two_class_person_head_equals_softmax_over_background_and_person(tmp_path, rng):
    import keras

    from deeplab.training.head_init import initialize_from

    config = ModelConfig("mobilenet_v2", 0.5, 21, 8, crop_size=SIZE,
                         class_names=PASCAL_VOC_CLASSES)
    pascal_file = _write_tflite(tmp_path, _source_model(config), "float32")
    pascal, pascal_config = resolve_model(pascal_file)
    person = build_deeplab(pascal_config.replace(num_classes=2,
                                                 class_names=("background", "person")))
    initialize_from(person, pascal, ("background", "person"), pascal_config.class_names)

    image = rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    pascal_logits = pascal(image).numpy()
    expected = keras.ops.softmax(pascal_logits[..., [0, 15]], axis=-1).numpy()[..., 1]
    got = keras.ops.softmax(person(image), axis=-1).numpy()[..., 1]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_truncated_file_is_refused_in_one_line(tmp_path):
    path = _write_tflite(tmp_path, _source_model(SMALL["os8_pooling"]), "float32")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])

    with pytest.raises(TFLiteError) as error:
        load_release(cut)
    assert "\n" not in str(error.value) and "cut.tflite" in str(error.value)


def test_a_file_that_is_not_tflite_is_refused(tmp_path):
    path = tmp_path / "photo.tflite"
    path.write_bytes(b"\xff\xd8\xff\xe0 not a model at all" * 10)
    with pytest.raises(TFLiteError, match="not a TFLite file"):
        read_tflite(path)


def test_a_tflite_that_is_not_deeplab_is_refused_naming_what_was_expected(tmp_path):
    import keras
    import tensorflow as tf

    inputs = keras.Input((32, 32, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, x))
    path = tmp_path / "selfie_like.tflite"
    path.write_bytes(converter.convert())
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(TFLiteError, match="DeepLab MobileNetV2 .tflite was expected"):
        load_release(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_registry_lists_the_three_public_tflite_files():
    names = {entry.name for entry in TFLITE_RELEASES}
    assert names == {"coral_deeplabv3_mnv2_pascal_quant", "coral_deeplabv3_mnv2_dm05_pascal_quant",
                     "tflite_deeplabv3_257_mv_gpu"}
    for entry in TFLITE_RELEASES:
        assert REGISTRY[entry.name] is entry
        assert entry.url.startswith("https://") and entry.url.endswith(entry.archive)
        assert entry.class_names == PASCAL_VOC_CLASSES
    assert REGISTRY["coral_deeplabv3_mnv2_pascal_quant"].results[0].miou == 74.26
    assert REGISTRY["tflite_deeplabv3_257_mv_gpu"].crop_size == 257


def test_registry_tflite_entry_downloads_on_first_use(tmp_path, monkeypatch):
    model = _source_model(ModelConfig("mobilenet_v2", 0.5, 21, 8, crop_size=SIZE))
    content = _write_tflite(tmp_path, model, "float32").read_bytes()
    monkeypatch.setenv("DEEPLAB_CACHE_DIR", str(tmp_path / "cache"))
    entry = REGISTRY["tflite_deeplabv3_257_mv_gpu"]
    with LocalHTTPServer() as server:
        server.files["/" + entry.archive] = content
        local = dataclasses.replace(entry, download_url=server.url("/" + entry.archive))
        release = load_release(local, progress=False)
    assert release.origin == "tflite"
    assert release.config.class_names == PASCAL_VOC_CLASSES
    assert (tmp_path / "cache" / entry.archive).read_bytes() == content


# --- the official files in ../shared -------------------------------------------------------------

OFFICIAL = {
    "coral_deeplabv3_mnv2_pascal_quant": (
        ("models", "anchors", "coral_deeplab", "deeplabv3_mnv2_pascal_quant.tflite"), 1.0, 16, 0.97),
    "coral_deeplabv3_mnv2_dm05_pascal_quant": (
        ("models", "anchors", "coral_deeplab", "deeplabv3_mnv2_dm05_pascal_quant.tflite"), 0.5, 16,
        0.97),
    "tflite_deeplabv3_257_mv_gpu": (
        ("models", "anchors", "tflite_deeplabv3_257", "deeplabv3_257_mv_gpu.tflite"), 0.5, 8,
        0.999),
}


def _square_photos(size: int, count: int = 3) -> list[np.ndarray]:
    folder = shared_path("data", "person_dev", "images")
    photos = []
    for path in sorted(folder.iterdir())[:: 58 // count][:count]:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        photos.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    return photos


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_file_labels_match_its_interpreter(name):
    parts, depth_multiplier, output_stride, min_agreement = OFFICIAL[name]
    path = shared_path(*parts)
    model, config = resolve_model(path)
    release = load_release(path)
    assert (config.depth_multiplier, config.output_stride, config.num_classes) == (
        depth_multiplier, output_stride, 21)
    assert config.class_names == PASCAL_VOC_CLASSES
    size = config.crop_size
    for photo in _square_photos(size):
        convention = release.input_convention
        file_input = photo[np.newaxis] if convention.scale is not None else (
            convention.to_real(photo)[np.newaxis])
        reference = _file_labels(path, file_input)
        ours = _labels(model, convention.to_real(photo)[np.newaxis], size)
        assert np.mean(ours == reference) >= min_agreement


# --- every entry point ----------------------------------------------------------------------------

def _official_like_file(tmp_path):
    """A float DeepLab file whose only output is full-size logits, as the TFLite example's."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    model = _source_model(ModelConfig("mobilenet_v2", 0.5, 21, 8, crop_size=SIZE))
    serve = tf.function(lambda image: resize_bilinear_align_corners(model(image), [SIZE, SIZE]),
                        input_signature=[tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32)])
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    path = tmp_path / "deeplabv3_257_mv_gpu.tflite"
    path.write_bytes(converter.convert())
    return model, path


def test_portrait_mode_runs_an_official_style_file_on_both_backends(tmp_path, monkeypatch, rng):
    from deeplab.portrait.models import load_probability_model
    from deeplab.runtimes import Segmenter

    monkeypatch.setenv("DEEPLAB_CACHE_DIR", str(tmp_path / "cache"))
    model, path = _official_like_file(tmp_path)
    photo = rng.integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)

    keras_backend = load_probability_model(path, backend="tensorflow", input_size=SIZE)
    litert_backend = load_probability_model(path, backend="litert", input_size=SIZE)

    assert isinstance(keras_backend.runtime, Segmenter)
    assert keras_backend.class_names == PASCAL_VOC_CLASSES
    first = keras_backend.probabilities(photo).argmax(-1)
    second = litert_backend.probabilities(photo).argmax(-1)
    assert np.mean(first == second) > 0.99
