"""Reading a DeepLab ``frozen_inference_graph.pb``: its weights and what the graph fixes.

Freezing turns every variable into a ``Const`` node of the same name (``MobilenetV2/Conv/weights``),
still read through an ``Identity`` called ``<name>/read``. Those constants are the weights. Batch
norm is not folded in the releases (``FusedBatchNormV3`` reads ``gamma/beta/moving_mean/
moving_variance`` constants), and third-party exports such as the portrait model keep the same
scopes, so one reader serves both.

Unlike a checkpoint, a frozen graph also fixes the output stride and the ASPP rates:
dilated convolutions appear as ``SpaceToBatchND`` with the rate as ``block_shape`` (or as a conv
``dilations`` attribute in newer exports). The backbones' largest dilation is ``32 / output_stride``
(MobileNetV2 and Xception-65 alike: OS 8 -> 4, OS 16 -> 2, OS 32 -> 1). Static shapes, when
TensorFlow can infer them, cross-check that and give the crop size the graph pads to.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeplab.weights.architecture import ASPP_BRANCH, BACKBONE_SCOPES
from deeplab.weights.errors import FrozenGraphError

VARIABLE_LEAVES = frozenset({
    "weights", "biases", "depthwise_weights", "pointwise_weights",
    "gamma", "beta", "moving_mean", "moving_variance",
})
_FIRST_CONV = ("MobilenetV2/Conv/Conv2D", "xception_65/entry_flow/conv1_1/Conv2D")
_PASS_THROUGH = frozenset({"Pad", "PadV2", "MirrorPad", "Identity"})
_SMALL_CONST_BYTES = 4096


@dataclass(frozen=True)
class GraphFacts:
    """What a frozen graph fixes beyond its weights (``None`` where it cannot be told)."""

    output_stride: int | None = None
    atrous_rates: tuple[int, ...] | None = None
    crop_size: int | None = None
    backbone_rates: tuple[int, ...] = ()
    static_output_stride: int | None = None


@dataclass(frozen=True)
class FrozenGraph:
    """Weights (variable name -> value, or shape only) and :class:`GraphFacts` of one graph."""

    path: Path
    shapes: dict[str, tuple[int, ...]]
    weights: dict[str, np.ndarray] | None
    facts: GraphFacts = field(default_factory=GraphFacts)


def parse_graph_def(path: str | os.PathLike):
    """The ``tf.compat.v1.GraphDef`` stored at ``path`` (one-line error when it is not one)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise FrozenGraphError(f"{path}: no such frozen graph file")
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except (DecodeError, RuntimeError, ValueError) as error:
        raise FrozenGraphError(f"{path}: not a TensorFlow GraphDef (truncated or corrupt: "
                               f"{error}); expected a frozen_inference_graph.pb") from error
    if not graph_def.node:
        raise FrozenGraphError(f"{path}: empty GraphDef; expected a frozen_inference_graph.pb")
    return graph_def


def _tensor_shape(node) -> tuple[int, ...]:
    return tuple(int(d.size) for d in node.attr["value"].tensor.tensor_shape.dim)


def _source(name: str) -> str:
    """Node name of an input reference (``^ctrl``, ``name:1`` -> ``name``)."""
    return name.lstrip("^").split(":")[0]


def variable_nodes(graph_def) -> list:
    """The ``Const`` nodes that were variables before freezing.

    A frozen variable keeps its ``<name>/read`` Identity; graphs frozen without those reads
    (resource variables) fall back to the variable leaf names (``weights``, ``gamma``, ...).
    """
    consts = {n.name: n for n in graph_def.node if n.op == "Const"}
    read_sources = {_source(n.input[0]) for n in graph_def.node
                    if n.op == "Identity" and n.name.endswith("/read") and n.input
                    and _source(n.input[0]) == n.name[: -len("/read")]}
    if read_sources & consts.keys():
        return [consts[name] for name in consts if name in read_sources]
    return [node for name, node in consts.items()
            if name.split("/")[-1] in VARIABLE_LEAVES and "/" in name]


