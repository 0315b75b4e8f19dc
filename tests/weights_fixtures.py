"""Writers of small release-format files for tests: TF1 checkpoints, frozen graphs, archives.

Variables carry exactly the original names (``MobilenetV2/Conv/weights``,
``xception_65/entry_flow/conv1_1/weights``, ``logits/semantic/biases``), so the readers are tested
on the same names as the official releases, without downloading anything.

- :func:`mobilenet_v2_shapes` / :func:`xception_65_shapes`: every variable of a DeepLab network;
- :func:`random_weights`, :func:`with_training_state`: values, plus optimizer slots to be dropped;
- :func:`write_checkpoint`: a TF1 checkpoint bundle (``.index`` + ``.data-00000-of-00001``);
- :func:`write_frozen_graph`: a GraphDef whose variables are ``Const`` + ``<name>/read`` and whose
  few real ops fix an output stride (dilated convs via ``SpaceToBatchND``) and ASPP rates;
- :func:`write_release_archive`: a ``.tar.gz`` laid out like an official release;
- :class:`LocalHTTPServer`: a server on 127.0.0.1 that can cut responses short.
"""

from __future__ import annotations

import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deeplab.weights.architecture import mobilenet_v2_channels, mobilenet_v2_scope

BN = ("gamma", "beta", "moving_mean", "moving_variance")


def _conv_bn(shapes: dict, scope: str, kernel: tuple[int, ...], *, depthwise: bool = False,
             batch_norm: bool = True) -> None:
    shapes[f"{scope}/{'depthwise_weights' if depthwise else 'weights'}"] = kernel
    channels = kernel[2] if depthwise else kernel[3]
    if batch_norm:
        for leaf in BN:
            shapes[f"{scope}/BatchNorm/{leaf}"] = (channels,)


def head_shapes(in_channels: int, num_classes: int, *, atrous_branches: int = 0,
                separable: bool = True, image_pooling: bool = True,
                decoder_low_level_channels: int | None = None) -> dict[str, tuple[int, ...]]:
    """ASPP (+ image pooling), optional v3+ decoder and ``logits/semantic``."""
    shapes: dict[str, tuple[int, ...]] = {}
    if image_pooling:
        _conv_bn(shapes, "image_pooling", (1, 1, in_channels, 256))
    _conv_bn(shapes, "aspp0", (1, 1, in_channels, 256))
    for i in range(1, atrous_branches + 1):
        if separable:
            _conv_bn(shapes, f"aspp{i}_depthwise", (3, 3, in_channels, 1), depthwise=True)
            _conv_bn(shapes, f"aspp{i}_pointwise", (1, 1, in_channels, 256))
        else:
            _conv_bn(shapes, f"aspp{i}", (3, 3, in_channels, 256))
    branches = 1 + atrous_branches + int(image_pooling)
    _conv_bn(shapes, "concat_projection", (1, 1, 256 * branches, 256))
    if decoder_low_level_channels is not None:
        _conv_bn(shapes, "decoder/feature_projection0", (1, 1, decoder_low_level_channels, 48))
        _conv_bn(shapes, "decoder/decoder_conv0_depthwise", (3, 3, 304, 1), depthwise=True)
        _conv_bn(shapes, "decoder/decoder_conv0_pointwise", (1, 1, 304, 256))
        _conv_bn(shapes, "decoder/decoder_conv1_depthwise", (3, 3, 256, 1), depthwise=True)
        _conv_bn(shapes, "decoder/decoder_conv1_pointwise", (1, 1, 256, 256))
    shapes["logits/semantic/weights"] = (1, 1, 256, num_classes)
    shapes["logits/semantic/biases"] = (num_classes,)
    return shapes


def mobilenet_v2_shapes(depth_multiplier: float = 1.0, num_classes: int = 21, *,
                        atrous_branches: int = 0, separable: bool = True,
                        image_pooling: bool = True) -> dict[str, tuple[int, ...]]:
    """Every variable (name -> shape) of a MobileNetV2 DeepLab as the releases name them."""
    shapes: dict[str, tuple[int, ...]] = {}
    plan = mobilenet_v2_channels(depth_multiplier)
    _conv_bn(shapes, "MobilenetV2/Conv", (3, 3, 3, plan[0][1]))
    inputs = plan[0][1]
    for index, (expand, outputs) in enumerate(plan[1:], start=1):
        scope = mobilenet_v2_scope(index)
        hidden = inputs
        if expand is not None:
            _conv_bn(shapes, f"{scope}/expand", (1, 1, inputs, expand))
            hidden = expand
        _conv_bn(shapes, f"{scope}/depthwise", (3, 3, hidden, 1), depthwise=True)
        _conv_bn(shapes, f"{scope}/project", (1, 1, hidden, outputs))
        inputs = outputs
    shapes.update(head_shapes(inputs, num_classes, atrous_branches=atrous_branches,
                              separable=separable, image_pooling=image_pooling))
    return shapes


