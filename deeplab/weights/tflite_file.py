"""Reading DeepLab ``.tflite`` files (the TFLite example and Coral releases) back into weights.

The file is parsed with LiteRT's own flatbuffer schema (``ai_edge_litert.schema_py_generated``,
shipped with the runtime this project already depends on), never by decoding bytes by hand.

Batch norm is folded in these files: each convolution carries a folded kernel and a bias. The
weights come out under the original variable names, so :func:`deeplab.model.assign_original_weights`
loads them unchanged: the folded kernel as ``<scope>/weights`` (or ``depthwise_weights``), and the
bias in that layer's batch norm held at identity (``gamma`` 1, ``moving_mean`` 0,
``moving_variance`` 1 - epsilon, ``beta`` = the bias). The network computes exactly what the file
computes and keeps the architecture of every other source, so export, inference rewrites and
fine-tuning work as for a checkpoint (fine-tune with frozen batch norm, the default, so the
identity statistics stay fixed).

Fused tensor names list several scopes (``a;b;c``), so they are hints, not keys: weights are mapped
by the operator graph. The backbone is the chain of convolutions from the input: the stem, then 17
inverted-residual blocks (optional 1x1 expand, depthwise, 1x1 project); the head is found by its
shape: the convolution after the global average (``image_pooling``), the ones reading the backbone
features (``aspp0``, then ``aspp1..N`` when dilated), the one after the concatenation
(``concat_projection``) and the last (``logits/semantic``). Quantised weights (uint8/int8, per
tensor or per channel) and float16 weights are dequantised with each tensor's own scale and zero
point. Anything left unmapped is an error naming the tensor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeplab.weights.errors import WeightsError
from deeplab.weights.frozen_graph import GraphFacts

MOBILENET_V2_BLOCKS = 17
_MAX_FILE_BYTES = 512 * 1024 * 1024
_SKIPPED_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "PAD", "PADV2", "SPACE_TO_BATCH_ND",
                          "BATCH_TO_SPACE_ND", "RESHAPE"})


class TFLiteError(WeightsError):
    """A ``.tflite`` file is unreadable or is not a DeepLab network this reader maps."""


@dataclass(frozen=True)
class InputConvention:
    """How the file wants its input: float in [-1, 1], or integers with (scale, zero point)."""

    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    def describe(self) -> str:
        """``float32 in [-1, 1]`` or ``uint8, real = (q - 128) * 0.0078125``."""
        if self.scale is None:
            return f"{self.dtype} in [-1, 1]"
        return f"{self.dtype}, real = (q - {self.zero_point}) * {self.scale:g}"

    def to_real(self, image_uint8: np.ndarray) -> np.ndarray:
        """The float network input the file computes from uint8 RGB pixels."""
        pixels = np.asarray(image_uint8, dtype=np.float32)
        if self.scale is None:
            return pixels * (2.0 / 255.0) - 1.0
        quantised = np.asarray(image_uint8).astype(np.int32)
        if self.dtype == "int8":
            quantised = quantised - 128
        return ((quantised - self.zero_point) * self.scale).astype(np.float32)


@dataclass(frozen=True)
class TFLiteNetwork:
    """What a DeepLab ``.tflite`` file holds: weights by original name and the facts it fixes."""

    path: Path
    weights: dict[str, np.ndarray] = field(repr=False)
    facts: GraphFacts
    input_convention: InputConvention
    weight_precision: str
    operator_count: int


# --- the flatbuffer -----------------------------------------------------------------------------

def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # TensorFlow ships the same generated schema
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _parse(path: Path):
    size = path.stat().st_size
    if size > _MAX_FILE_BYTES:
        raise TFLiteError(f"{path}: {size} bytes is larger than any DeepLab TFLite file "
                          f"({_MAX_FILE_BYTES} bytes at most)")
    data = path.read_bytes()
    schema = _schema()
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise TFLiteError(f"{path}: not a TFLite file (expected the TFL3 flatbuffer identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as error:  # a truncated flatbuffer fails anywhere inside the decoder
        raise TFLiteError(f"{path}: truncated or corrupt TFLite file ({type(error).__name__}: "
                          f"{error})") from None
    if not model.subgraphs:
        raise TFLiteError(f"{path}: a TFLite file without a graph")
    return schema, model


class _Graph:
    """The main subgraph with constant values and producers resolved."""

    def __init__(self, path: Path, schema, model):
        self.path = path
        self.schema = schema
        self.model = model
        self.graph = model.subgraphs[0]
        self.tensors = self.graph.tensors
        op_names = {value: name for name, value in vars(schema.BuiltinOperator).items()
                    if not name.startswith("_")}
        self.type_names = {value: name.lower() for name, value in vars(schema.TensorType).items()
                           if not name.startswith("_")}
        self.ops = []
        for op in self.graph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            self.ops.append((op_names.get(builtin, str(builtin)), op))
        self.producer = {int(t): index for index, (_, op) in enumerate(self.ops)
                         for t in op.outputs}
        self.consumers: dict[int, list[int]] = {}
        for index, (_, op) in enumerate(self.ops):
            for t in op.inputs:
                if t >= 0:
                    self.consumers.setdefault(int(t), []).append(index)

    def name(self, tensor: int) -> str:
        raw = self.tensors[tensor].name
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def shape(self, tensor: int) -> tuple[int, ...]:
        shape = self.tensors[tensor].shape
        return tuple(int(s) for s in shape) if shape is not None else ()

    def dtype(self, tensor: int) -> str:
        return self.type_names.get(self.tensors[tensor].type, "unknown")

    def raw_constant(self, tensor: int) -> np.ndarray | None:
        """The stored value of a constant tensor (not dequantised), else None."""
        entry = self.tensors[tensor]
        buffer = self.model.buffers[entry.buffer] if entry.buffer < len(self.model.buffers) else None
        if buffer is None:
            return None
        data = buffer.data
        if data is None and getattr(buffer, "offset", 0) > 1:
            data = np.frombuffer(self._file_bytes(), np.uint8, count=buffer.size,
                                 offset=buffer.offset)
        if data is None or len(data) == 0:
            return None
        dtypes = {"float32": np.float32, "float16": np.float16, "int8": np.int8,
                  "uint8": np.uint8, "int32": np.int32, "int64": np.int64, "int16": np.int16}
        dtype = dtypes.get(self.dtype(tensor))
        if dtype is None:
            raise TFLiteError(f"{self.path}: constant {self.name(tensor)} has unsupported type "
                              f"{self.dtype(tensor)}")
        values = np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), dtype=dtype)
        shape = self.shape(tensor)
        if values.size != int(np.prod(shape)):
            raise TFLiteError(f"{self.path}: constant {self.name(tensor)} holds {values.size} "
                              f"values for shape {shape} (truncated file?)")
        return values.reshape(shape)

    def _file_bytes(self) -> bytes:
        if not hasattr(self, "_bytes"):
            self._bytes = self.path.read_bytes()
        return self._bytes

    def constant(self, tensor: int) -> np.ndarray | None:
        """The real (dequantised, float32) value of a constant, following DEQUANTIZE ops."""
        raw = self.raw_constant(tensor)
        if raw is None:
            producer = self.producer.get(tensor)
            if producer is not None and self.ops[producer][0] == "DEQUANTIZE":
                return self.constant(int(self.ops[producer][1].inputs[0]))
            return None
        quantization = self.tensors[tensor].quantization
        if raw.dtype in (np.float32, np.float16):
            return raw.astype(np.float32)
        scale = None if quantization is None else quantization.scale
        if scale is None or len(scale) == 0:
            return raw.astype(np.float32)
        scale = np.asarray(scale, np.float64)
        zero_point = np.asarray(quantization.zeroPoint if quantization.zeroPoint is not None
                                else np.zeros_like(scale), np.float64)
        if scale.size > 1:  # per channel, along quantizedDimension
            axis = int(quantization.quantizedDimension)
            view = [1] * raw.ndim
            view[axis] = scale.size
            scale, zero_point = scale.reshape(view), zero_point.reshape(view)
        return ((raw.astype(np.float64) - zero_point) * scale).astype(np.float32)

    def weights_of(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(kernel, bias) of a CONV_2D or DEPTHWISE_CONV_2D op, both dequantised."""
        op_type, op = self.ops[index]
        kernel_tensor = int(op.inputs[1])
        kernel = self.constant(kernel_tensor)
        if kernel is None:
            raise TFLiteError(f"{self.path}: {op_type} #{index} reads a kernel that is not a "
                              f"constant ({self.name(kernel_tensor)})")
        bias = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = self.constant(int(op.inputs[2]))
        if bias is None:
            bias = np.zeros(kernel.shape[0] if op_type == "CONV_2D" else kernel.shape[-1],
                            np.float32)
        return kernel, bias

    def activation(self, index: int) -> int:
        options = self.ops[index][1].builtinOptions
        return int(getattr(options, "fusedActivationFunction", 0) or 0)

    def dilation(self, index: int) -> int:
        options = self.ops[index][1].builtinOptions
        rate = int(getattr(options, "dilationHFactor", 1) or 1)
        source = self.source(int(self.ops[index][1].inputs[0]))
        if source is not None and self.ops[source][0] == "SPACE_TO_BATCH_ND":
            block = self.constant(int(self.ops[source][1].inputs[1]))
            if block is not None:
                rate = int(np.asarray(block).ravel()[0])
        return rate

    def source(self, tensor: int) -> int | None:
        return self.producer.get(tensor)

    def upstream(self, tensor: int) -> int | None:
        """The op computing ``tensor``, looking through re-quantisation and padding ops."""
        index = self.producer.get(tensor)
        while index is not None and self.ops[index][0] in _SKIPPED_OPS:
            inputs = [int(t) for t in self.ops[index][1].inputs if t >= 0]
            index = self.producer.get(inputs[0]) if inputs else None
        return index

    def downstream(self, tensor: int) -> list[int]:
        """The ops reading ``tensor``, looking through re-quantisation and padding ops."""
        found = []
        for index in self.consumers.get(tensor, []):
            if self.ops[index][0] in _SKIPPED_OPS:
                for out in self.ops[index][1].outputs:
                    found.extend(self.downstream(int(out)))
            else:
                found.append(index)
        return found


