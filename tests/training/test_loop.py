"""The training loop on a tiny generated data set with a tiny real DeepLab (MobileNetV2 x0.5).

Loss goes down; a killed run resumes from its saved step; a NaN loss stops the run and keeps the
last good checkpoint; a class-count change starts the head from the old rows; the run folder
loads back as a weights source.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeplab.config import ModelConfig, PASCAL_VOC_CLASSES
from deeplab.model import build_deeplab
from deeplab.training.config import load_experiment
from deeplab.training.losses import segmentation_loss
from deeplab.weights.run_folder import is_run_folder, load_run_model
from deeplab.training.trainer import Trainer, TrainingDiverged, format_duration
from conftest import PROJECT_ROOT
from data_fixtures import write_folder_dataset
from training_fixtures import tiny_overrides


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return write_folder_dataset(tmp_path_factory.mktemp("data") / "ds", count=8)


def _fixed_batch(data_root: Path):
    images, labels = [], []
    for name in sorted((data_root / "images").iterdir())[:4]:
        image = tf.io.decode_png(tf.io.read_file(str(name)), channels=3)
        mask = tf.io.decode_png(tf.io.read_file(str(data_root / "masks" / name.name)))
        images.append(tf.cast(image, tf.float32) / 127.5 - 1)
        labels.append(tf.cast(mask >= 128, tf.uint8))
    return tf.stack(images), tf.stack(labels)


def test_a_few_steps_lower_the_loss(data_root, tmp_path):
    keras.utils.set_random_seed(0)
    experiment = load_experiment(None, tiny_overrides(data_root, **{
        "schedule.steps": 16, "schedule.learning_rate": 0.1}))
    trainer = Trainer(experiment, tmp_path / "run")
    images, labels = _fixed_batch(data_root)

    def loss():
        return float(segmentation_loss(trainer.model(images, training=False), labels, 2))

    before = loss()
    result = trainer.train()
    assert result.step == 16 and len(result.history) == 8
    assert loss() < 0.9 * before
    assert result.images_per_second > 0 and 0 <= result.input_wait_fraction < 1
    assert (tmp_path / "run" / "model.keras").is_file()
    assert list((tmp_path / "run" / "train").glob("events.out.tfevents*"))


def test_killed_run_resumes_from_its_saved_step(data_root, tmp_path, logged):
    model_dir = tmp_path / "run"
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "--model-dir", str(model_dir),
               "--steps", "100000"]
    for item in tiny_overrides(data_root, **{"runtime.checkpoint_every_steps": 3}):
        command += ["--set", item]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            latest = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
            if latest and int(latest.rsplit("-", 1)[1]) >= 6:
                break
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    latest = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    saved_step = int(latest.rsplit("-", 1)[1])
    reference = build_deeplab(ModelConfig("mobilenet_v2", 0.5, 2, 16))
    tf.train.Checkpoint(model=reference).restore(latest).expect_partial()

    experiment = load_experiment(
        None, tiny_overrides(data_root, **{"schedule.steps": saved_step + 2}))
    trainer = Trainer(experiment, model_dir)
    assert trainer.current_step() == saved_step
    assert any(f"step {saved_step}" in m for m in logged)
    for restored, saved in zip(trainer.model.weights, reference.weights):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    result = trainer.train()
    assert (result.start_step, result.step) == (saved_step, saved_step + 2)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data_root, tmp_path):
    model_dir = tmp_path / "run"
    Trainer(load_experiment(None, tiny_overrides(data_root, **{"schedule.steps": 2})),
            model_dir).train()
    good = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    broken = load_experiment(None, tiny_overrides(
        data_root, **{"schedule.steps": 6, "schedule.learning_rate": 1e35}))
    trainer = Trainer(broken, model_dir)
    with pytest.raises(TrainingDiverged, match="ckpt-2"):
        trainer.train()
    assert tf.train.latest_checkpoint(str(model_dir / "checkpoints")) == good
    assert not list((model_dir / "checkpoints").glob("ckpt-3*"))


def test_class_change_starts_the_head_from_the_matching_old_rows(data_root, tmp_path, logged):
    source_config = ModelConfig("mobilenet_v2", 0.5, 21, 16)
    source = build_deeplab(source_config)
    rng = np.random.default_rng(1)
    logits = source.get_layer("logits.semantic")
    logits.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in logits.get_weights()])
    experiment = load_experiment(None, tiny_overrides(data_root) + [
        "model.weights=pascal-source", "model.architecture={}",
        "model.class_names=[background, person]"])
    trainer = Trainer(experiment, tmp_path / "run",
                      resolve_weights=lambda name: (source, source_config))
    kernel, bias = trainer.model.get_layer("logits.semantic").get_weights()
    old_kernel, old_bias = logits.get_weights()
    assert kernel.shape[-1] == 2
    np.testing.assert_array_equal(kernel[..., 0], old_kernel[..., 0])
    person = PASCAL_VOC_CLASSES.index("person")
    np.testing.assert_array_equal(kernel[..., 1], old_kernel[..., person])
    np.testing.assert_array_equal(bias, old_bias[[0, 15]])
    for name in ("MobilenetV2.Conv", "concat_projection", "aspp0.BatchNorm"):
        for new, old in zip(trainer.model.get_layer(name).get_weights(),
                            source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(new, old)
    report = "\n".join(logged)
    assert "person <- person (row 15)" in report and "background <- background (row 0)" in report
    assert trainer.init_report.not_restored == []


def test_run_folder_is_a_weights_source(data_root, tmp_path):
    model_dir = tmp_path / "run"
    trainer = Trainer(load_experiment(None, tiny_overrides(data_root, **{"schedule.steps": 2})),
                      model_dir)
    trainer.train()
    assert is_run_folder(model_dir) and not is_run_folder(tmp_path)
    model, config = load_run_model(model_dir)
    assert config == trainer.model_config
    x = np.random.default_rng(0).uniform(-1, 1, (1, 33, 33, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x), trainer.model(x, training=False), atol=1e-5)
    with pytest.raises(ValueError, match="not a training run folder"):
        load_run_model(tmp_path)


def test_frozen_batch_norm_and_mixed_precision(data_root, tmp_path):
    """Frozen BN keeps statistics and affine parameters; bfloat16 compute trains the rest."""
    experiment = load_experiment(None, tiny_overrides(data_root, **{
        "schedule.steps": 2, "runtime.precision": "mixed_bfloat16",
        "model.freeze_batch_norm": "true"}))
    trainer = Trainer(experiment, tmp_path / "run")
    assert keras.mixed_precision.dtype_policy().name == "float32"  # global policy untouched
    conv = trainer.model.get_layer("MobilenetV2.Conv")
    batch_norm = trainer.model.get_layer("MobilenetV2.Conv.BatchNorm")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    before_bn = [w.copy() for w in batch_norm.get_weights()]
    before_kernel = conv.get_weights()[0].copy()
    result = trainer.train()
    assert all(np.isfinite(h["loss"]) for h in result.history)
    for old, new in zip(before_bn, batch_norm.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert not np.array_equal(before_kernel, conv.get_weights()[0])


def test_a_run_estimates_its_time_and_says_what_it_does_after_the_last_step(data_root, tmp_path,
                                                                             logged):
    experiment = load_experiment(None, tiny_overrides(data_root, **{"schedule.steps": 12}))
    Trainer(experiment, tmp_path / "run").train()
    estimates = [m for m in logged if "steps/s measured" in m]
    assert len(estimates) == 1  # once, after 5 timed steps (3-7; 1-2 compile): 5 steps left
    assert estimates[0].endswith("for the 5 steps left")
    assert logged[-1] == f"Writing {tmp_path / 'run' / 'model.keras'}"


def test_durations_read_as_a_person_reads_them():
    assert [format_duration(s) for s in (4.4, 65, 7805)] == ["4 s", "1 min 5 s", "2 h 10 min"]


def test_person_masks_train_a_model_with_more_classes_beside_a_frozen_teacher(data_root, tmp_path):
    from deeplab.model import save_model

    classes = ["background", "cat", "person"]
    config = ModelConfig("mobilenet_v2", 0.5, 3, 16, class_names=tuple(classes))
    teacher = build_deeplab(config)
    teacher_path = save_model(teacher, config, tmp_path / "teacher.keras")
    overrides = tiny_overrides(data_root, **{
        "schedule.steps": 4, "data.label_names": "[background, person]",
        "schedule.distill_from": str(teacher_path), "schedule.distill_weight": 0.5})
    overrides[0] = ("model.architecture={backbone: mobilenet_v2, depth_multiplier: 0.5, "
                    "num_classes: 3, output_stride: 16}")
    overrides.append(f"model.class_names=[{', '.join(classes)}]")
    trainer = Trainer(load_experiment(None, overrides), tmp_path / "run")
    assert trainer.teacher is not None and not trainer.teacher.trainable
    assert trainer.label_sets.tolist() == [[1, 1, 0], [0, 0, 1]]  # a cat may stay a cat
    result = trainer.train()
    assert result.step == 4 and all(np.isfinite(h["loss"]) for h in result.history)
    scores = trainer.evaluate(progress=False)
    assert "iou/person" in scores and "iou/cat" not in scores  # scored in the data's labels