def _xception_module(shapes: dict, scope: str, in_channels: int, depths: Sequence[int],
                     shortcut: bool) -> int:
    channels = in_channels
    for i, depth in enumerate(depths, start=1):
        _conv_bn(shapes, f"{scope}/separable_conv{i}_depthwise", (3, 3, channels, 1),
                 depthwise=True)
        _conv_bn(shapes, f"{scope}/separable_conv{i}_pointwise", (1, 1, channels, depth))
        channels = depth
    if shortcut:
        _conv_bn(shapes, f"{scope}/shortcut", (1, 1, in_channels, depths[-1]))
    return channels


def xception_65_shapes(num_classes: int = 21, *, decoder: bool = True,
                       atrous_branches: int = 3) -> dict[str, tuple[int, ...]]:
    """Every variable of the Xception-65 DeepLab v3+ releases (names as in the checkpoints)."""
    shapes: dict[str, tuple[int, ...]] = {}
    root = "xception_65"
    _conv_bn(shapes, f"{root}/entry_flow/conv1_1", (3, 3, 3, 32))
    _conv_bn(shapes, f"{root}/entry_flow/conv1_2", (3, 3, 32, 64))
    channels = 64
    for block, depth in enumerate((128, 256, 728), start=1):
        channels = _xception_module(
            shapes, f"{root}/entry_flow/block{block}/unit_1/xception_module", channels,
            (depth,) * 3, shortcut=True)
    for unit in range(1, 17):
        channels = _xception_module(
            shapes, f"{root}/middle_flow/block1/unit_{unit}/xception_module", channels,
            (728,) * 3, shortcut=False)
    channels = _xception_module(shapes, f"{root}/exit_flow/block1/unit_1/xception_module",
                                channels, (728, 1024, 1024), shortcut=True)
    channels = _xception_module(shapes, f"{root}/exit_flow/block2/unit_1/xception_module",
                                channels, (1536, 1536, 2048), shortcut=False)
    shapes.update(head_shapes(channels, num_classes, atrous_branches=atrous_branches,
                              decoder_low_level_channels=256 if decoder else None))
    return shapes


def manifest_variables(path: str | Path, *, keep_training_state: bool = False
                       ) -> dict[str, tuple[int, ...]]:
    """Variables (name -> shape) listed in a ``../shared`` manifest's checkpoint section."""
    from deeplab.weights.checkpoint import is_training_state

    section = Path(path).read_text().split("## checkpoint variables")[1]
    variables = {}
    for line in section.splitlines()[1:]:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in ("float32", "int64", "int32"):
            dims = parts[2].strip().strip("[]")
            variables[parts[0]] = tuple(int(d) for d in dims.split(",") if d.strip())
    return {k: v for k, v in variables.items() if keep_training_state or not is_training_state(k)}


