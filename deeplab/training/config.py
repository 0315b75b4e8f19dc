"""Typed experiment configuration: model, data, schedule and runtime, from YAML plus overrides.

``load_experiment("configs/x.yaml", ["schedule.steps=200", "data.root=/data/people"])`` reads
the YAML file, applies dotted ``key=value`` overrides (values parsed as YAML, so ``0.01``,
``true``, ``[1.0, 1.25]`` and ``null`` work) and validates everything into dataclasses; a
misspelt key fails with the list of valid keys.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deeplab.config import ModelConfig
from deeplab.data.config import AugmentConfig, DataConfig, check_size
from deeplab.precision import FLOAT_PRECISIONS
from deeplab.training.safe_yaml import MAX_BYTES, load_yaml
from deeplab.training.typed_values import coerce, short_repr

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
#: Keras dtype policies a run trains in: float32, or mixed precision over one of the 16-bit float
#: precisions of :mod:`deeplab.precision`.
TRAINING_POLICIES = ("float32",) + tuple(f"mixed_{p}" for p in FLOAT_PRECISIONS if p != "float32")
OPTIMIZERS = ("momentum", "adam")


@dataclass
class ModelSection:
    """What to train, and from which weights.

    ``weights``: any source the project loads (registry name, release archive or folder,
    checkpoint prefix, frozen graph, ``.keras`` file, training run folder); null trains from
    scratch with ``architecture``. ``architecture``: ModelConfig fields; over a weights source
    they override what was inferred (``output_stride: 16``). ``class_names``: the label set to
    train; when it differs from the source's, the new head rows start from the source rows of the
    same name, or of the name given in ``class_mapping`` (new name -> source name).
    ``freeze_batch_norm`` runs batch norm in inference mode with its statistics fixed (the
    original's ``fine_tune_batch_norm=False``), which small batches need.
    """

    weights: str | None = None
    architecture: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] | None = None
    class_mapping: dict[str, str] = field(default_factory=dict)
    freeze_batch_norm: bool = True

    def __post_init__(self):
        if self.class_names is not None:
            names = self.class_names
            if len(names) < 2:
                raise ValueError(f"model.class_names needs at least two classes (e.g. "
                                 f"[background, person]), got {short_repr(names)}")
            if any(not name.strip() for name in names) or len(set(names)) != len(names):
                raise ValueError(f"model.class_names must be distinct, non-empty names, got "
                                 f"{short_repr(names)}")
            unknown = sorted(set(self.class_mapping) - set(names))
            if unknown:
                raise ValueError(f"model.class_mapping maps {short_repr(unknown)}, which are not "
                                 f"in model.class_names {short_repr(names)}")
        self.architecture = _architecture(self.architecture)


def _architecture(values: dict[str, Any]) -> dict[str, Any]:
    """``model.architecture`` checked against ModelConfig's fields and types up front."""
    hints = typing.get_type_hints(ModelConfig)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ValueError(f"unknown model.architecture key(s) {unknown}; valid: {sorted(hints)}")
    checked = {key: coerce(value, hints[key], f"model.architecture.{key}")
               for key, value in values.items()}
    if "crop_size" in checked:
        check_size(checked["crop_size"], "model.architecture.crop_size")
    names_too = "class_names" in checked and "num_classes" in checked
    trial = {k: v for k, v in checked.items()
             if names_too or k not in ("num_classes", "class_names")}
    if "num_classes" in checked and not names_too:
        trial["num_classes"] = checked["num_classes"]
    try:  # backbone, output stride, decoder, rates: ModelConfig's own checks, before any work
        ModelConfig.from_dict(trial)
    except ValueError as error:
        raise ValueError(f"model.architecture: {error}") from None
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in checked.items()}


