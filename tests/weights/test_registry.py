"""Every registry entry is well formed and can be found by each of its names."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from deeplab.config import BACKBONES, CITYSCAPES_CLASSES, PASCAL_VOC_CLASSES
from deeplab.weights.errors import UnknownSourceError
from deeplab.weights.registry import (
    ADE20K_CLASSES, BUNDLED_MODELS, OFFICIAL_RELEASES, REGISTRY, TFLITE_RELEASES, find_release,
    get_release)


@pytest.mark.parametrize("release", OFFICIAL_RELEASES, ids=lambda r: r.name)
def test_entry_is_well_formed(release):
    url = urlparse(release.url)
    assert url.scheme in ("http", "https") and url.netloc == "download.tensorflow.org"
    assert url.path == f"/models/{release.archive}" and release.archive.endswith(".tar.gz")
    assert release.archive.startswith(release.name + "_")  # archive = <folder>_<date>.tar.gz
    assert release.graph_member == f"{release.name}/frozen_inference_graph.pb"
    assert release.checkpoint_member.startswith(f"{release.name}/model.ckpt")
    assert release.backbone in BACKBONES
    assert release.depth_multiplier in (0.5, 1.0)
    assert release.output_stride in (8, 16) and release.crop_size in (257, 513)
    assert release.num_classes == {"pascal_voc": 21, "cityscapes": 19, "ade20k": 151}[
        release.dataset]
    assert len(set(release.class_names)) == release.num_classes
    assert release.results and all(0 < r.miou < 100 and r.output_stride in (8, 16)
                                   and r.eval_scales for r in release.results)
    assert release.atrous_rates == ((12, 24, 36) if release.backbone == "xception_65" else ())
    assert release.sha256 is None or len(release.sha256) == 64
    for name in (release.name, release.zoo_name, release.archive):
        assert find_release(name) is release


def test_names_are_unique_and_cover_the_model_zoo():
    names = [r.name for r in OFFICIAL_RELEASES]
    assert len(set(names)) == len(names) == len(REGISTRY) - len(TFLITE_RELEASES) - len(BUNDLED_MODELS)
    assert len({r.archive for r in OFFICIAL_RELEASES}) == len(names)
    assert len({r.zoo_name for r in OFFICIAL_RELEASES}) == len(names)
    covered = {(r.backbone, r.dataset) for r in OFFICIAL_RELEASES}
    assert covered == {(b, d) for b in BACKBONES for d in ("pascal_voc", "cityscapes", "ade20k")}


def test_class_names():
    assert get_release("deeplabv3_mnv2_pascal_train_aug").class_names == PASCAL_VOC_CLASSES
    assert get_release("deeplabv3_cityscapes_train").class_names == CITYSCAPES_CLASSES
    assert len(ADE20K_CLASSES) == 151 and ADE20K_CLASSES[0] == "other"
    assert ADE20K_CLASSES[13] == "person" and ADE20K_CLASSES[150] == "flag"


def test_facts_of_the_fixture_release():
    release = get_release("mobilenetv2_coco_voc_trainaug")
    assert release.name == "deeplabv3_mnv2_pascal_train_aug"
    assert release.checkpoint_member == "deeplabv3_mnv2_pascal_train_aug/model.ckpt-30000"
    assert release.results[0].miou == 75.32 and release.results[0].output_stride == 16


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownSourceError, match="did you mean deeplabv3_mnv2_pascal_train_aug"):
        get_release("deeplabv3_mnv2_pascal_trainaug")
    with pytest.raises(UnknownSourceError, match="known releases: .*deeplabv3_cityscapes_train"):
        get_release("resnet")
