"""Distribution: global vs per-replica batch, and two real local workers training in sync."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from deeplab.config import ModelConfig
from deeplab.model import build_deeplab
from deeplab.training.distribution import is_chief, make_strategy, per_replica_batch
from conftest import PROJECT_ROOT
from data_fixtures import write_folder_dataset
from training_fixtures import tiny_overrides




class _FakeStrategy:
    num_replicas_in_sync = 4


def test_global_batch_splits_over_replicas():
    assert per_replica_batch(8, _FakeStrategy()) == 2
    with pytest.raises(ValueError, match="multiple of 4"):
        per_replica_batch(6, _FakeStrategy())


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")
    assert is_chief(make_strategy("default"))


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _restored_weights(checkpoint_dir: Path) -> list[np.ndarray]:
    latest = tf.train.latest_checkpoint(str(checkpoint_dir))
    assert latest is not None and latest.endswith("-2"), latest
    model = build_deeplab(ModelConfig("mobilenet_v2", 0.5, 2, 16))
    tf.train.Checkpoint(model=model).restore(latest).expect_partial()
    return [w.numpy() for w in model.weights]


def test_two_local_workers_train_two_steps_to_identical_weights(tmp_path):
    data_root = write_folder_dataset(tmp_path / "ds", count=8)
    model_dir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    overrides = tiny_overrides(data_root, **{
        "schedule.steps": 2, "runtime.strategy": "multi_worker",
        "runtime.keep_worker_checkpoints": "true", "data.val_fraction": 0.0})
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "--model-dir", str(model_dir)]
    for item in overrides:
        command += ["--set", item]
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300)[0].decode(errors="replace"))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief = _restored_weights(model_dir / "checkpoints")
    worker = _restored_weights(model_dir / "workers" / "worker_1")
    assert len(chief) == len(worker)
    for a, b in zip(chief, worker):
        np.testing.assert_array_equal(a, b)
    # the identical weights are trained ones: two optimizer steps with non-zero momentum
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    assert int(reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")) == 2
    momentum = [name for name in reader.get_variable_to_shape_map()
                if name.startswith("optimizer/_variables/")]
    assert momentum and all(np.any(reader.get_tensor(name) != 0) for name in momentum)
    assert "Trained steps 0 -> 2" in outputs[0] and "Trained steps 0 -> 2" in outputs[1]
