"""SavedModel export: self-contained loading, signatures, metadata, parity with the original graph,
atomic writing and the self-check that deletes a failing artifact."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import PROJECT_ROOT, shared_path

FIXTURE_ARCHIVE = ("fixtures", "official", "deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz")
REFERENCE_NAMES = ("astronaut", "image1", "image2", "image3", "vikram10")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The fixture release exported once through the CLI entry point."""
    archive = shared_path(*FIXTURE_ARCHIVE)
    output = tmp_path_factory.mktemp("export") / "fixture_saved_model"
    sys.path.insert(0, str(PROJECT_ROOT))
    import export as export_cli

    # one check image: parity with the original graph is tested below on the reference images
    assert export_cli.main(["--weights", str(archive), "--output", str(output),
                            "--samples", "1"]) == 0
    return output


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported))


def test_loads_and_serves_without_deeplab(exported):
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        model = tf.saved_model.load({str(exported)!r})
        images = np.random.default_rng(0).integers(0, 256, (2, 97, 150, 3), dtype=np.uint8)
        out = model.signatures["serving_default"](images=tf.constant(images))
        png = tf.io.encode_png(images[0])
        one = model.signatures["serving_bytes"](image_bytes=png)
        batch = model.signatures["serving_bytes"](image_bytes=tf.stack([png, png]))
        meta = model.signatures["metadata"]()
        print(json.dumps({{
            "deeplab_imported": any(m == "deeplab" or m.startswith("deeplab.") for m in sys.modules),
            "labels": [out["labels"].dtype.name, out["labels"].shape.as_list()],
            "probabilities": [out["probabilities"].dtype.name, out["probabilities"].shape.as_list()],
            "probability_sums": float(np.abs(out["probabilities"].numpy().sum(-1) - 1).max()),
            "bytes_equal": bool(np.array_equal(one["labels"].numpy()[0], out["labels"].numpy()[0])),
            "bytes_batch": batch["labels"].shape.as_list(),
            "class_names": [n.decode() for n in meta["class_names"].numpy()],
            "crop_size": int(meta["crop_size"].numpy()),
            "pad_value": float(model.pad_value.numpy()),
            "asset": open(model.metadata_file.asset_path.numpy().decode()).read(),
        }}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd="/", env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["deeplab_imported"] is False
    assert report["labels"] == ["int32", [2, 97, 150]]
    assert report["probabilities"] == ["float32", [2, 97, 150, 21]]
    assert report["probability_sums"] < 1e-4
    assert report["bytes_equal"] is True
    assert report["bytes_batch"] == [2, 97, 150]
    assert report["class_names"][15] == "person" and len(report["class_names"]) == 21
    assert report["crop_size"] == 513 and report["pad_value"] == 127.5
    asset = json.loads(report["asset"])
    assert asset["preprocessing"]["crop_size"] == 513
    assert asset["class_names"] == report["class_names"]


def _reference_probabilities(logits_os: np.ndarray, height: int, width: int) -> np.ndarray:
    """softmax of the original logits upsampled (align corners) to the padded 513 size, cropped."""
    padded = max(513, height), max(513, width)
    upsampled = tf.compat.v1.image.resize_bilinear(logits_os, padded, align_corners=True)
    return tf.nn.softmax(upsampled[:, :height, :width], axis=-1).numpy()


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_parity_with_original_graph(loaded, name):
    reference = shared_path("fixtures", "official", "reference")
    image = np.load(reference / f"{name}_input.npy")
    expected_labels = np.load(reference / f"{name}_seg.npy")
    logits_os = np.load(reference / f"{name}_logits_os.npy")
    out = loaded.signatures["serving_default"](images=tf.constant(image))
    labels, probabilities = out["labels"].numpy(), out["probabilities"].numpy()
    assert labels.shape == expected_labels.shape
    assert np.mean(labels == expected_labels) >= 0.999
    expected = _reference_probabilities(logits_os, *image.shape[1:3])
    assert np.abs(probabilities - expected).max() <= 1e-3


def test_serving_bytes_gives_the_labels_of_the_pixels_opencv_decodes(loaded):
    """A JPEG file (here stored sideways: EXIF orientation 6) sent as bytes is segmented as the
    pixels cv2.imdecode shows, upright and decoded with the same IDCT."""
    import cv2
    from test_mistakes import jpeg_with_orientation

    from deeplab.export.verify import generated_images

    image = generated_images(1, seed=4)[0][1]
    data = jpeg_with_orientation(image, 6, "II")
    opencv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    by_bytes = loaded.signatures["serving_bytes"](image_bytes=tf.constant(data))["labels"]
    direct = loaded.signatures["serving_default"](
        images=tf.constant(np.ascontiguousarray(opencv)[np.newaxis]))["labels"]
    assert by_bytes.shape == direct.shape == (1, image.shape[1], image.shape[0])
    assert np.mean(by_bytes.numpy() == direct.numpy()) >= 0.9999


def test_bad_bytes_give_a_clear_error(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError):
        loaded.signatures["serving_bytes"](image_bytes=tf.constant(b"not an image"))


def test_mixed_sizes_in_one_bytes_batch_are_refused(loaded):
    small = tf.io.encode_png(np.zeros((10, 12, 3), np.uint8))
    large = tf.io.encode_png(np.zeros((11, 12, 3), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        loaded.signatures["serving_bytes"](image_bytes=tf.stack([small, large]))


def test_existing_output_is_not_overwritten(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT))
    import export as export_cli

    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert export_cli.main(["--weights", "unused", "--output", str(target)]) == 2  # refused option
    assert (target / "keep.txt").read_text() == "mine"


def test_unknown_source_fails_cleanly(tmp_path, capsys):
    sys.path.insert(0, str(PROJECT_ROOT))
    import export as export_cli

    assert export_cli.main(["--weights", str(tmp_path / "missing.tar.gz"),
                            "--output", str(tmp_path / "out")]) == 1
    assert "missing.tar.gz" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_failed_check_deletes_the_artifact(tmp_path):
    from deeplab.config import ModelConfig
    from deeplab.export import VerificationError, export_model
    from deeplab.export.verify import generated_images
    from deeplab.model import build_deeplab

    config = ModelConfig("mobilenet_v2", 0.5, 2, 16, crop_size=129)
    model = build_deeplab(config)
    target = tmp_path / "never"
    with pytest.raises(VerificationError, match="deleted"):
        # agreement can never exceed 100%: the check must fail and clean up
        export_model(model, config, target, format="saved_model", images=generated_images(1),
                     min_agreement=1.01)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
