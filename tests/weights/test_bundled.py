"""The bundled person model: ships in the package, loads offline, checksum checked, finds people.

With ../shared beside the project, the person IoU of what portrait mode makes of it on person_dev
(the matte ``infer.py --mode matte`` writes) must stay at or above MediaPipe selfie's, measured the
same way in the same test."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import PROJECT_ROOT, shared_path

from deeplab.weights import resolve_model
from deeplab.weights import bundled
from deeplab.weights.errors import ChecksumError, WeightsError
from deeplab.weights.registry import REGISTRY

EXAMPLE_PHOTO = PROJECT_ROOT / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def person_segmenter():
    from deeplab.runtimes.keras import Segmenter

    return Segmenter.from_source("person")


def test_person_is_bundled_with_its_checksum():
    entry = REGISTRY["person"]
    assert entry.kind == "bundled" and entry.url == ""
    path = bundled.bundled_path(entry)
    assert path.is_relative_to(Path(bundled.__file__).resolve().parent.parent)
    assert len(entry.sha256) == 64


def test_loads_offline_without_touching_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLAB_CACHE_DIR", str(tmp_path / "cache"))

    def no_download(*args, **kwargs):
        raise AssertionError("the bundled model must not be downloaded")

    monkeypatch.setattr("deeplab.weights.sources.fetch_release", no_download)
    model, config = resolve_model("person")
    assert config.class_names == ("background", "person")
    assert model.output_shape[-1] == 2
    assert not (tmp_path / "cache").exists()


def test_a_damaged_bundled_file_is_refused_in_one_line(monkeypatch, tmp_path):
    entry = REGISTRY["person"]
    damaged = tmp_path / entry.archive
    shutil.copy(bundled.bundled_path(entry), damaged)
    with open(damaged, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00" * 16)
    monkeypatch.setattr(bundled, "PACKAGE_MODELS", tmp_path)
    with pytest.raises(ChecksumError, match="damaged") as error:
        resolve_model("person")
    assert "\n" not in str(error.value)
    damaged.unlink()
    with pytest.raises(WeightsError, match="missing"):
        resolve_model("person")


def test_finds_the_person_in_the_photo_that_ships_with_the_project(person_segmenter):
    from deeplab.image_files import read_rgb

    image = read_rgb(EXAMPLE_PHOTO)
    person = person_segmenter.predict(image).labels == 1
    height, width = person.shape
    assert 0.2 < person.mean() < 0.8
    assert person[height // 2, width // 2]                  # her body
    assert person[int(height * 0.3), int(width * 0.45)]    # her face
    assert not person[:height // 5, -width // 5:].any()     # the wall behind her


@pytest.fixture(scope="module")
def person_dev_scores(person_segmenter):
    """Mean per-photo person IoU on person_dev: ours and each anchor, measured alike."""
    from deeplab.portrait import person_score
    from deeplab.portrait.veto import with_object_veto

    shared = shared_path()
    examples = person_score.person_dev(shared)
    anchors = shared / "models" / "anchors"
    scores = {"ours": person_score.score_set(
        lambda photo: person_segmenter.predict(photo).labels == 1, examples),
              "ours_matte": person_score.score_set(
        person_score.portrait_predictor(with_object_veto(person_segmenter), 1), examples)}
    for name, relative, kind in (
            ("mediapipe", "mediapipe_selfie/selfie_segmentation.tflite", "mediapipe"),
            ("coral", "coral_deeplab/deeplabv3_mnv2_pascal_quant.tflite", "coral")):
        scores[name] = person_score.score_set(
            person_score.SquareTFLite(anchors / relative, kind), examples)
    assert len(scores["ours"].per_photo) == 58
    return {name: score.mean for name, score in scores.items()}


def test_person_dev_iou_beats_the_official_pascal_model_and_the_old_default(person_dev_scores):
    assert person_dev_scores["ours"] >= person_dev_scores["coral"] + 0.01, person_dev_scores
    assert person_dev_scores["ours"] >= 0.670 + 0.15  # portrait_mnv2_dm05, the old default


def test_person_dev_iou_of_the_portrait_matte_is_at_least_mediapipe_selfie(person_dev_scores):
    assert person_dev_scores["ours_matte"] >= person_dev_scores["mediapipe"], person_dev_scores


@pytest.mark.xfail(strict=True, reason="network labels alone: 0.875 vs MediaPipe's 0.883 on "
                   "person_dev (portrait mode's subject selection and matte close the gap); "
                   "strict, so this fails (and must be un-marked) once the network alone wins")
def test_person_dev_iou_of_the_network_labels_alone_is_at_least_mediapipe(person_dev_scores):
    assert person_dev_scores["ours"] >= person_dev_scores["mediapipe"], person_dev_scores
