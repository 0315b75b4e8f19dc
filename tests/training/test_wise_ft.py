"""WiSE-FT: a run's weights averaged with its starting point, rebuilt from the run folder."""

from __future__ import annotations

import numpy as np
import pytest

from deeplab.training.wise_ft import interpolate_weights


def test_interpolation_is_linear_per_weight():
    start = [np.zeros((2, 2), np.float32), np.ones(3, np.float32)]
    trained = [np.full((2, 2), 4.0, np.float32), np.full(3, 3.0, np.float32)]
    mixed = interpolate_weights(start, trained, 0.25)
    np.testing.assert_allclose(mixed[0], 1.0)
    np.testing.assert_allclose(mixed[1], 1.5)
    assert mixed[0].dtype == np.float32
    np.testing.assert_array_equal(interpolate_weights(start, trained, 1.0)[0], trained[0])


def test_mismatched_architectures_and_bad_alpha_are_refused():
    with pytest.raises(ValueError, match="architectures"):
        interpolate_weights([np.zeros(2)], [np.zeros(3)], 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate_weights([np.zeros(2)], [np.zeros(2)], 1.5)


def train_from_a_pascal_start(tmp_path, steps: int, architecture: str = "{}"):
    """A tiny background/person run in ``tmp_path / "run"`` from a random 21-class
    MobileNetV2 0.5 saved as its start."""
    from data_fixtures import write_folder_dataset
    from training_fixtures import tiny_overrides

    from deeplab.config import ModelConfig
    from deeplab.model import build_deeplab, save_model
    from deeplab.training.config import load_experiment
    from deeplab.training.trainer import Trainer

    data_root = write_folder_dataset(tmp_path / "data", count=8)
    source_config = ModelConfig("mobilenet_v2", 0.5, 21, 16)
    source = save_model(build_deeplab(source_config), source_config, tmp_path / "pascal.keras")
    experiment = load_experiment(None, tiny_overrides(data_root, **{"schedule.steps": steps}) + [
        f"model.weights={source}", f"model.architecture={architecture}",
        "model.class_names=[background, person]"])
    Trainer(experiment, tmp_path / "run").train()
    return tmp_path / "run"


def test_a_run_is_averaged_with_the_start_rebuilt_from_its_folder(tmp_path):
    from deeplab.weights.run_folder import load_run_model
    from deeplab.training.wise_ft import wise_ft_model

    train_from_a_pascal_start(tmp_path, 2)
    trained, _ = load_run_model(tmp_path / "run")
    start, _ = wise_ft_model(tmp_path / "run", 0.0)
    half, config = wise_ft_model(tmp_path / "run", 0.5)
    end, _ = wise_ft_model(tmp_path / "run", 1.0)

    assert config.class_names == ("background", "person")
    for a, b in zip(end.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    changed = [not np.array_equal(a, b) for a, b in zip(start.get_weights(), end.get_weights())]
    assert any(changed)
    for s, h, e in zip(start.get_weights(), half.get_weights(), end.get_weights()):
        np.testing.assert_allclose(h, (s + e) / 2, atol=1e-6)


def test_a_residual_decoder_run_scales_its_trained_correction(tmp_path):
    """The start's residual decoder is a pass-through whatever its hidden weights: WiSE-FT
    keeps the trained hidden layers and scales the last one by alpha."""
    from deeplab.layers import RESIDUAL_DECODER_OUTPUT
    from deeplab.training.wise_ft import wise_ft_model
    from deeplab.weights.run_folder import load_run_model

    train_from_a_pascal_start(tmp_path, 3, "{residual_decoder_filters: 8}")
    trained, config = load_run_model(tmp_path / "run")
    assert config.residual_decoder_filters == 8
    half, _ = wise_ft_model(tmp_path / "run", 0.5)
    trained_output = trained.get_layer(RESIDUAL_DECODER_OUTPUT).get_weights()
    assert any(np.any(w) for w in trained_output)
    for a, b in zip(half.get_layer(RESIDUAL_DECODER_OUTPUT).get_weights(), trained_output):
        np.testing.assert_allclose(a, 0.5 * b, atol=1e-7)
    for name in ("residual_decoder.projection", "residual_decoder.conv1_pointwise"):
        for a, b in zip(half.get_layer(name).get_weights(), trained.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