@dataclass
class ScheduleConfig:
    """Steps, batch, learning rate, optimizer and loss.

    ``batch_size`` is global (all replicas together). The learning rate follows the original poly
    policy ``(base - end) * (1 - step / steps) ** power + end``, after ``warmup_steps`` of linear
    warm-up from ``warmup_start_factor * base``. ``weight_decay`` is the original's L2 regulariser
    (``weight_decay * sum(w^2) / 2``) on convolution kernels, not on depthwise kernels, batch
    norm or biases. ``top_k_percent_pixels`` < 1 keeps only the hardest pixels, reached linearly
    over ``hard_mining_steps``. ``distill_from`` (any weights source with the model's classes)
    is a frozen teacher run on every training batch; ``distill_weight`` weighs the per-pixel
    KL divergence to it (:func:`deeplab.training.losses.distillation_loss`) beside the labels.
    """

    steps: int = 30000
    batch_size: int = 8
    optimizer: str = "momentum"
    learning_rate: float = 0.007
    end_learning_rate: float = 0.0
    power: float = 0.9
    warmup_steps: int = 0
    warmup_start_factor: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 4e-5
    adam_epsilon: float = 1e-7
    gradient_clip_norm: float | None = None
    class_weights: list[float] | None = None
    top_k_percent_pixels: float = 1.0
    hard_mining_steps: int = 0
    distill_from: str | None = None
    distill_weight: float = 1.0

    def __post_init__(self):
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError("schedule.steps must be >= 0 and schedule.batch_size >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"schedule.optimizer must be one of {OPTIMIZERS}")
        if not 0 < self.top_k_percent_pixels <= 1:
            raise ValueError("schedule.top_k_percent_pixels must be in (0, 1]")
        if not self.learning_rate > 0:
            raise ValueError(f"schedule.learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.end_learning_rate <= self.learning_rate:
            raise ValueError(f"schedule.end_learning_rate must be in [0, learning_rate "
                             f"{self.learning_rate}], got {self.end_learning_rate}")
        if not self.power > 0:
            raise ValueError(f"schedule.power must be > 0, got {self.power}")
        if not self.distill_weight >= 0:
            raise ValueError(f"schedule.distill_weight must be >= 0, got {self.distill_weight}")
        if self.warmup_steps < 0:
            raise ValueError(f"schedule.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.warmup_steps > self.steps:
            raise ValueError(f"schedule.warmup_steps ({self.warmup_steps}) is larger than "
                             f"schedule.steps ({self.steps}): the learning rate would never "
                             f"leave the warm-up; lower warmup_steps or raise steps (--steps N "
                             f"caps the warm-up at N/10)")
        if not 0 <= self.warmup_start_factor <= 1:
            raise ValueError(f"schedule.warmup_start_factor must be in [0, 1], got "
                             f"{self.warmup_start_factor}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"schedule.momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0 or not self.adam_epsilon > 0:
            raise ValueError("schedule.weight_decay must be >= 0 and schedule.adam_epsilon > 0")
        if self.gradient_clip_norm is not None and not self.gradient_clip_norm > 0:
            raise ValueError(f"schedule.gradient_clip_norm must be > 0 or null, got "
                             f"{self.gradient_clip_norm}")
        if self.class_weights is not None and (
                not self.class_weights or any(w < 0 for w in self.class_weights)):
            raise ValueError(f"schedule.class_weights must be a non-empty list of weights >= 0, "
                             f"got {short_repr(self.class_weights)}")
        if self.hard_mining_steps < 0:
            raise ValueError(f"schedule.hard_mining_steps must be >= 0, got "
                             f"{self.hard_mining_steps}")


@dataclass
class RuntimeConfig:
    """Where and how the run executes: distribution, precision, checkpoints, logs, evaluation.

    ``strategy``: ``default`` (one device), ``mirrored`` (all local GPUs), ``multi_worker``
    (several machines, cluster from ``TF_CONFIG``), ``tpu`` (``tpu`` names the TPU, empty = local).
    ``eval_scales`` / ``eval_flip``: multi-scale and mirrored evaluation as the original's eval.
    """

    strategy: str = "default"
    tpu: str = ""
    precision: str = "float32"
    jit_compile: bool = False
    seed: int = 0
    checkpoint_every_steps: int = 500
    keep_checkpoints: int = 5
    log_every_steps: int = 10
    image_summary_every_steps: int = 200
    eval_every_steps: int = 0
    eval_scales: list[float] = field(default_factory=lambda: [1.0])
    eval_flip: bool = False
    keep_worker_checkpoints: bool = False

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"runtime.strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.precision not in TRAINING_POLICIES:
            raise ValueError(f"runtime.precision must be one of {TRAINING_POLICIES}")
        if self.checkpoint_every_steps < 1 or self.keep_checkpoints < 1:
            raise ValueError("runtime.checkpoint_every_steps and keep_checkpoints must be >= 1")
        if self.log_every_steps < 1:
            raise ValueError(f"runtime.log_every_steps must be >= 1, got {self.log_every_steps}")
        if self.image_summary_every_steps < 0 or self.eval_every_steps < 0:
            raise ValueError("runtime.image_summary_every_steps and eval_every_steps must be "
                             ">= 0 (0 turns them off)")
        if not self.eval_scales or any(not 0 < s <= 4 for s in self.eval_scales):
            raise ValueError(f"runtime.eval_scales must be a non-empty list of scales in "
                             f"(0, 4], e.g. [0.75, 1.0, 1.25]; got {short_repr(self.eval_scales)}")


@dataclass
class ExperimentConfig:
    """A whole fine-tuning experiment: what to train, on what data, how long, and where."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataConfig = field(default_factory=DataConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def __post_init__(self):
        check_batch_fits(self.schedule.batch_size, self.data.augment.crop_size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExperimentConfig":
        return _build(cls, data or {}, "")


#: Bytes of one training pixel before the network runs: float32 RGB input and a uint8 label.
INPUT_BYTES_PER_PIXEL = 13


def physical_memory() -> int | None:
    """Bytes of RAM of this machine; None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_batch_fits(batch_size: int, crop_size: int | list[int] | tuple[int, ...],
                     memory: int | None = None) -> None:
    """Refuse a batch whose input tensors alone exceed the machine's memory (the network's
    activations need many times more): TensorFlow would die allocating it, without a message."""
    memory = physical_memory() if memory is None else memory
    height, width = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    needed = batch_size * height * width * INPUT_BYTES_PER_PIXEL
    if memory and needed > memory:
        fits = max(1, memory // (height * width * INPUT_BYTES_PER_PIXEL))
        raise ValueError(
            f"schedule.batch_size {batch_size} at data.augment.crop_size {crop_size} needs "
            f"{needed / 2**30:.1f} GiB for the input batch alone, more than this machine's "
            f"{memory / 2**30:.1f} GiB of memory (and training needs many times the input); "
            f"lower schedule.batch_size (at most {fits}, in practice far less)")


def _build(cls, data: dict[str, Any], prefix: str):
    """Recursively turn a nested dict into dataclasses, rejecting unknown keys by name."""
    if not isinstance(data, dict):
        raise ValueError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got "
                         f"{short_repr(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown config key(s) {[prefix + k for k in unknown]}; valid keys "
                         f"under {prefix.rstrip('.') or 'the top level'}: {sorted(fields)}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value or {}, f"{prefix}{name}.")
        else:
            values[name] = coerce(value, hint, f"{prefix}{name}")
    try:
        return cls(**values)
    except TypeError as error:
        raise ValueError(f"bad value under {prefix.rstrip('.') or 'config'}: {error}") from error


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` override to a nested dict (value parsed as YAML)."""
    if "=" not in assignment:
        raise ValueError(f"override {assignment!r} must look like key.path=value")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ValueError(f"override {assignment!r} has an empty key")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"override {assignment!r}: {part} is not a section")
        node = child
    node[parts[-1]] = load_yaml(raw, f"override {key.strip()}") if raw.strip() else None


def scale_warmup(data: dict[str, Any], steps: int) -> str | None:
    """Set ``schedule.steps`` to ``steps`` in ``data`` and cap the config's warm-up at a tenth
    of it (a short trial run of a long recipe would otherwise never leave the warm-up); the
    note to show when the warm-up changed, else None."""
    schedule = data.setdefault("schedule", None) or {}
    if not isinstance(schedule, dict):
        return None  # the config's own error is reported when it is validated
    data["schedule"] = schedule
    schedule["steps"] = steps
    warmup = schedule.get("warmup_steps", 0)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or not isinstance(steps, int) \
            or warmup <= max(steps // 10, 0):
        return None
    schedule["warmup_steps"] = steps // 10
    return (f"warm-up {warmup} -> {steps // 10} steps (a tenth of --steps {steps}; "
            f"--set schedule.warmup_steps=N to choose)")


def load_experiment(path: str | Path | None, overrides: list[str] | tuple[str, ...] = (), *,
                    steps: int | None = None, notes: list[str] | None = None
                    ) -> ExperimentConfig:
    """Read a YAML experiment (or start from defaults when ``path`` is None) with overrides.

    ``steps`` (``--steps``) replaces ``schedule.steps`` before the overrides and caps the
    warm-up at a tenth of it (:func:`scale_warmup`); what changed is appended to ``notes``.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"config file {path} is a folder; give the YAML file")
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} not found")
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ValueError(f"{path}: {path.stat().st_size} bytes, over the limit of "
                                 f"{MAX_BYTES} for a config file")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: cannot read the config file ({error})") from None
        data = load_yaml(text, str(path)) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping with model/data/schedule/runtime")
    note = scale_warmup(data, steps) if steps is not None else None
    for assignment in overrides:
        apply_override(data, assignment)
    schedule = data.get("schedule")
    if note and notes is not None and isinstance(schedule, dict) \
            and schedule.get("warmup_steps") == steps // 10:
        notes.append(note)  # not when --set chose the warm-up
    return ExperimentConfig.from_dict(data)


def dump_experiment(config: ExperimentConfig) -> str:
    """The resolved experiment as YAML (written into the run folder)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


__all__ = ["AugmentConfig", "DataConfig", "ExperimentConfig", "ModelSection", "RuntimeConfig",
           "ScheduleConfig", "apply_override", "dump_experiment", "load_experiment",
           "scale_warmup"]
