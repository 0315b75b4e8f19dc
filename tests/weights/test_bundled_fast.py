"""The bundled fast video model ``person_fast``: ships prebuilt, loads offline and checked, keeps
PASCAL's labels, and (with the default photo model's veto) leaves photos with no person empty.

With ../shared: its person IoU on person_dev, through what ``infer.py`` does to video frames,
is compared with MediaPipe selfie's in the same test."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path

from deeplab.portrait.models import FAST_WEIGHTS, load_probability_model
from deeplab.portrait.person_score import portrait_predictor, working_photo
from deeplab.portrait.presence import has_subject
from deeplab.weights import bundled
from deeplab.weights.errors import ChecksumError
from deeplab.weights.registry import REGISTRY

#: Photos with nobody in them that ship with scikit-image (CC0 / public domain) and that the fast
#: model was not trained on (deeplab.training.person_fast_data keeps them out).
NEGATIVES = ("chelsea", "coffee", "rocket", "horse")


@pytest.fixture(scope="module")
def fast():
    return load_probability_model(FAST_WEIGHTS)


@pytest.fixture(scope="module")
def photo_path():
    from deeplab.portrait.veto import with_object_veto

    return with_object_veto(load_probability_model("person"))


def test_both_files_ship_with_their_checksums():
    entry = REGISTRY[FAST_WEIGHTS]
    assert bundled.bundled_path(entry).is_file()
    assert bundled.bundled_path(entry, litert=True).suffix == ".tflite"


def test_a_damaged_prebuilt_network_is_refused_in_one_line(monkeypatch, tmp_path):
    entry = REGISTRY[FAST_WEIGHTS]
    (tmp_path / entry.litert_archive).write_bytes(b"not a network")
    monkeypatch.setattr(bundled, "PACKAGE_MODELS", tmp_path)
    with pytest.raises(ChecksumError, match="damaged"):
        bundled.bundled_path(entry, litert=True)


def test_it_finds_the_astronaut_with_the_pascal_person_class(fast):
    from deeplab.image_files import read_rgb
    from conftest import PROJECT_ROOT

    photo = working_photo(read_rgb(PROJECT_ROOT / "examples" / "astronaut.jpg"))
    matte = portrait_predictor(fast, fast.class_names.index("person"), fast.preferred_size)(photo)
    assert 0.25 < matte.mean() < 0.7


def _negative(name: str) -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    image = np.asarray(getattr(data, name)())
    if image.dtype != np.uint8:  # horse is a boolean silhouette
        image = (image > 0).astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return working_photo(np.ascontiguousarray(image[..., :3]))


@pytest.mark.parametrize("name", NEGATIVES)
def test_a_photo_with_no_person_has_no_subject_in_video_and_in_photos(name, fast, photo_path):
    photo = _negative(name)
    video = portrait_predictor(fast, fast.class_names.index("person"), fast.preferred_size)
    for predict in (video, portrait_predictor(photo_path, 1)):
        matte = predict(photo)
        assert matte.mean() < 0.01 and not has_subject(matte.astype(np.uint8) * 255), name


def test_person_dev_iou_of_the_video_path(fast):
    from deeplab.portrait import person_score

    shared = shared_path()
    examples = person_score.person_dev(shared)
    ours = person_score.score_set(
        portrait_predictor(fast, fast.class_names.index("person"), fast.preferred_size),
        examples).mean
    mediapipe = person_score.score_set(person_score.SquareTFLite(
        shared / "models" / "anchors" / "mediapipe_selfie" / "selfie_segmentation.tflite",
        "mediapipe"), examples).mean
    assert ours >= 0.82, (ours, mediapipe)  # measured 0.836; the old default scored 0.670
    if ours < mediapipe:
        pytest.xfail(f"person_fast's video path {ours:.3f} < MediaPipe selfie {mediapipe:.3f} "
                     "on person_dev (issue 17 is open on this)")