def scope_prefix(variable_names: list[str]) -> str:
    """The scope every name is nested in when a graph was re-imported (``import/``), else ``""``.

    Re-exporting a graph after ``tf.import_graph_def`` prefixes every node with the import name;
    the original scopes start right after it.
    """
    for name in variable_names:
        for scope in BACKBONE_SCOPES:
            at = name.find(scope + "/")
            if at > 0 and name[at - 1] == "/":
                prefix = name[:at]
                if all(n.startswith(prefix) for n in variable_names):
                    return prefix
            elif at == 0:
                return ""
    return ""


def _int_const(nodes: dict, reference: str) -> np.ndarray | None:
    from tensorflow.python.framework import tensor_util

    node = nodes.get(_source(reference))
    if node is None or node.op != "Const":
        return None
    return np.asarray(tensor_util.MakeNdarray(node.attr["value"].tensor))


def _dilation_rates(graph_def) -> dict[str, int]:
    """Node name -> dilation rate of every dilated convolution in the graph."""
    nodes = {n.name: n for n in graph_def.node}
    rates: dict[str, int] = {}
    for node in graph_def.node:
        rate = 1
        if node.op == "SpaceToBatchND" and len(node.input) >= 2:
            block = _int_const(nodes, node.input[1])
            if block is not None and block.size:
                rate = int(block.max())
        elif node.op in ("Conv2D", "DepthwiseConv2dNative") and "dilations" in node.attr:
            dilations = list(node.attr["dilations"].list.i)
            if len(dilations) == 4:
                rate = int(max(dilations[1], dilations[2]))
        if rate > 1:
            rates[node.name] = rate
    return rates


def _without_large_values(graph_def):
    """A copy of ``graph_def`` whose large constants keep dtype and shape but no content:
    enough for shape inference, without copying the weights."""
    import tensorflow as tf

    stripped = tf.compat.v1.GraphDef()
    stripped.versions.CopyFrom(graph_def.versions)
    stripped.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        value = node.attr["value"].tensor if node.op == "Const" else None
        if value is None or len(value.tensor_content) <= _SMALL_CONST_BYTES:
            stripped.node.add().CopyFrom(node)
            continue
        copy = stripped.node.add(name=node.name, op=node.op)
        copy.attr["dtype"].CopyFrom(node.attr["dtype"])
        copy.attr["value"].tensor.dtype = value.dtype
        copy.attr["value"].tensor.tensor_shape.CopyFrom(value.tensor_shape)
    return stripped


def _static_sizes(graph_def, prefix: str = "") -> tuple[int | None, int | None]:
    """(padded input side, ASPP feature side) from TensorFlow's static shape inference."""
    import tensorflow as tf

    names = {n.name for n in graph_def.node}
    first = next((prefix + name for name in _FIRST_CONV if prefix + name in names), None)
    aspp = prefix + "aspp0/Conv2D"
    if first is None or aspp not in names:
        return None, None
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.compat.v1.import_graph_def(_without_large_values(graph_def), name="")
    except (ValueError, TypeError, tf.errors.OpError):
        return None, None
    tensor = graph.get_operation_by_name(first).inputs[0]
    while tensor.op.type in _PASS_THROUGH and tensor.op.inputs:
        tensor = tensor.op.inputs[0]
    image_shape = tensor.shape
    feature_shape = graph.get_operation_by_name(aspp).inputs[0].shape
    if image_shape.rank != 4 or feature_shape.rank != 4:
        return None, None
    height, width = image_shape[1], image_shape[2]
    feature = feature_shape[1]
    if height is None or width is None or height != width or feature is None:
        return None, None
    return int(height), int(feature)


