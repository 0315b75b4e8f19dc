"""``load_release`` / ``resolve_model`` on every kind of source, and the official fixture."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path
from weights_fixtures import (
    LocalHTTPServer, manifest_variables, mobilenet_v2_shapes, random_weights, write_checkpoint,
    write_release_archive, write_release_folder)

from deeplab.config import CITYSCAPES_CLASSES, PASCAL_VOC_CLASSES, PERSON_CLASSES
from deeplab.weights import registry, sources
from deeplab.weights.download import CACHE_ENV_VAR
from deeplab.weights.errors import ArchiveError, UnknownSourceError, WeightsError
from deeplab.weights.sources import load_release, resolve_model

FIXTURE_ARCHIVE = ("fixtures", "official", "deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz")


@pytest.fixture(scope="module")
def small_weights():
    """A depth-0.5 MobileNetV2 DeepLab with 3 classes (every original variable name)."""
    return random_weights(mobilenet_v2_shapes(0.5, 3), seed=1)


@pytest.fixture(scope="module")
def small_release(tmp_path_factory, small_weights):
    """An extracted release folder (graph at output stride 16 + checkpoint) and its archive."""
    root = tmp_path_factory.mktemp("release")
    folder = write_release_folder(root / "my_portrait_release", small_weights, output_stride=16)
    archive = write_release_archive(root / "my_portrait_release_2024.tar.gz", folder)
    return folder, archive


def _assert_same_weights(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_every_local_source_kind(small_release, small_weights):
    folder, archive = small_release
    prefix = folder / "model.ckpt-30000"
    for source in (archive, folder, folder.parent, prefix, f"{prefix}.index",
                   f"{prefix}.data-00000-of-00001", str(folder / "frozen_inference_graph.pb")):
        release = load_release(source)
        expected_origin = "frozen_graph" if str(source).endswith(".pb") else "checkpoint"
        assert release.origin == expected_origin, source
        _assert_same_weights(release.weights, small_weights)  # training state dropped
        config = release.config
        assert (config.backbone, config.depth_multiplier, config.num_classes) == (
            "mobilenet_v2", 0.5, 3)
        assert config.output_stride == 16, source  # fixed by the graph, even for the checkpoint
        assert config.atrous_rates == () and config.crop_size == 513
    assert load_release(archive).path == archive


def test_checkpoint_only_release_uses_defaults_and_override(tmp_path, small_weights):
    write_checkpoint(tmp_path / "model.ckpt", small_weights)
    release = load_release(tmp_path)
    assert release.origin == "checkpoint" and release.graph_facts is None
    assert release.config.output_stride == 8  # MobileNetV2 default, nothing fixes it
    assert load_release(tmp_path / "model.ckpt", output_stride=16).config.output_stride == 16


def test_output_stride_override_on_a_graph(small_release):
    folder, _ = small_release
    release = load_release(folder / "frozen_inference_graph.pb", output_stride=8)
    assert release.config.output_stride == 8 and release.graph_facts.output_stride == 16


def test_class_names_from_a_registry_named_release(tmp_path):
    cityscapes = random_weights(mobilenet_v2_shapes(1.0, 19))
    folder = write_release_folder(tmp_path / "deeplabv3_mnv2_cityscapes_train", cityscapes,
                                  checkpoint="model.ckpt", graph=False)
    release = load_release(folder)
    assert release.config.class_names == CITYSCAPES_CLASSES
    assert release.registry_entry.name == "deeplabv3_mnv2_cityscapes_train"
    # a fine-tuned model in a folder with an official name keeps its own class count
    two = random_weights(mobilenet_v2_shapes(1.0, 2))
    folder = write_release_folder(tmp_path / "x" / "deeplabv3_mnv2_pascal_train_aug", two,
                                  graph=False)
    assert load_release(folder).config.class_names == PERSON_CLASSES


def test_checkpoint_and_graph_must_agree(tmp_path, small_weights):
    folder = write_release_folder(tmp_path / "r", small_weights, checkpoint=None)
    other = dict(small_weights)
    other["logits/semantic/weights"] = np.zeros((1, 1, 256, 5), np.float32)
    other["logits/semantic/biases"] = np.zeros((5,), np.float32)
    write_checkpoint(folder / "model.ckpt", other)
    with pytest.raises(WeightsError, match="describe different networks.*logits/semantic"):
        load_release(folder)


def test_bad_sources(tmp_path):
    with pytest.raises(UnknownSourceError, match="known: .*deeplabv3_cityscapes_train"):
        load_release("no_such_release_or_file")
    not_deeplab = tmp_path / "photos.tar.gz"
    with tarfile.open(not_deeplab, "w:gz") as tar:
        tar.add(__file__, arcname="photos/readme.txt")
    with pytest.raises(ArchiveError, match="expected a DeepLab release archive.*found: photos"):
        load_release(not_deeplab)
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"zip")
    with pytest.raises(WeightsError, match="use deeplab.weights.resolve_model"):
        load_release(keras_file)


def test_registry_name_downloads_once_into_the_cache(tmp_path, monkeypatch, small_weights):
    entry = registry.get_release("deeplabv3_mnv2_dm05_pascal_trainaug")
    weights = random_weights(mobilenet_v2_shapes(0.5, 21))
    folder = write_release_folder(tmp_path / "src" / entry.name, weights, checkpoint="model.ckpt")
    archive = write_release_archive(tmp_path / "src" / entry.archive, folder)
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    with LocalHTTPServer() as server:
        server.files[f"/models/{entry.archive}"] = archive.read_bytes()
        monkeypatch.setattr(registry, "DOWNLOAD_ROOT", server.url("/models/"))
        first = load_release(entry.zoo_name, progress=False)
        second = load_release(entry.name, progress=False)
        assert len(server.requests) == 1
    assert first.path == second.path == tmp_path / "cache" / entry.archive
    assert first.config.class_names == PASCAL_VOC_CLASSES and first.registry_entry is entry
    assert first.config.depth_multiplier == 0.5 and first.origin == "checkpoint"
    _assert_same_weights(second.weights, weights)


def test_official_fixture_archive():
    archive = shared_path(*FIXTURE_ARCHIVE)
    release = load_release(archive)
    config = release.config
    assert release.origin == "checkpoint" and release.path == archive
    assert (config.backbone, config.depth_multiplier, config.num_classes) == (
        "mobilenet_v2", 1.0, 21)
    assert config.output_stride == 8 and config.atrous_rates == ()
    assert config.image_pooling and config.decoder_output_stride is None
    assert config.class_names == PASCAL_VOC_CLASSES and config.crop_size == 513
    manifest = shared_path("fixtures", "official", "manifests",
                           "deeplabv3_mnv2_pascal_train_aug_2018_01_29.txt")
    assert {n: v.shape for n, v in release.weights.items()} == manifest_variables(manifest)


def test_real_portrait_model_needs_no_architecture_arguments():
    release = load_release(shared_path("models", "portrait_mnv2_dm05",
                                       "frozen_inference_graph.pb"))
    config = release.config
    assert release.origin == "frozen_graph"
    assert (config.backbone, config.depth_multiplier, config.num_classes) == (
        "mobilenet_v2", 0.5, 2)
    assert config.atrous_rates == () and config.output_stride == 8
    assert config.class_names == PERSON_CLASSES


# ---------------------------------------------------------------- resolve_model (needs the model)

def test_resolve_model_round_trip_and_keras_file(small_release, small_weights, tmp_path):
    from deeplab.model import original_weights, save_model

    _, archive = small_release
    model, config = resolve_model(archive)
    _assert_same_weights(original_weights(model), small_weights)
    logits = model(np.zeros((1, 65, 97, 3), np.float32))
    assert tuple(logits.shape) == (1, 5, 7, 3)  # output stride 16 as the graph fixed
    saved = save_model(model, config, tmp_path / "m.keras")
    again, again_config = resolve_model(saved)
    assert again_config == config
    _assert_same_weights(original_weights(again), small_weights)
    at_8, config_8 = resolve_model(saved, output_stride=8)
    assert config_8.output_stride == 8
    assert tuple(at_8(np.zeros((1, 65, 97, 3), np.float32)).shape) == (1, 9, 13, 3)
    _assert_same_weights(original_weights(at_8), small_weights)


def test_resolve_model_fails_loudly_on_unmapped_or_misshapen_variables(tmp_path, small_weights):
    from deeplab.model import WeightMappingError

    extra = dict(small_weights, **{"aspp0/extra/weights": np.zeros((1, 1, 2, 2), np.float32)})
    write_checkpoint(tmp_path / "extra" / "model.ckpt", extra)
    with pytest.raises(WeightMappingError, match="aspp0/extra/weights"):
        resolve_model(tmp_path / "extra" / "model.ckpt")
    name = "MobilenetV2/expanded_conv_3/project/BatchNorm/gamma"
    misshapen = dict(small_weights, **{name: np.ones((5,), np.float32)})
    write_checkpoint(tmp_path / "shape" / "model.ckpt", misshapen)
    with pytest.raises(WeightMappingError, match=f"shape mismatch for {name}"):
        resolve_model(tmp_path / "shape" / "model.ckpt")
    missing = {k: v for k, v in small_weights.items() if "expanded_conv_5/expand/" not in k}
    write_checkpoint(tmp_path / "missing" / "model.ckpt", missing)
    with pytest.raises(WeightMappingError, match="expanded_conv_5/expand"):
        resolve_model(tmp_path / "missing" / "model.ckpt")


def test_training_run_folders_go_to_the_run_folder_loader(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    calls = []
    monkeypatch.setattr(sources, "load_run_model", lambda path, output_stride=None: calls.append(
        (Path(path), output_stride)) or ("model", "config"))
    assert resolve_model(run, output_stride=16) == ("model", "config")
    assert calls == [(run, 16)]
    with pytest.raises(WeightsError, match="training run folder"):
        load_release(run)


def test_official_fixture_checkpoint_and_frozen_graph_give_identical_models(tmp_path):
    from deeplab.model import original_weights

    archive = shared_path(*FIXTURE_ARCHIVE)
    from_archive, config = resolve_model(archive)
    with tarfile.open(archive) as tar:
        member = tar.getmember("deeplabv3_mnv2_pascal_train_aug/frozen_inference_graph.pb")
        (tmp_path / "frozen_inference_graph.pb").write_bytes(tar.extractfile(member).read())
    from_graph, graph_config = resolve_model(tmp_path / "frozen_inference_graph.pb")
    assert graph_config == config
    _assert_same_weights(original_weights(from_graph), original_weights(from_archive))
    image = np.load(shared_path("fixtures", "official", "reference", "image1_input.npy"))
    padded = np.full((1, 513, 513, 3), 127.5, np.float32)
    padded[:, : image.shape[1], : image.shape[2]] = image
    inputs = padded * np.float32(2 / 255) - 1
    np.testing.assert_array_equal(from_graph(inputs).numpy(), from_archive(inputs).numpy())
