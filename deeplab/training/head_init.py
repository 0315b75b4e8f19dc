"""Initialise a model from another one, carrying the class head over when the label set changes.

Layers are matched by name (they mirror the original variable scopes). Every weight of the same
shape is copied. The classifier ``logits.semantic`` is copied column by column: a new class takes
the kernel column and bias of the source class with the same name (or the name given in
``class_mapping``), so fine-tuning PASCAL to background/person starts from PASCAL's rows 0 and 15
instead of random. A report says what was restored and what was not.

A v3+ decoder that the source lacks (a MobileNetV2 release fine-tuned with
``decoder_output_stride: 4``) starts as a pass-through: identity depthwise and pointwise kernels
carry the upsampled ASPP features straight to the class head, batch norm at identity, and the
stride-4 features enter through small random weights. Step 0 then predicts what the source
predicts (upsampled), and training only has to learn what the fine features add; a randomly
initialised decoder instead hides the source's head behind noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import keras
import numpy as np

LOGITS_LAYER = "logits.semantic"
DECODER_PREFIX = "decoder."
#: Standard deviation of the weights through which the stride-4 features enter a pass-through
#: decoder: small enough to keep step 0's predictions, non-zero so gradients reach them.
LOW_LEVEL_WEIGHT_STD = 0.01


@dataclass
class InitReport:
    """What :func:`initialize_from` copied: weight paths restored or not, unused source
    weights, and for the class head which old row each new class came from."""

    source: str
    restored: list[str] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)
    pass_through_decoder: bool = False
    unused_source: list[str] = field(default_factory=list)
    head_rows: dict[str, tuple[str, int]] = field(default_factory=dict)
    head_new: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"Initialised from {self.source}: {len(self.restored)} weights restored, "
                 f"{len(self.not_restored)} not restored."]
        if self.head_rows or self.head_new:
            mapped = ", ".join(f"{new} <- {old} (row {row})"
                               for new, (old, row) in self.head_rows.items())
            lines.append(f"  class head {LOGITS_LAYER}: {mapped or 'no matching classes'}")
            if self.head_new:
                lines.append("  new classes left at their random start: "
                             + ", ".join(self.head_new))
        if self.pass_through_decoder:
            lines.append("  decoder (not in the source) starts as a pass-through of the "
                         "upsampled ASPP features")
        for title, names in (("not restored (new or other shape)", self.not_restored),
                             ("source weights not used", self.unused_source)):
            if names:
                more = f" ... (+{len(names) - 12})" if len(names) > 12 else ""
                shown = ", ".join(names[:12]) + more
                lines.append(f"  {title}: {shown}")
        return "\n".join(lines)


def _weights_by_path(model: keras.Model) -> dict[str, tuple[keras.layers.Layer, int]]:
    """``<layer name>/<weight name>`` -> (layer, index in its weights), the matching key."""
    out = {}
    for layer in model.layers:
        for index, weight in enumerate(layer.weights):
            out[f"{layer.name}/{weight.name}"] = (layer, index)
    return out


def map_classes(new_names: Sequence[str], old_names: Sequence[str],
                class_mapping: Mapping[str, str] | None = None) -> dict[int, int]:
    """New class index -> old class index, by (case-insensitive) name or explicit mapping."""
    mapping = {k.lower(): v.lower() for k, v in (class_mapping or {}).items()}
    old_index = {name.lower(): i for i, name in enumerate(old_names)}
    unknown = sorted(v for v in mapping.values() if v not in old_index)
    if unknown:
        raise ValueError(f"class_mapping names source classes {unknown} that the source model "
                         f"does not have; its classes: {list(old_names)}")
    result = {}
    for new_index, name in enumerate(new_names):
        source = mapping.get(name.lower(), name.lower())
        if source in old_index:
            result[new_index] = old_index[source]
    return result


def initialize_from(target: keras.Model, source: keras.Model, target_classes: Sequence[str],
                    source_classes: Sequence[str], class_mapping: Mapping[str, str] | None = None,
                    source_name: str = "source") -> InitReport:
    """Copy ``source``'s weights into ``target`` (see module doc) and report what happened."""
    report = InitReport(source_name)
    targets = _weights_by_path(target)
    sources = _weights_by_path(source)
    values: dict[str, list[np.ndarray]] = {}
    used = set()
    relabelled = [c.lower() for c in target_classes] != [c.lower() for c in source_classes]
    rows = map_classes(target_classes, source_classes, class_mapping) if relabelled else {}
    for path, (layer, index) in targets.items():
        if layer.name not in values:
            values[layer.name] = [np.asarray(w) for w in layer.get_weights()]
        if path not in sources:
            report.not_restored.append(path)
            continue
        src_layer, src_index = sources[path]
        src_value = np.asarray(src_layer.weights[src_index])
        current = values[layer.name][index]
        used.add(path)
        if layer.name == LOGITS_LAYER and relabelled:
            if src_value.shape[:-1] != current.shape[:-1]:
                report.not_restored.append(path)
                continue
            for new_index, old_index in rows.items():
                current[..., new_index] = src_value[..., old_index]
            report.head_rows = {target_classes[n]: (source_classes[o], o) for n, o in rows.items()}
            report.head_new = [c for i, c in enumerate(target_classes) if i not in rows]
            report.restored.append(f"{path} [{len(rows)}/{len(target_classes)} classes]")
        elif src_value.shape == current.shape:
            values[layer.name][index] = src_value
            report.restored.append(path)
        else:
            report.not_restored.append(f"{path} {tuple(current.shape)} vs source "
                                       f"{tuple(src_value.shape)}")
    for layer in target.layers:
        if layer.name in values and values[layer.name]:
            layer.set_weights(values[layer.name])
    report.unused_source = sorted(set(sources) - used)
    has_decoder = any(path.startswith(DECODER_PREFIX) for path in sources)
    if not has_decoder and any(path.startswith(DECODER_PREFIX) for path in report.not_restored):
        report.pass_through_decoder = pass_through_decoder(target)
    return report


def pass_through_decoder(model: keras.Model, low_level_std: float = LOW_LEVEL_WEIGHT_STD,
                         seed: int = 0) -> bool:
    """Set the v3+ decoder of ``model`` to pass the upsampled ASPP features through unchanged
    (see the module doc); False when the model has no decoder."""
    layers = [layer for layer in model.layers if layer.name.startswith(DECODER_PREFIX)
              and layer.weights and "feature_projection" not in layer.name]
    if not layers:
        return False
    rng = np.random.default_rng(seed)
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = int(layer.gamma.shape[0])
            layer.set_weights([np.ones(channels), np.zeros(channels), np.zeros(channels),
                               np.full(channels, 1.0 - layer.epsilon)])
            continue
        kernel = np.zeros(tuple(layer.kernel.shape), np.float32)
        height, width = kernel.shape[:2]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel[height // 2, width // 2] = 1.0
        else:
            inputs, outputs = kernel.shape[2:]
            shared = min(inputs, outputs)
            kernel[height // 2, width // 2, np.arange(shared), np.arange(shared)] = 1.0
            if inputs > outputs:  # the stride-4 features, concatenated after the ASPP output
                kernel[height // 2, width // 2, outputs:] = rng.normal(
                    0.0, low_level_std, (inputs - outputs, outputs))
        layer.set_weights([kernel] + [np.zeros(tuple(w.shape)) for w in layer.weights[1:]])
    return True
