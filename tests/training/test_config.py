"""Experiment config: YAML + dotted overrides, validation, shipped configs, CLI errors."""

from __future__ import annotations

import pytest

from conftest import PROJECT_ROOT
from deeplab.config import ModelConfig
from deeplab.training.cli import check_config, quick_start_overrides, run_from_args
from deeplab.training.config import (ExperimentConfig, apply_override, dump_experiment,
                                     load_experiment)
from deeplab.training.trainer import target_model_config

CONFIGS = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("schedule: {steps: 10, batch_size: 4}\ndata: {augment: {crop_size: 65}}\n")
    config = load_experiment(path, ["schedule.steps=20", "data.augment.flip=false",
                                    "runtime.eval_scales=[0.75, 1.0]", "model.weights=a/b.pb"])
    assert config.schedule.steps == 20 and config.schedule.batch_size == 4
    assert config.data.augment.crop_size == 65 and config.data.augment.flip is False
    assert config.runtime.eval_scales == [0.75, 1.0] and config.model.weights == "a/b.pb"
    again = ExperimentConfig.from_dict(__import__("yaml").safe_load(dump_experiment(config)))
    assert again == config


def test_unknown_keys_and_bad_values_are_named():
    with pytest.raises(ValueError, match=r"schedule\.stepz"):
        load_experiment(None, ["schedule.stepz=3"])
    with pytest.raises(ValueError, match="strategy"):
        load_experiment(None, ["runtime.strategy=gpu"])
    with pytest.raises(ValueError, match="key.path=value"):
        apply_override({}, "schedule.steps")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load_and_describe_a_valid_model(path):
    config = load_experiment(path)
    source = ModelConfig("mobilenet_v2", 1.0, 21, 8)
    target = (target_model_config(config, source) if config.model.weights
              else target_model_config(config, None))
    if config.model.class_names:
        assert list(target.class_names) == config.model.class_names
    assert config.schedule.batch_size >= 1


def test_class_names_change_the_head_size_only():
    experiment = load_experiment(None, ["model.class_names=[background, person]",
                                        "model.architecture={output_stride: 16}"])
    source = ModelConfig("mobilenet_v2", 0.5, 21, 8)
    target = target_model_config(experiment, source)
    assert target == source.replace(num_classes=2, class_names=("background", "person"),
                                    output_stride=16)


def test_quick_start_flags_and_cli_config_errors(tmp_path, capsys):
    assert quick_start_overrides("w.pb", "/data") == [
        "model.weights=w.pb", "data.kind=folder", "data.root=/data"]
    code = run_from_args(config=str(tmp_path / "missing.yaml"), model_dir=str(tmp_path / "run"),
                         overrides=[])
    assert code == 2 and "missing.yaml" in capsys.readouterr().err


def test_a_new_output_stride_rescales_the_source_aspp_rates():
    from deeplab.config import xception_65_pascal

    experiment = load_experiment(None, ["model.architecture={output_stride: 8}"])
    target = target_model_config(experiment, xception_65_pascal(16))
    assert (target.output_stride, target.atrous_rates) == (8, (12, 24, 36))
    explicit = load_experiment(
        None, ["model.architecture={output_stride: 8, atrous_rates: [6, 12, 18]}"])
    assert target_model_config(explicit, xception_65_pascal(16)).atrous_rates == (6, 12, 18)
    with pytest.raises(ValueError, match="outputstride"):
        target_model_config(load_experiment(None, ["model.architecture={outputstride: 8}"]),
                            xception_65_pascal(16))


def test_console_scripts_point_at_library_entry_points():
    import importlib

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml")
                              .read_text())
    scripts = pyproject["project"]["scripts"]
    assert {"deeplab-train", "deeplab-export"} <= set(scripts)
    for target in scripts.values():
        module, name = target.split(":")
        assert callable(getattr(importlib.import_module(module), name)), target
    from deeplab.cli import train_main

    with pytest.raises(SystemExit) as exit_:
        train_main(["--help"])
    assert exit_.value.code == 0


def test_steps_caps_the_warmup_at_a_tenth_and_says_so_once(tmp_path, logged):
    path = tmp_path / "long.yaml"
    path.write_text("schedule: {steps: 5000, warmup_steps: 100}\n")
    short = check_config(str(path), [], steps=20)
    assert (short.schedule.steps, short.schedule.warmup_steps) == (20, 2)
    assert logged == [
        "warm-up 100 -> 2 steps (a tenth of --steps 20; --set schedule.warmup_steps=N to choose)"]
    kept = check_config(str(path), [], steps=2000)  # 100 is already within a tenth
    assert (kept.schedule.steps, kept.schedule.warmup_steps) == (2000, 100)
    chosen = check_config(str(path), ["schedule.warmup_steps=5"], steps=20)
    assert chosen.schedule.warmup_steps == 5  # --set wins over the scaling
    assert len(logged) == 1
    assert check_config(str(path), ["schedule.steps=20"]) is None  # no --steps: still refused
