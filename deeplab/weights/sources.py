"""One entry point for every weights source: ``load_release`` and ``resolve_model``.

Sources, tried in this order:

- an existing path:
  - ``*.keras`` file (``resolve_model`` only): a model saved by :func:`deeplab.model.save_model`;
  - training run folder (has ``model_config.json`` or ``checkpoints/``; ``resolve_model`` only):
    :func:`deeplab.weights.run_folder.load_run_model` -> (model, config);
  - ``*.pb``: a bare frozen graph (third-party exports often ship only that);
  - ``*.tflite``: a DeepLab TFLite file (the TFLite example, Coral), batch norm folded
    (:mod:`deeplab.weights.tflite_file`);
  - ``*.index`` / ``*.data-*`` or a checkpoint prefix (``.../model.ckpt-30000``);
  - a folder: an extracted release (the release folder or the folder holding it);
  - any other file: a release archive (``.tar.gz``), read safely (:mod:`deeplab.weights.archive`);
- a registry name (``deeplabv3_mnv2_pascal_train_aug``, see :mod:`deeplab.weights.registry`),
  downloaded to the cache on first use.

When a release has both a checkpoint and a frozen graph, the weights come from the checkpoint and
the output stride, ASPP rates and crop size from the graph. Class names come from the registry when
the source is (or is named like) an official release with the same class count.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from deeplab.config import ModelConfig, default_atrous_rates, scale_atrous_rates
from deeplab.weights import archive as archive_lib
from deeplab.weights.architecture import infer_config
from deeplab.weights.bundled import bundled_path
from deeplab.weights.checkpoint import is_checkpoint_prefix, normalize_prefix, read_checkpoint
from deeplab.weights.download import fetch_release
from deeplab.weights.errors import UnknownSourceError, WeightsError
from deeplab.weights.frozen_graph import GraphFacts, read_frozen_graph
from deeplab.weights.registry import OfficialRelease, find_release, registry_names
from deeplab.weights.run_folder import is_training_run, load_run_model
from deeplab.weights.tflite_file import InputConvention, read_tflite

@dataclass(frozen=True)
class Release:
    """An original release read into memory: its architecture and its weights by original name."""

    config: ModelConfig
    weights: dict[str, np.ndarray] = field(repr=False)
    origin: Literal["checkpoint", "frozen_graph", "tflite", "keras"]
    path: Path
    registry_entry: OfficialRelease | None = None
    graph_facts: GraphFacts | None = None
    input_convention: InputConvention | None = None


def _registry_hint(*names: str) -> OfficialRelease | None:
    """The registry entry named by the first of ``names`` that is a release name, if any."""
    for name in names:
        if name:
            entry = find_release(name)
            if entry is not None:
                return entry
    return None


def _load_files(files: archive_lib.ReleaseFiles, *, path: Path, hint: OfficialRelease | None,
                output_stride: int | None) -> Release:
    """Weights from the checkpoint (else the graph), architecture from the variables, stride,
    rates and crop size from the graph, else the registry entry, else the defaults."""
    graph = None
    if files.frozen_graph is not None:
        graph = read_frozen_graph(files.frozen_graph,
                                  load_values=files.checkpoint_prefix is None)
    if files.checkpoint_prefix is not None:
        weights = read_checkpoint(files.checkpoint_prefix)
        origin: Literal["checkpoint", "frozen_graph"] = "checkpoint"
        if graph is not None:
            _check_same_variables(weights, graph.shapes, files)
    else:
        weights = graph.weights
        origin = "frozen_graph"
    facts = graph.facts if graph is not None else GraphFacts()
    shapes = {name: tuple(np.shape(value)) for name, value in weights.items()}

    fixed_stride = facts.output_stride
    if fixed_stride is None and hint is not None:
        fixed_stride = hint.output_stride
    stride = output_stride or fixed_stride
    rates = facts.atrous_rates
    if rates and output_stride and facts.output_stride and output_stride != facts.output_stride:
        rates = scale_atrous_rates(rates, facts.output_stride, output_stride)
    if rates is None and hint is not None and hint.backbone == "xception_65" and stride:
        rates = default_atrous_rates(stride)
    crop = facts.crop_size or (hint.crop_size if hint is not None else None)
    config = infer_config(shapes, output_stride=stride, atrous_rates=rates, crop_size=crop)
    if hint is not None and hint.num_classes == config.num_classes:
        config = config.replace(class_names=hint.class_names)
    return Release(config=config, weights=weights, origin=origin, path=path,
                   registry_entry=hint, graph_facts=facts if graph is not None else None)


def _load_tflite(path: Path, hint: OfficialRelease | None, output_stride: int | None) -> Release:
    """Weights mapped from the operator graph; stride, rates and crop size from the file."""
    network = read_tflite(path)
    facts = network.facts
    shapes = {name: tuple(np.shape(value)) for name, value in network.weights.items()}
    rates = facts.atrous_rates
    if rates and output_stride and output_stride != facts.output_stride:
        rates = scale_atrous_rates(rates, facts.output_stride, output_stride)
    config = infer_config(shapes, output_stride=output_stride or facts.output_stride,
                          atrous_rates=rates, crop_size=facts.crop_size)
    if hint is not None and hint.num_classes == config.num_classes:
        config = config.replace(class_names=hint.class_names)
    return Release(config=config, weights=network.weights, origin="tflite", path=path,
                   registry_entry=hint, graph_facts=facts,
                   input_convention=network.input_convention)


def _check_same_variables(weights: dict, graph_shapes: dict, files) -> None:
    """The checkpoint and the graph of one release must hold the same variables."""
    checkpoint_shapes = {name: tuple(np.shape(value)) for name, value in weights.items()}
    only_checkpoint = sorted(set(checkpoint_shapes) - set(graph_shapes))
    only_graph = sorted(set(graph_shapes) - set(checkpoint_shapes))
    differ = sorted(name for name in set(graph_shapes) & set(checkpoint_shapes)
                    if graph_shapes[name] != checkpoint_shapes[name])
    if only_checkpoint or only_graph or differ:
        details = []
        if only_checkpoint:
            details.append(f"only in the checkpoint: {', '.join(only_checkpoint[:5])}")
        if only_graph:
            details.append(f"only in the graph: {', '.join(only_graph[:5])}")
        if differ:
            details.append("shapes differ: " + ", ".join(
                f"{n} {checkpoint_shapes[n]} vs {graph_shapes[n]}" for n in differ[:5]))
        raise WeightsError(f"checkpoint {files.checkpoint_prefix} and frozen graph "
                           f"{files.frozen_graph} describe different networks ("
                           + "; ".join(details) + ")")


def _load_archive(path: Path, hint: OfficialRelease | None, output_stride: int | None,
                  max_member_bytes: int) -> Release:
    with tempfile.TemporaryDirectory(prefix="deeplab-release-") as scratch:
        files = archive_lib.extract_release(
            path, scratch, max_member_bytes=max_member_bytes,
            graph_member=hint.graph_member if hint else None,
            checkpoint_member=hint.checkpoint_member if hint else None)
        if hint is None:
            folder = (files.frozen_graph or files.checkpoint_prefix).parent.name
            hint = _registry_hint(folder)
        return _load_files(files, path=path, hint=hint, output_stride=output_stride)


def load_release(source: str | os.PathLike | OfficialRelease, *,
                 output_stride: int | None = None,
                 max_member_bytes: int = archive_lib.DEFAULT_MAX_MEMBER_BYTES,
                 progress: bool = True) -> Release:
    """Read an original DeepLab release and infer its architecture.

    ``source``: registry name (or entry), release ``.tar.gz``, extracted folder, checkpoint prefix,
    or bare ``frozen_inference_graph.pb``. ``output_stride`` overrides the stride the release fixes
    (the weights do not depend on it; the ASPP rates are rescaled).
    """
    if isinstance(source, OfficialRelease):
        if source.kind == "bundled":
            from deeplab.model import original_weights

            path = bundled_path(source)
            model, config = _load_bundled(path, output_stride)
            return Release(config=config, weights=original_weights(model), origin="keras",
                           path=path, registry_entry=source)
        archive = fetch_release(source, progress=progress)
        if source.kind == "tflite":
            return _load_tflite(archive, source, output_stride)
        return _load_archive(archive, source, output_stride, max_member_bytes)
    path = Path(source).expanduser()
    if path.is_file():
        name = path.name
        if path.suffix == ".keras":
            raise WeightsError(f"{path} is a saved Keras model, not an original release; "
                               f"use deeplab.weights.resolve_model")
        if path.suffix == ".tflite":
            return _load_tflite(path, _registry_hint(path.stem), output_stride)
        if name.endswith(".pb"):
            hint = _registry_hint(path.parent.name)
            files = archive_lib.ReleaseFiles(frozen_graph=path, checkpoint_prefix=None)
            return _load_files(files, path=path, hint=hint, output_stride=output_stride)
        if name.endswith(".index") or ".data-" in name:
            source = normalize_prefix(path)
        else:
            return _load_archive(path, _registry_hint(name), output_stride, max_member_bytes)
    if path.is_dir():
        if is_training_run(path):
            raise WeightsError(f"{path} is a training run folder, not an original release; use "
                               f"deeplab.weights.resolve_model")
        files = archive_lib.find_release_files(path)
        folder = (files.frozen_graph or files.checkpoint_prefix).parent.name
        hint = _registry_hint(path.name, folder)
        return _load_files(files, path=path, hint=hint, output_stride=output_stride)
    prefix = normalize_prefix(Path(source).expanduser())
    if is_checkpoint_prefix(prefix):
        graph = prefix.parent / archive_lib.FROZEN_GRAPH_NAME
        files = archive_lib.ReleaseFiles(frozen_graph=graph if graph.is_file() else None,
                                         checkpoint_prefix=prefix)
        return _load_files(files, path=prefix, hint=_registry_hint(prefix.parent.name),
                           output_stride=output_stride)
    entry = find_release(str(source))
    if entry is not None:
        return load_release(entry, output_stride=output_stride,
                            max_member_bytes=max_member_bytes, progress=progress)
    raise UnknownSourceError(
        f"{source!s}: not an existing file, folder or checkpoint prefix, nor a known release name "
        f"(known: {', '.join(registry_names())})")


def _load_bundled(path: Path, output_stride: int | None):
    """(model, config) of a model that ships in the package (``path`` already verified by
    :func:`deeplab.weights.bundled.bundled_path`)."""
    from deeplab.model import load_model, rebuild_at_output_stride

    return rebuild_at_output_stride(*load_model(path), output_stride)


def resolve_model(source: str | os.PathLike | OfficialRelease, *,
                  output_stride: int | None = None):
    """A ready Keras model and its config from any weights source.

    Adds ``.keras`` files and training run folders to what :func:`load_release` reads.
    Returns ``(keras.Model, ModelConfig)``.
    """
    from deeplab.model import (assign_original_weights, build_deeplab, load_model,
                               rebuild_at_output_stride)

    if not isinstance(source, OfficialRelease):
        path = Path(source).expanduser()
        if path.is_file() and path.suffix == ".keras":
            model, config = load_model(path)
            return rebuild_at_output_stride(model, config, output_stride)
        if is_training_run(path):
            return load_run_model(path, output_stride=output_stride)
        if not path.exists():
            source = find_release(str(source)) or source
    if isinstance(source, OfficialRelease) and source.kind == "bundled":
        return _load_bundled(bundled_path(source), output_stride)
    release = load_release(source, output_stride=output_stride)
    model = build_deeplab(release.config)
    assign_original_weights(model, release.weights)
    return model, release.config