def graph_facts(graph_def, *, static_shapes: bool = True) -> GraphFacts:
    """Output stride, ASPP rates and crop size that a frozen DeepLab graph fixes."""
    names = [n.name for n in variable_nodes(graph_def)]
    prefix = scope_prefix(names)
    variable_names = [n[len(prefix):] for n in names]
    rates = {name[len(prefix):]: rate for name, rate in _dilation_rates(graph_def).items()
             if name.startswith(prefix)}
    backbone = next((scope for scope in BACKBONE_SCOPES
                     if any(v.startswith(scope + "/") for v in variable_names)), None)
    output_stride = None
    backbone_rates: tuple[int, ...] = ()
    if backbone is not None:
        backbone_rates = tuple(sorted({r for name, r in rates.items()
                                       if name.startswith(backbone + "/")}))
        largest = max(backbone_rates, default=1)
        if largest not in (1, 2, 4):
            raise FrozenGraphError(f"unexpected backbone dilation rates {backbone_rates} in the "
                                   f"graph (expected a largest rate of 1, 2 or 4)")
        output_stride = 32 // largest
    branch_rates: dict[int, int] = {}
    branches = {int(m.group(1)) for v in variable_names if (m := ASPP_BRANCH.match(v))}
    for name, rate in rates.items():
        match = ASPP_BRANCH.match(name)
        if match:
            branch_rates[int(match.group(1))] = rate
    atrous_rates = None
    wanted = sorted(b for b in branches if b > 0)
    if all(b in branch_rates for b in wanted):
        atrous_rates = tuple(branch_rates[b] for b in wanted)
    crop_size = static_stride = None
    if static_shapes:
        crop_size, feature = _static_sizes(graph_def, prefix)
        if crop_size is not None and feature is not None:
            static_stride = next((s for s in (4, 8, 16, 32) if math.ceil(crop_size / s) == feature),
                                 None)
            if output_stride is not None and static_stride not in (None, output_stride):
                raise FrozenGraphError(
                    f"the graph's dilations say output stride {output_stride} but its shapes say "
                    f"{static_stride} ({crop_size} px input, {feature} px ASPP features)")
    return GraphFacts(output_stride=output_stride, atrous_rates=atrous_rates,
                      crop_size=crop_size, backbone_rates=backbone_rates,
                      static_output_stride=static_stride)


def _check_batch_norm_not_folded(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    convs = [n for n in shapes if n.endswith("/weights") and not n.startswith("logits/")]
    norms = [n for n in shapes if n.endswith("/BatchNorm/moving_mean")]
    if convs and not norms:
        raise FrozenGraphError(
            f"{path}: no BatchNorm/moving_mean constants: batch norm was folded into the "
            f"convolutions (e.g. by optimize_for_inference); export the original, unfolded graph")


def read_frozen_graph(path: str | os.PathLike, *, load_values: bool = True,
                      static_shapes: bool = True) -> FrozenGraph:
    """Weights and facts of a frozen DeepLab graph.

    ``load_values=False`` reads only names and shapes (cheap when a checkpoint supplies the
    values); ``static_shapes=False`` skips importing the graph for shape inference.
    """
    from tensorflow.python.framework import tensor_util

    path = Path(path)
    graph_def = parse_graph_def(path)
    nodes = variable_nodes(graph_def)
    if not nodes:
        raise FrozenGraphError(f"{path}: no variable constants found; expected a frozen DeepLab "
                               f"graph with nodes such as MobilenetV2/Conv/weights")
    prefix = scope_prefix([node.name for node in nodes])
    shapes = {node.name[len(prefix):]: _tensor_shape(node) for node in nodes}
    _check_batch_norm_not_folded(path, shapes)
    weights = None
    if load_values:
        weights = {node.name[len(prefix):]: np.asarray(
            tensor_util.MakeNdarray(node.attr["value"].tensor)) for node in nodes}
    facts = graph_facts(graph_def, static_shapes=static_shapes)
    return FrozenGraph(path=path, shapes=shapes, weights=weights, facts=facts)
