"""Exports of the real trained portrait model (MobileNetV2 depth 0.5, 2 classes) on person_dev,
with the original frozen graph run through tf.compat.v1 as the oracle."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf
from conftest import shared_path

from deeplab.contract_tf import resize_to_crop
from deeplab.image_files import read_mask, read_rgb
from deeplab.runtimes import FrozenGraphRuntime, LiteRTRuntime
from deeplab.training.metrics import SegmentationMetrics

PORTRAIT_GRAPH = ("models", "portrait_mnv2_dm05", "frozen_inference_graph.pb")


@pytest.fixture(scope="module")
def person_dev():
    """(name, image resized so its longer side is 513, person mask, oracle labels) per photo."""
    graph_path = shared_path(*PORTRAIT_GRAPH)
    folder = shared_path("data", "person_dev")
    samples = []
    with FrozenGraphRuntime(graph_path) as oracle:
        for image_path in sorted((folder / "images").iterdir()):
            image = resize_to_crop(read_rgb(image_path)[np.newaxis], 513).numpy()[0]
            mask = read_mask(folder / "masks" / f"{image_path.stem}.png")
            mask = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 127
            samples.append((image_path.name, image, mask, oracle.run(image)))
    return samples


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from deeplab.export import export

    output = tmp_path_factory.mktemp("portrait") / "saved_model"
    export(shared_path(*PORTRAIT_GRAPH), output, samples=1)  # parity: against the oracle below
    return tf.saved_model.load(str(output))


def _score(all_labels, samples):
    """(label agreement with the oracle, our person IoU, the oracle's person IoU) of one label
    map per sample, IoU pooled over all photos."""
    equal = total = 0
    ours = SegmentationMetrics(2, ("background", "person"))
    theirs = SegmentationMetrics(2, ("background", "person"))
    for labels, (_name, _image, mask, expected) in zip(all_labels, samples, strict=True):
        assert labels.shape == expected.shape
        equal += np.count_nonzero(labels == expected)
        total += labels.size
        ours.update(mask, labels)
        theirs.update(mask, expected)
    return equal / total, ours.class_iou("person"), theirs.class_iou("person")


@pytest.fixture(scope="module")
def saved_model_labels(saved_model, person_dev):
    """The exported SavedModel's labels for every person_dev photo (shared by two tests)."""
    serve = saved_model.signatures["serving_default"]
    return [serve(images=tf.constant(image[np.newaxis]))["labels"].numpy()[0]
            for _name, image, _mask, _expected in person_dev]


def test_saved_model_matches_original_graph(saved_model, saved_model_labels, person_dev):
    names = [n.decode() for n in saved_model.signatures["metadata"]()["class_names"].numpy()]
    assert names == ["background", "person"]
    agreement, iou, oracle_iou = _score(saved_model_labels, person_dev)
    print(f"\nSavedModel vs original graph: {agreement:.4%} of pixels; person IoU ours "
          f"{iou:.4f}, original {oracle_iou:.4f} ({len(person_dev)} photos)")
    assert agreement >= 0.999
    assert abs(iou - oracle_iou) < 0.002


@pytest.fixture(scope="module")
def portrait_keras():
    from deeplab.weights import resolve_model

    return resolve_model(shared_path(*PORTRAIT_GRAPH))


def test_tflite_agreement_and_person_iou(portrait_keras, person_dev, tmp_path_factory):
    """Acceptance: float32 >= 99.9% equal to the original graph, int8 >= 98%, and the int8 person
    IoU within one point of the float model's."""
    from deeplab.export import export_model

    model, config = portrait_keras
    folder = tmp_path_factory.mktemp("tflite")
    calibration_dir = shared_path("data", "person_dev", "images")
    samples = [(name, image) for name, image, _mask, _labels in person_dev[:2]]
    scores = {}
    for precision in ("float32", "int8"):
        output = folder / f"portrait_{precision}.tflite"
        export_model(model, config, output, format="tflite", precision=precision,
                     images=samples,
                     calibration_dir=calibration_dir if precision == "int8" else None,
                     calibration_limit=20)
        runtime = LiteRTRuntime(output, num_threads=2)
        labels = [runtime.predict_labels(image) for _, image, _, _ in person_dev]
        scores[precision] = _score(labels, person_dev)
        print(f"\nTFLite {precision}: {scores[precision][0]:.4%} equal to the original graph; "
              f"person IoU {scores[precision][1]:.4f} (original {scores[precision][2]:.4f})")
    assert scores["float32"][0] >= 0.999
    assert scores["int8"][0] >= 0.98
    assert abs(scores["int8"][1] - scores["float32"][1]) <= 0.01


def test_compat_archive_runs_like_the_demo(portrait_keras, saved_model_labels, person_dev,
                                          tmp_path_factory):
    """Acceptance: the archive, loaded exactly as the classic demo's DeepLabModel class loads a
    release, gives the SavedModel's labels on >= 99.9% of pixels."""
    from deeplab.export import export_model

    model, config = portrait_keras
    archive_path = tmp_path_factory.mktemp("compat") / "portrait_compat.tar.gz"
    export_model(model, config, archive_path, format="compat",
                 images=[(name, image) for name, image, _, _ in person_dev[:2]])

    equal = total = 0
    # the demo's way: the first archive member named like the graph, in a tf.compat.v1 session
    with FrozenGraphRuntime(archive_path) as demo_graph:
        # the photos are already resized as the demo resizes them (longer side 513)
        for ours, (_name, resized, _mask, _oracle) in zip(saved_model_labels, person_dev):
            demo = demo_graph.run(resized)
            assert demo.shape == ours.shape and demo.dtype == np.int64
            equal += np.count_nonzero(demo == ours)
            total += demo.size
    print(f"\ncompat archive vs SavedModel: {equal / total:.4%} of pixels")
    assert equal / total >= 0.999
