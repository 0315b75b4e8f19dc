"""Typed experiment configuration: model, data, schedule and runtime, from YAML plus overrides.

``load_experiment("configs/x.yaml", ["schedule.steps=200", "data.root=/data/people"])`` reads
the YAML file, applies dotted ``key=value`` overrides (values parsed as YAML, so ``0.01``,
``true``, ``[1.0, 1.25]`` and ``null`` work) and validates everything into dataclasses; a
misspelt key fails with the list of valid keys.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deeplab.data.config import AugmentConfig, DataConfig

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
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


@dataclass
class ScheduleConfig:
    """Steps, batch, learning rate, optimizer and loss.

    ``batch_size`` is global (all replicas together). The learning rate follows the original poly
    policy ``(base - end) * (1 - step / steps) ** power + end``, after ``warmup_steps`` of linear
    warm-up from ``warmup_start_factor * base``. ``weight_decay`` is the original's L2 regulariser
    (``weight_decay * sum(w^2) / 2``) on convolution kernels, not on depthwise kernels, batch
    norm or biases. ``top_k_percent_pixels`` < 1 keeps only the hardest pixels, reached linearly
    over ``hard_mining_steps``.
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

    def __post_init__(self):
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError("schedule.steps must be >= 0 and schedule.batch_size >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"schedule.optimizer must be one of {OPTIMIZERS}")
        if not 0 < self.top_k_percent_pixels <= 1:
            raise ValueError("schedule.top_k_percent_pixels must be in (0, 1]")


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
        if self.precision not in PRECISIONS:
            raise ValueError(f"runtime.precision must be one of {PRECISIONS}")
        if self.checkpoint_every_steps < 1 or self.keep_checkpoints < 1:
            raise ValueError("runtime.checkpoint_every_steps and keep_checkpoints must be >= 1")


@dataclass
class ExperimentConfig:
    """A whole fine-tuning experiment: what to train, on what data, how long, and where."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataConfig = field(default_factory=DataConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExperimentConfig":
        return _build(cls, data or {}, "")


def _build(cls, data: dict[str, Any], prefix: str):
    """Recursively turn a nested dict into dataclasses, rejecting unknown keys by name."""
    if not isinstance(data, dict):
        raise ValueError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
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
            values[name] = value
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
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None


def load_experiment(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
                    ) -> ExperimentConfig:
    """Read a YAML experiment (or start from defaults when ``path`` is None) with overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} not found")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping with model/data/schedule/runtime")
    for assignment in overrides:
        apply_override(data, assignment)
    return ExperimentConfig.from_dict(data)


def dump_experiment(config: ExperimentConfig) -> str:
    """The resolved experiment as YAML (written into the run folder)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


__all__ = ["AugmentConfig", "DataConfig", "ExperimentConfig", "ModelSection", "RuntimeConfig",
           "ScheduleConfig", "apply_override", "dump_experiment", "load_experiment"]
