"""TF1 checkpoint and frozen-graph readers, on files written with the original variable names."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path
from weights_fixtures import (
    frozen_graph_def, manifest_variables, mobilenet_v2_shapes, random_weights,
    with_training_state, write_checkpoint, write_frozen_graph)

from deeplab.weights.checkpoint import (
    checkpoint_shapes, is_training_state, normalize_prefix, read_checkpoint)
from deeplab.weights.errors import CheckpointError, FrozenGraphError
from deeplab.weights.frozen_graph import read_frozen_graph

SMALL = {
    "MobilenetV2/Conv/weights": (3, 3, 3, 16),
    "MobilenetV2/Conv/BatchNorm/gamma": (16,),
    "MobilenetV2/Conv/BatchNorm/beta": (16,),
    "MobilenetV2/Conv/BatchNorm/moving_mean": (16,),
    "MobilenetV2/Conv/BatchNorm/moving_variance": (16,),
    "aspp0/weights": (1, 1, 16, 8),
    "logits/semantic/weights": (1, 1, 8, 3),
    "logits/semantic/biases": (3,),
}


@pytest.mark.parametrize("name, state", [
    ("global_step", True), ("MobilenetV2/Conv/weights/Momentum", True),
    ("aspp0/weights/ExponentialMovingAverage", True), ("aspp0/weights/Adam_1", True),
    ("beta1_power", True), ("MobilenetV2/Conv/weights", False),
    ("MobilenetV2/Conv/BatchNorm/moving_mean", False), ("logits/semantic/biases", False),
])
def test_training_state_names(name, state):
    assert is_training_state(name) is state


def test_checkpoint_round_trip_drops_training_state(tmp_path):
    weights = random_weights(SMALL)
    prefix = write_checkpoint(tmp_path / "release" / "model.ckpt-30000",
                              with_training_state(weights))
    for given in (prefix, f"{prefix}.index", f"{prefix}.data-00000-of-00001"):
        assert normalize_prefix(given) == prefix
        read = read_checkpoint(given)
        assert sorted(read) == sorted(weights)
        for name, value in weights.items():
            np.testing.assert_array_equal(read[name], value)
    assert checkpoint_shapes(prefix) == SMALL
    everything = read_checkpoint(prefix, keep_training_state=True)
    assert "global_step" in everything and int(everything["global_step"]) == 30000
    assert "aspp0/weights/Momentum" in everything


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        read_checkpoint(tmp_path / "model.ckpt")
    prefix = write_checkpoint(tmp_path / "model.ckpt", random_weights(SMALL))
    data = tmp_path / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.ckpt"):
        read_checkpoint(prefix)
    data.unlink()
    with pytest.raises(CheckpointError, match="data file .* is missing"):
        read_checkpoint(prefix)


def test_tf2_object_checkpoint_is_refused(tmp_path):
    prefix = write_checkpoint(tmp_path / "ckpt-1", {
        "model/layer/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.zeros((2, 2), np.float32)})
    with pytest.raises(CheckpointError, match="TF2 object-based checkpoint"):
        read_checkpoint(prefix)


@pytest.mark.parametrize("output_stride, rates, as_attribute", [
    (8, (12, 24, 36), False), (16, (6, 12, 18), False), (16, (6, 12, 18), True), (32, (), False)])
def test_frozen_graph_weights_and_output_stride(tmp_path, output_stride, rates, as_attribute):
    shapes = mobilenet_v2_shapes(0.5, 2, atrous_branches=len(rates))
    weights = random_weights(shapes)
    path = write_frozen_graph(tmp_path / "frozen_inference_graph.pb", weights,
                              output_stride=output_stride, atrous_rates=rates,
                              dilation_as_attribute=as_attribute)
    graph = read_frozen_graph(path)
    assert sorted(graph.weights) == sorted(weights)  # probes, pads and shapes are not weights
    for name, value in weights.items():
        np.testing.assert_array_equal(graph.weights[name], value)
    assert graph.facts.output_stride == output_stride
    assert graph.facts.static_output_stride == output_stride
    assert graph.facts.atrous_rates == rates
    assert graph.facts.crop_size == 513
    shapes_only = read_frozen_graph(path, load_values=False, static_shapes=False)
    assert shapes_only.weights is None and shapes_only.shapes == shapes
    assert shapes_only.facts.output_stride == output_stride
    assert shapes_only.facts.crop_size is None


def test_frozen_graph_without_read_nodes(tmp_path):
    weights = random_weights(SMALL)
    path = write_frozen_graph(tmp_path / "g.pb", weights, with_read_nodes=False, crop_size=257)
    graph = read_frozen_graph(path)
    assert sorted(graph.weights) == sorted(weights)
    assert graph.facts.crop_size == 257 and graph.facts.output_stride == 8


def test_reimported_graph_with_import_prefix(tmp_path):
    import tensorflow as tf

    weights = random_weights(mobilenet_v2_shapes(0.5, 2, atrous_branches=1))
    original = frozen_graph_def(weights, output_stride=16, atrous_rates=(6,))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(original)  # every node becomes import/<name>
    path = tmp_path / "reexported.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    read = read_frozen_graph(path)
    assert sorted(read.weights) == sorted(weights)
    assert (read.facts.output_stride, read.facts.atrous_rates, read.facts.crop_size) == (
        16, (6,), 513)


def test_frozen_graph_errors(tmp_path):
    with pytest.raises(FrozenGraphError, match="no such frozen graph"):
        read_frozen_graph(tmp_path / "absent.pb")
    garbage = tmp_path / "garbage.pb"
    garbage.write_bytes(b"\xff\xfe not a protobuf \x00" * 10)
    with pytest.raises(FrozenGraphError, match="not a TensorFlow GraphDef|empty GraphDef"):
        read_frozen_graph(garbage)
    good = write_frozen_graph(tmp_path / "good.pb", random_weights(SMALL))
    truncated = tmp_path / "truncated.pb"
    truncated.write_bytes(good.read_bytes()[:-7])
    with pytest.raises(FrozenGraphError, match="truncated or corrupt"):
        read_frozen_graph(truncated)
    folded = {k: v for k, v in random_weights(SMALL).items() if "BatchNorm" not in k}
    path = write_frozen_graph(tmp_path / "folded.pb", folded)
    with pytest.raises(FrozenGraphError, match="batch norm was folded"):
        read_frozen_graph(path)


def _manifest_variables(name: str) -> dict[str, tuple[int, ...]]:
    return manifest_variables(shared_path("fixtures", "official", "manifests", name))


def test_real_portrait_graph_batch_norm_not_folded():
    path = shared_path("models", "portrait_mnv2_dm05", "frozen_inference_graph.pb")
    graph = read_frozen_graph(path)
    expected = _manifest_variables("deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.txt")
    # same variables as the official depth-0.5 release except the 2-class head
    assert set(graph.weights) == set(expected)
    assert graph.shapes["logits/semantic/weights"] == (1, 1, 256, 2)
    assert all(graph.shapes[n] == s for n, s in expected.items() if not n.startswith("logits"))
    assert graph.facts.output_stride == 8 and graph.facts.crop_size == 513
    assert graph.facts.atrous_rates == ()
    assert np.all(graph.weights["MobilenetV2/Conv/BatchNorm/moving_variance"] > 0)