# --- mapping the operator graph onto the original scopes ----------------------------------------

def _conv_kernel(kernel: np.ndarray) -> np.ndarray:
    """TFLite CONV_2D ``[out, kh, kw, in]`` -> TensorFlow ``[kh, kw, in, out]``."""
    return np.ascontiguousarray(np.transpose(kernel, (1, 2, 3, 0)))


def _depthwise_kernel(kernel: np.ndarray, in_channels: int) -> np.ndarray:
    """TFLite DEPTHWISE_CONV_2D ``[1, kh, kw, in * m]`` -> TensorFlow ``[kh, kw, in, m]``."""
    _, height, width, total = kernel.shape
    return np.ascontiguousarray(kernel.reshape(height, width, in_channels, total // in_channels))


def _identity_batch_norm(scope: str, bias: np.ndarray, epsilon: float) -> dict[str, np.ndarray]:
    bias = np.asarray(bias, np.float32)
    return {f"{scope}/BatchNorm/gamma": np.ones_like(bias),
            f"{scope}/BatchNorm/beta": bias,
            f"{scope}/BatchNorm/moving_mean": np.zeros_like(bias),
            f"{scope}/BatchNorm/moving_variance": np.full_like(bias, 1.0 - epsilon)}


class _Mapper:
    """Walks the ops once, naming each convolution by where it sits in the graph."""

    def __init__(self, graph: _Graph):
        from deeplab import layers  # the epsilons of the layers that will hold the biases

        self.g = graph
        self.weights: dict[str, np.ndarray] = {}
        self.mapped: set[int] = set()
        self.backbone_epsilon = layers.BACKBONE_BN_EPSILON
        self.head_epsilon = layers.HEAD_BN_EPSILON

    def take(self, index: int, scope: str, *, epsilon: float | None, expect: str) -> int:
        """Store op ``index`` under ``scope``; returns its output tensor."""
        op_type, op = self.g.ops[index]
        if op_type != expect:
            raise TFLiteError(f"{self.g.path}: expected {expect} for {scope}, found {op_type} "
                              f"(output {self.g.name(int(op.outputs[0]))})")
        kernel, bias = self.g.weights_of(index)
        if op_type == "CONV_2D":
            self.weights[f"{scope}/weights"] = _conv_kernel(kernel)
        else:
            in_channels = self.g.shape(int(op.inputs[0]))[-1]
            self.weights[f"{scope}/depthwise_weights"] = _depthwise_kernel(kernel, in_channels)
        if epsilon is None:
            self.weights[f"{scope}/biases"] = np.asarray(bias, np.float32)
        else:
            self.weights.update(_identity_batch_norm(scope, bias, epsilon))
        self.mapped.add(index)
        return int(op.outputs[0])

    def next_op(self, tensor: int, *, allowed=("CONV_2D", "DEPTHWISE_CONV_2D")) -> int:
        readers = [i for i in self.g.downstream(tensor) if self.g.ops[i][0] in allowed]
        if len(readers) != 1:
            raise TFLiteError(f"{self.g.path}: tensor {self.g.name(tensor)} feeds "
                              f"{len(readers)} convolutions where the MobileNetV2 backbone has one")
        return readers[0]

    def backbone(self, first_conv: int) -> tuple[int, list[int]]:
        """Map ``MobilenetV2/Conv`` and the 17 blocks; returns (features, depthwise dilations)."""
        from deeplab.weights.architecture import mobilenet_v2_scope

        x = self.take(first_conv, mobilenet_v2_scope(0), epsilon=self.backbone_epsilon,
                      expect="CONV_2D")
        rates = []
        for block in range(1, MOBILENET_V2_BLOCKS + 1):
            scope = mobilenet_v2_scope(block)
            block_input = x
            index = self.next_op(x)
            if self.g.ops[index][0] == "CONV_2D":
                x = self.take(index, f"{scope}/expand", epsilon=self.backbone_epsilon,
                              expect="CONV_2D")
                index = self.next_op(x)
            rates.append(self.g.dilation(index))
            x = self.take(index, f"{scope}/depthwise", epsilon=self.backbone_epsilon,
                          expect="DEPTHWISE_CONV_2D")
            x = self.take(self.next_op(x), f"{scope}/project", epsilon=self.backbone_epsilon,
                          expect="CONV_2D")
            for reader in self.g.downstream(x):
                if self.g.ops[reader][0] == "ADD":
                    inputs = {self.g.upstream(int(t)) for t in self.g.ops[reader][1].inputs}
                    if self.g.upstream(block_input) in inputs:
                        self.mapped.add(reader)
                        x = int(self.g.ops[reader][1].outputs[0])
                        break
        return x, rates

    def head(self, features: int) -> tuple[tuple[int, ...], bool, int]:
        """Map the ASPP head and the logits; returns (ASPP rates, image pooling, logits tensor)."""
        readers = self.g.downstream(features)
        pooling = [i for i in readers if self.g.ops[i][0] in ("AVERAGE_POOL_2D", "MEAN")]
        branches = [i for i in readers if self.g.ops[i][0] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
        unknown = [i for i in readers if i not in pooling and i not in branches]
        if unknown or len(pooling) > 1 or not branches:
            found = ", ".join(self.g.ops[i][0] for i in readers)
            raise TFLiteError(f"{self.g.path}: the backbone output "
                              f"{self.g.name(features)} feeds {found or 'nothing'}; expected "
                              "DeepLab's ASPP (image pooling and 1x1 / atrous branches)")
        outputs = []
        image_pooling = bool(pooling)
        if pooling:
            pooled = int(self.g.ops[pooling[0]][1].outputs[0])
            self.mapped.add(pooling[0])
            outputs.append(self.take(self.next_op(pooled, allowed=("CONV_2D",)), "image_pooling",
                                     epsilon=self.head_epsilon, expect="CONV_2D"))
        plain = [i for i in branches if self.g.ops[i][0] == "CONV_2D"
                 and self.g.shape(int(self.g.ops[i][1].inputs[1]))[1] == 1]
        atrous = sorted((i for i in branches if i not in plain), key=self.g.dilation)
        if len(plain) != 1:
            raise TFLiteError(f"{self.g.path}: {len(plain)} 1x1 convolutions read the backbone "
                              "output; DeepLab's ASPP has exactly one (aspp0)")
        outputs.append(self.take(plain[0], "aspp0", epsilon=self.head_epsilon, expect="CONV_2D"))
        rates = []
        for number, index in enumerate(atrous, start=1):
            rates.append(self.g.dilation(index))
            if self.g.ops[index][0] == "DEPTHWISE_CONV_2D":
                x = self.take(index, f"aspp{number}_depthwise", epsilon=self.head_epsilon,
                              expect="DEPTHWISE_CONV_2D")
                outputs.append(self.take(self.next_op(x, allowed=("CONV_2D",)),
                                         f"aspp{number}_pointwise", epsilon=self.head_epsilon,
                                         expect="CONV_2D"))
            else:
                outputs.append(self.take(index, f"aspp{number}", epsilon=self.head_epsilon,
                                         expect="CONV_2D"))
        if len(outputs) > 1:
            concat = {i for out in outputs for i in self.g.downstream(out)
                      if self.g.ops[i][0] in ("CONCATENATION", "RESIZE_BILINEAR", "TILE",
                                              "BROADCAST_TO")}
            concat = {self._through_resize(i) for i in concat}
            if len(concat) != 1 or self.g.ops[next(iter(concat))][0] != "CONCATENATION":
                raise TFLiteError(f"{self.g.path}: the ASPP branches are not concatenated into "
                                  "one tensor as in DeepLab")
            concat_index = concat.pop()
            self.mapped.add(concat_index)
            merged = int(self.g.ops[concat_index][1].outputs[0])
            x = self.take(self.next_op(merged, allowed=("CONV_2D",)), "concat_projection",
                          epsilon=self.head_epsilon, expect="CONV_2D")
        else:
            x = outputs[0]
        readers = [i for i in self.g.downstream(x) if self.g.ops[i][0] == "CONV_2D"]
        if len(readers) != 1:
            raise TFLiteError(f"{self.g.path}: no logits convolution after "
                              f"{self.g.name(x)} (a v3+ decoder is not read from TFLite files)")
        logits = self.take(readers[0], "logits/semantic", epsilon=None, expect="CONV_2D")
        return tuple(rates), image_pooling, logits

    def _through_resize(self, index: int) -> int:
        while self.g.ops[index][0] in ("RESIZE_BILINEAR", "TILE", "BROADCAST_TO"):
            readers = self.g.downstream(int(self.g.ops[index][1].outputs[0]))
            if len(readers) != 1:
                return index
            index = readers[0]
        return index


def _output_stride(input_size: int, feature_size: int, path: Path) -> int:
    for stride in (8, 16, 32):
        if (input_size - 1) // stride + 1 == feature_size or input_size // stride == feature_size:
            return stride
    raise TFLiteError(f"{path}: {feature_size}-pixel features for a {input_size}-pixel input "
                      "match no output stride of 8, 16 or 32")


def _input_convention(graph: _Graph) -> InputConvention:
    tensor = int(graph.graph.inputs[0])
    dtype = graph.dtype(tensor)
    quantization = graph.tensors[tensor].quantization
    scale = None if quantization is None or quantization.scale is None else quantization.scale
    if dtype in ("uint8", "int8") and scale is not None and len(scale):
        return InputConvention(dtype, float(scale[0]), int(quantization.zeroPoint[0]))
    if dtype != "float32":
        raise TFLiteError(f"{graph.path}: input {graph.name(tensor)} is {dtype}; expected float32 "
                          "or quantised uint8/int8 images")
    return InputConvention("float32")


def _weight_precision(graph: _Graph, first_conv: int) -> str:
    kernel = int(graph.ops[first_conv][1].inputs[1])
    if graph.raw_constant(kernel) is None:
        producer = graph.producer.get(kernel)
        if producer is not None:
            return graph.dtype(int(graph.ops[producer][1].inputs[0]))
    return graph.dtype(kernel)


def read_tflite(path: str | os.PathLike) -> TFLiteNetwork:
    """Weights (original names, batch norm held at identity) and facts of a DeepLab ``.tflite``.

    Raises :class:`TFLiteError` with a one-line message for a file that is not TFLite, is
    truncated, or is not a DeepLab MobileNetV2 network (e.g. MediaPipe's selfie segmenter).
    """
    path = Path(path)
    schema, model = _parse(path)
    graph = _Graph(path, schema, model)
    if len(graph.graph.inputs) != 1:
        raise TFLiteError(f"{path}: {len(graph.graph.inputs)} inputs; a DeepLab TFLite file takes "
                          "one image")
    image = int(graph.graph.inputs[0])
    shape = graph.shape(image)
    if len(shape) != 4 or shape[-1] != 3:
        raise TFLiteError(f"{path}: input shape {shape}; expected one RGB image [1, S, S, 3]")
    first_conv = next((i for i, (t, _) in enumerate(graph.ops) if t == "CONV_2D"), None)
    if first_conv is None:
        raise TFLiteError(f"{path}: no convolution at all: not a DeepLab network")
    mapper = _Mapper(graph)
    try:
        features, backbone_rates = mapper.backbone(first_conv)
        aspp_rates, image_pooling, logits = mapper.head(features)
    except TFLiteError as error:
        raise TFLiteError(f"{error} (a DeepLab MobileNetV2 .tflite was expected: the TFLite "
                          "example or Coral DeepLab files)") from None
    unmapped = [i for i, (op_type, _) in enumerate(graph.ops)
                if op_type in ("CONV_2D", "DEPTHWISE_CONV_2D") and i not in mapper.mapped]
    if unmapped:
        names = ", ".join(graph.name(int(graph.ops[i][1].outputs[0])) for i in unmapped[:3])
        raise TFLiteError(f"{path}: {len(unmapped)} convolution(s) left unmapped, e.g. {names}")
    input_size = shape[1]
    stride = _output_stride(input_size, graph.shape(features)[1], path)
    facts = GraphFacts(output_stride=stride, atrous_rates=aspp_rates, crop_size=input_size,
                       backbone_rates=tuple(backbone_rates), static_output_stride=stride)
    return TFLiteNetwork(path=path, weights=mapper.weights, facts=facts,
                         input_convention=_input_convention(graph),
                         weight_precision=_weight_precision(graph, first_conv),
                         operator_count=len(graph.ops))