def random_weights(shapes: Mapping[str, tuple[int, ...]], seed: int = 0
                   ) -> dict[str, np.ndarray]:
    """Float32 values for ``shapes``; batch-norm variances are positive."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in sorted(shapes.items()):
        value = rng.normal(0.0, 0.1, size=shape).astype(np.float32)
        if name.endswith("moving_variance"):
            value = np.abs(value) + 0.5
        weights[name] = value
    return weights


def with_training_state(weights: Mapping[str, np.ndarray], step: int = 30000
                        ) -> dict[str, np.ndarray]:
    """``weights`` plus what a training checkpoint also holds: ``global_step``, Momentum slots
    and ExponentialMovingAverage shadows."""
    state = dict(weights)
    for name, value in weights.items():
        if not name.endswith(("moving_mean", "moving_variance")):
            state[f"{name}/Momentum"] = np.zeros_like(value)
            state[f"{name}/ExponentialMovingAverage"] = value.copy()
    state["global_step"] = np.array(step, dtype=np.int64)
    return state


def write_checkpoint(prefix: str | Path, weights: Mapping[str, np.ndarray]) -> Path:
    """A TF1 checkpoint bundle at ``prefix`` (``.index`` + ``.data-00000-of-00001``)."""
    import tensorflow as tf

    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(weights)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names,
                      shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(weights[name]) for name in names])
    return prefix


def frozen_graph_def(weights: Mapping[str, np.ndarray], *, output_stride: int = 8,
                     crop_size: int = 513, atrous_rates: Sequence[int] = (),
                     with_read_nodes: bool = True, dilation_as_attribute: bool = False):
    """A GraphDef laid out like an exported DeepLab graph.

    Variables are ``Const`` nodes (with ``<name>/read`` Identities unless
    ``with_read_nodes=False``). A short real path ``ImageTensor -> first backbone conv -> dilated
    depthwise convs (rates 2.. 32/output_stride) -> pooling to the output stride -> aspp0/Conv2D``
    and dilated ``aspp{i}_depthwise`` convs fix the output stride, the crop size and the ASPP
    rates the way the official graphs do.
    """
    import tensorflow as tf

    backbone = "xception_65" if any(n.startswith("xception_65/") for n in weights) \
        else "MobilenetV2"
    graph = tf.Graph()
    with graph.as_default():
        reads = {}
        for name, value in weights.items():
            const = tf.constant(value, name=name)
            reads[name] = tf.identity(const, name=f"{name}/read") if with_read_nodes else const
        image = tf.compat.v1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        level = tf.reduce_mean(tf.cast(image, tf.float32))
        x = tf.add(tf.zeros([1, crop_size, crop_size, 3]), level, name="sub_7")
        if backbone == "MobilenetV2":
            x = tf.nn.conv2d(x, reads["MobilenetV2/Conv/weights"], strides=2, padding="SAME",
                             name="MobilenetV2/Conv/Conv2D")
        else:
            x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], name="xception_65/Pad")
            x = tf.nn.conv2d(x, reads["xception_65/entry_flow/conv1_1/weights"], strides=2,
                             padding="VALID", name="xception_65/entry_flow/conv1_1/Conv2D")

        def dilated(inputs, scope: str, rate: int):
            kernel = tf.constant(np.zeros((3, 3, inputs.shape[-1], 1), np.float32),
                                 name=f"{scope}/probe_kernel")
            if dilation_as_attribute:
                return tf.raw_ops.DepthwiseConv2dNative(
                    input=inputs, filter=kernel, strides=[1, 1, 1, 1], padding="SAME",
                    dilations=[1, rate, rate, 1], name=f"{scope}/depthwise")
            with tf.compat.v1.name_scope(f"{scope}/"):
                return tf.nn.depthwise_conv2d(inputs, kernel, strides=[1, 1, 1, 1],
                                              padding="SAME", dilations=[rate, rate],
                                              name="depthwise")

        rate = 2
        while rate <= 32 // output_stride:
            x = dilated(x, f"{backbone}/probe_rate{rate}", rate)
            rate *= 2
        if output_stride > 2:
            x = tf.nn.avg_pool2d(x, output_stride // 2, output_stride // 2, "SAME",
                                 name=f"{backbone}/probe_pool")
        probe = tf.constant(np.zeros((1, 1, x.shape[-1], 1), np.float32), name="aspp0/probe")
        tf.nn.conv2d(x, probe, strides=1, padding="SAME", name="aspp0/Conv2D")
        for index, rate in enumerate(atrous_rates, start=1):
            dilated(x, f"aspp{index}_depthwise", rate)
    return graph.as_graph_def()


def write_frozen_graph(path: str | Path, weights: Mapping[str, np.ndarray], **options) -> Path:
    """:func:`frozen_graph_def` written to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frozen_graph_def(weights, **options).SerializeToString())
    return path


def write_release_folder(folder: str | Path, weights: Mapping[str, np.ndarray], *,
                         checkpoint: str | None = "model.ckpt-30000", graph: bool = True,
                         **graph_options) -> Path:
    """An extracted release folder: ``frozen_inference_graph.pb`` and/or a checkpoint (with
    training state, as the releases have)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if graph:
        write_frozen_graph(folder / "frozen_inference_graph.pb", weights, **graph_options)
    if checkpoint:
        write_checkpoint(folder / checkpoint, with_training_state(weights))
    return folder


def write_release_archive(path: str | Path, folder: str | Path, *,
                          extra_members: Sequence[tarfile.TarInfo | tuple[str, bytes]] = ()
                          ) -> Path:
    """Pack a release folder as ``<folder name>/...`` into a ``.tar.gz`` (plus extra members:
    ``(name, bytes)`` files or ready ``TarInfo`` entries such as links)."""
    path, folder = Path(path), Path(folder)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
        for member in extra_members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> bytes) with ``Range`` support. ``server.behaviour[path]``:
    ``cut_once`` / ``cut_always`` announce the full length but close after a third of the body;
    ``no_range`` ignores ``Range`` requests; ``wrong_range`` answers them from the wrong offset."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        behaviour = server.behaviour.get(self.path, "ok")
        if behaviour == "cut_once":
            server.behaviour[self.path] = "ok"
        start = 0
        requested = self.headers.get("Range")
        if requested and behaviour != "no_range" and requested.startswith("bytes="):
            start = int(requested[len("bytes="):].split("-")[0])
            if behaviour == "wrong_range":
                start = min(start + 5, len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour in ("cut_once", "cut_always"):
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


class LocalHTTPServer:
    """``with LocalHTTPServer() as server``: ``server.files``, ``server.behaviour``,
    ``server.requests`` (path, Range header) and ``server.url(path)``."""

    def __enter__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.files, self.httpd.behaviour, self.httpd.requests = {}, {}, []
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={
            "poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    files = property(lambda self: self.httpd.files)
    behaviour = property(lambda self: self.httpd.behaviour)
    requests = property(lambda self: self.httpd.requests)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
