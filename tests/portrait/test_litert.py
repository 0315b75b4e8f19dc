"""The LiteRT path of portrait mode: numpy pre/post-processing equal to the TensorFlow one, the
conversion cache, agreement with the Keras model, a TensorFlow-free CLI, and the real model end
to end through ``infer.py`` (LiteRT and SavedModel weights)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import PROJECT_ROOT, shared_path
from deeplab import contract_np
from deeplab.portrait import litert
from deeplab.runtimes.litert import LiteRTRuntime
from deeplab.portrait.io import read_photo, write_image
from deeplab.portrait.render import working_image

REAL_MODEL = ("models", "portrait_mnv2_dm05", "frozen_inference_graph.pb")
PERSON_DEV = ("data", "person_dev")


# -- pre/post-processing ------------------------------------------------------------------------
def test_network_input_pads_with_exact_zero_and_scales_like_the_graph(rng):
    image = rng.integers(0, 256, (40, 65, 3), dtype=np.uint8)
    resized = contract_np.resize_to_crop(image[None], 65)
    prepared, valid = contract_np.pad_and_normalize(resized, 65), resized.shape[1:3]
    assert prepared.shape == (1, 65, 65, 3) and prepared.dtype == np.float32
    assert valid == (40, 65)
    assert np.all(prepared[0, 40:] == 0.0)
    expected = image.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    assert np.array_equal(prepared[0, :40], expected)


def test_network_input_matches_tensorflow_preprocessing(rng):
    tf = pytest.importorskip("tensorflow")
    from deeplab.contract_tf import pad_and_normalize, resize_to_crop

    for shape in [(97, 150, 3), (33, 20, 3)]:  # downscaled and upscaled to the crop
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        ours_resized = contract_np.resize_to_crop(image[None], 65)
        ours, valid = contract_np.pad_and_normalize(ours_resized, 65), ours_resized.shape[1:3]
        resized = resize_to_crop(tf.constant(image[None]), 65)
        theirs = pad_and_normalize(resized, 65).numpy()
        assert valid == tuple(resized.shape[1:3])
        # PIL's and TensorFlow's antialiased bilinear filters round some pixels differently
        # (random noise is the worst case): never by more than one code value.
        level = 2 / 255
        assert np.abs(ours - theirs).max() <= level + 1e-6
        assert np.abs(ours - theirs).mean() < 0.25 * level


def test_upsample_logits_is_tensorflows_align_corners_resize(rng):
    tf = pytest.importorskip("tensorflow")
    from deeplab.layers import resize_bilinear_align_corners

    logits = rng.normal(size=(1, 17, 17, 5)).astype(np.float32)
    expected = resize_bilinear_align_corners(tf.constant(logits), [129, 129]).numpy()[0]
    ours = contract_np.upsample_and_crop(logits, (129, 129), (100, 77))[0]
    assert np.array_equal(ours, expected[:100, :77])


# -- the real model, converted once for this module ---------------------------------------------
@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A private conversion cache (also handed to the CLI subprocesses)."""
    folder = tmp_path_factory.mktemp("deeplab_cache")
    previous = os.environ.get("DEEPLAB_CACHE_DIR")
    os.environ["DEEPLAB_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("DEEPLAB_CACHE_DIR", None)
    else:
        os.environ["DEEPLAB_CACHE_DIR"] = previous


@pytest.fixture(scope="module")
def real_model(cache_dir) -> Path:
    return shared_path(*REAL_MODEL)


@pytest.fixture(scope="module")
def real_litert(real_model, cache_dir):
    """The real model through the cache at 513 px (converted here, once)."""
    return litert.load_litert_model(real_model, crop_size=513)


def test_cache_holds_network_and_sidecar(real_litert, real_model, cache_dir):
    files = sorted(p.name for p in (cache_dir / "litert").iterdir())
    key = litert.cache_key(real_model, 513, "float32")
    assert f"{key}.tflite" in files and f"{key}.json" in files
    assert not [name for name in files if name.endswith(".part")]
    sidecar = json.loads((cache_dir / "litert" / f"{key}.json").read_text())
    assert sidecar["class_names"] == ["background", "person"] and sidecar["crop_size"] == 513
    assert real_litert.class_names == ("background", "person")
    assert real_litert.crop_size == 513


def test_cache_hit_does_not_convert_again(real_litert, real_model, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cached network must not be converted again")

    monkeypatch.setattr(litert, "convert_source", refuse)
    again = litert.load_litert_model(real_model, crop_size=513)
    assert again.path == real_litert.path


def test_damaged_cache_file_is_rebuilt_not_reported_forever(real_litert, real_model,
                                                             monkeypatch, logged):
    good = real_litert.path.read_bytes()
    real_litert.path.write_bytes(good[: len(good) // 3])  # a writer killed half-way
    calls = []

    def convert(source, crop_size, precision="float32"):
        calls.append(crop_size)
        return good, {"class_names": ["background", "person"], "crop_size": crop_size}

    monkeypatch.setattr(litert, "convert_source", convert)
    again = litert.load_litert_model(real_model, crop_size=513)
    assert calls == [513] and again.path.read_bytes() == good
    assert again.class_names == ("background", "person")
    assert logged[0] == f"the cached network {again.path} is damaged; converting again"
    assert logged[1].startswith(f"converting {real_model} to a float32 TFLite network at 513 px")


def test_cache_key_follows_content_crop_and_precision(tmp_path, real_model, cache_dir):
    key = litert.cache_key(real_model, 513, "float32")
    assert litert.cache_key(real_model, 257, "float32") != key
    assert litert.cache_key(real_model, 513, "float16") != key
    copy = tmp_path / "copy.pb"
    copy.write_bytes(real_model.read_bytes())
    assert litert.cache_key(copy, 513, "float32") == key  # same bytes, same network
    changed = tmp_path / "changed.pb"
    changed.write_bytes(real_model.read_bytes() + b"\0")
    assert litert.cache_key(changed, 513, "float32") != key


def test_litert_agrees_with_keras_segmenter_on_person_dev(real_litert, real_model):
    """>= 99.9% equal labels and close probabilities against the TensorFlow path."""
    pytest.importorskip("tensorflow")
    from deeplab.runtimes import Segmenter

    segmenter = Segmenter.from_source(str(real_model))
    images = sorted((shared_path(*PERSON_DEV) / "images").iterdir())[:10]
    equal = total = 0
    worst = 0.0
    for path in images:
        working = working_image(read_photo(path).rgb, 513).image
        expected = segmenter.predict(working).probabilities
        ours = real_litert.probabilities(working[None])[0]
        assert ours.shape == expected.shape
        equal += int((ours.argmax(-1) == expected.argmax(-1)).sum())
        total += ours.shape[0] * ours.shape[1]
        worst = max(worst, float(np.abs(ours - expected).mean()))
    assert equal / total >= 0.999
    assert worst < 1e-3


def test_tflite_file_with_sidecar_loads_directly(real_litert, tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(real_litert.path.read_bytes())
    (tmp_path / "model.json").write_text(json.dumps({"class_names": ["bg", "human"]}))
    model = litert.load_litert_model(target)
    assert model.class_names == ("bg", "human") and model.crop_size == 513
    assert model.for_input_size(257) is model  # a bare file keeps its fixed size


def test_not_a_tflite_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="bad.tflite"):
        LiteRTRuntime(bad)


# -- the CLI: TensorFlow-free start and the real model end to end -------------------------------
def _run_cli(args: list[str], cache_dir: Path) -> tuple[dict, list[str]]:
    """Run infer.py in a fresh interpreter: (exit code and whether TF was imported, the lines
    it wrote to stderr)."""
    script = textwrap.dedent(f"""
        import json, runpy, sys
        sys.argv = ["infer.py"] + {args!r}
        try:
            runpy.run_path({str(PROJECT_ROOT / "infer.py")!r}, run_name="__main__")
            code = 0
        except SystemExit as exit:
            code = exit.code
        print(json.dumps({{"code": code, "tensorflow": "tensorflow" in sys.modules,
                           "keras": "keras" in sys.modules}}))
    """)
    env = dict(os.environ, DEEPLAB_CACHE_DIR=str(cache_dir), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr.splitlines()


def _person_dev_pair(tmp_path: Path, count: int = 2) -> tuple[list[Path], Path]:
    folder = shared_path(*PERSON_DEV)
    images = sorted((folder / "images").iterdir())[:count]
    return images, folder / "masks"


def _mask_for(masks: Path, stem: str, shape) -> np.ndarray:
    path = next(iter(sorted(masks.glob(f"{stem}.*"))))
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 127


def test_cli_with_tflite_weights_never_imports_tensorflow(real_litert, cache_dir, tmp_path):
    photo = (np.random.default_rng(0).integers(0, 256, (120, 160, 3))).astype(np.uint8)
    source = write_image(tmp_path / "photo.jpg", photo)
    report, stderr = _run_cli([str(source), "--output", str(tmp_path / "out"), "--weights",
                               str(real_litert.path), "--quiet"], cache_dir)
    assert report == {"code": 0, "tensorflow": False, "keras": False}
    assert read_photo(tmp_path / "out" / "photo.jpg").rgb.shape == photo.shape
    # only our own summary: no XNNPACK, absl, oneDNN or CUDA lines
    assert stderr == ["portrait: 1 written, 0 skipped, 0 failed"], stderr


def test_cli_real_model_on_person_dev_from_the_cache(real_litert, real_model, cache_dir,
                                                     tmp_path):
    """A cached conversion: the frozen graph as --weights runs without TensorFlow, and the
    mattes it writes find the people of person_dev."""
    images, masks = _person_dev_pair(tmp_path)
    out = tmp_path / "out"
    report, _ = _run_cli([str(p) for p in images] + ["--output", str(out), "--weights",
                                                     str(real_model), "--save-matte", "--quiet"],
                         cache_dir)
    assert report == {"code": 0, "tensorflow": False, "keras": False}
    for path in images:
        photo = read_photo(path).rgb
        result = read_photo(out / f"{path.stem}.jpg").rgb
        assert result.shape == photo.shape
        matte = cv2.imread(str(out / f"{path.stem}_matte.png"), cv2.IMREAD_GRAYSCALE)
        mask = _mask_for(masks, path.stem, photo.shape)
        predicted = matte >= 128
        iou = (predicted & mask).sum() / max((predicted | mask).sum(), 1)
        assert iou > 0.5, f"{path.name}: IoU {iou:.2f}"
        # The blurred background differs from the photo; the person is kept.
        outside = ~cv2.dilate(mask.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
        assert np.abs(result.astype(int) - photo.astype(int))[outside].mean() > 1.0


def test_cli_real_model_saved_model_weights(real_model, tmp_path, cache_dir):
    """--weights <exported SavedModel folder>, end to end (TensorFlow backend)."""
    pytest.importorskip("tensorflow")
    from deeplab.export import export

    saved = tmp_path / "saved_model"
    try:
        export(str(real_model), saved, format="saved_model", samples=1)
    except Exception as error:  # the exporter's own tests cover its failures
        pytest.skip(f"deeplab.export cannot export the real model here: {error}")
    images, masks = _person_dev_pair(tmp_path, 1)
    out = tmp_path / "out"
    report, _ = _run_cli([str(images[0]), "--output", str(out), "--weights", str(saved),
                          "--save-matte", "--quiet"], cache_dir)
    assert report["code"] == 0
    photo = read_photo(images[0]).rgb
    matte = cv2.imread(str(out / f"{images[0].stem}_matte.png"), cv2.IMREAD_GRAYSCALE)
    mask = _mask_for(masks, images[0].stem, photo.shape)
    predicted = matte >= 128
    assert (predicted & mask).sum() / max((predicted | mask).sum(), 1) > 0.5
