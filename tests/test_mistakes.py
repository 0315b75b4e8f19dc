"""Every mistake a user can make with train.py / export.py ends in a clear refusal, never in a
traceback, a lost file or a silently wrong run.

The cases, in the order of the issue: data loss in export, checkpoints that survive damage,
options and data checked before any work, clean interruption, plus the SavedModel's
``serving_bytes`` decoding JPEG as OpenCV does. Tiny models and generated files keep each case
to seconds.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import PROJECT_ROOT
from data_fixtures import write_folder_dataset

from deeplab.cli import export_main, train_main
from deeplab.training.config import load_experiment

TINY_ARCHITECTURE = ("model.architecture={backbone: mobilenet_v2, depth_multiplier: 0.5, "
                     "num_classes: 2, output_stride: 16}")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def tiny_overrides(data_root: Path, **extra) -> list[str]:
    values = {
        "data.root": str(data_root), "data.val_fraction": 0.25, "data.eval_longer_side": 48,
        "data.augment.crop_size": 33, "schedule.batch_size": 2, "schedule.steps": 4,
        "runtime.log_every_steps": 1, "runtime.checkpoint_every_steps": 2,
        "runtime.image_summary_every_steps": 0,
    }
    values.update(extra)
    return [TINY_ARCHITECTURE] + [f"{k}={v}" for k, v in values.items()]


def train_command(model_dir: Path, data_root: Path, *extra: str, **overrides) -> list[str]:
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "--model-dir", str(model_dir)]
    for item in tiny_overrides(data_root, **overrides):
        command += ["--set", item]
    return command + list(extra)


def one_line_error(captured: str) -> str:
    lines = [line for line in captured.strip().splitlines() if line.strip()]
    assert "Traceback" not in captured
    assert len(lines) == 1, captured
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return write_folder_dataset(tmp_path_factory.mktemp("data") / "ds", count=8)


@pytest.fixture(scope="module")
def trained_run(data_root, tmp_path_factory) -> Path:
    """A finished 4-step run with checkpoints at steps 2 and 4 (copied by each test)."""
    from deeplab.training.trainer import Trainer

    run = tmp_path_factory.mktemp("trained") / "run"
    Trainer(load_experiment(None, tiny_overrides(data_root)), run).train()
    return run


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy


def truncate(path: Path, size: int = 100) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)


# ------------------------------------------------------------------ 1. export: nothing lost

def test_overwrite_refuses_a_folder_holding_other_files(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    before = snapshot(folder)
    code = export_main(["--weights", "some_model.keras", "--output", str(folder), "--overwrite"])
    assert code == 2
    assert "holds other files (thesis.tex)" in one_line_error(capsys.readouterr().err)
    assert snapshot(folder) == before


def test_overwrite_refuses_the_weights_source_and_the_folder_holding_it(tmp_path, capsys):
    source = tmp_path / "models" / "person.keras"
    source.parent.mkdir()
    source.write_bytes(b"PK\x03\x04 not really")
    for output, fmt in ((source, "keras"), (source.parent, "saved_model"), (tmp_path, "saved_model")):
        code = export_main(["--weights", str(source), "--output", str(output), "--format", fmt,
                            "--overwrite"])
        assert code == 2
        assert "weights source" in one_line_error(capsys.readouterr().err)
    assert source.read_bytes() == b"PK\x03\x04 not really"


def test_overwrite_refuses_a_training_run_folder(run_copy, tmp_path, capsys):
    before = snapshot(run_copy)
    code = export_main(["--weights", "deeplabv3_mnv2_pascal_train_aug", "--output", str(run_copy),
                        "--overwrite"])
    assert code == 2
    assert "refusing to replace" in one_line_error(capsys.readouterr().err)
    assert snapshot(run_copy) == before


def test_an_existing_file_inside_the_run_folder_is_not_replaced(run_copy, capsys):
    final = run_copy / "model.keras"
    before = final.read_bytes()
    code = export_main(["--weights", str(run_copy), "--output", str(final), "--format", "keras",
                        "--overwrite"])
    assert code == 2
    assert "inside the weights source" in one_line_error(capsys.readouterr().err)
    assert final.read_bytes() == before


def test_output_dot_is_refused_cleanly_without_a_stray_folder(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for flags in ([], ["--overwrite"]):
        assert export_main(["--weights", "x.keras", "--output", ".", *flags]) == 2
        assert "current directory" in one_line_error(capsys.readouterr().err)
    assert export_main(["--weights", "x.keras", "--output", "..", "--overwrite"]) == 2
    assert "contains the current directory" in one_line_error(capsys.readouterr().err)
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_a_users_json_beside_a_tflite_output_is_not_replaced(tmp_path, capsys):
    notes = tmp_path / "person.json"
    notes.write_text('{"my": "notes"}')
    code = export_main(["--weights", "x.keras", "--output", str(tmp_path / "person.tflite"),
                        "--format", "tflite", "--overwrite"])
    assert code == 2
    assert "not a sidecar written by deeplab-export" in one_line_error(capsys.readouterr().err)
    assert notes.read_text() == '{"my": "notes"}'


@pytest.mark.parametrize("name, fmt", [("person.tflite", "tflite"), ("person.keras", "keras"),
                                       ("person.onnx", "onnx"), ("person.tar.gz", "compat")])
def test_overwrite_refuses_a_file_of_another_kind(name, fmt, tmp_path, capsys):
    photo = tmp_path / name
    photo.write_bytes(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    before = photo.read_bytes()
    code = export_main(["--weights", "x.keras", "--output", str(photo), "--format", fmt,
                        "--overwrite"])
    assert code == 2
    assert "--overwrite only replaces an earlier" in one_line_error(capsys.readouterr().err)
    assert photo.read_bytes() == before


def test_overwrite_recognises_an_earlier_saved_model_export(tmp_path):
    from deeplab.export.output_target import check_output

    export = tmp_path / "exported"
    (export / "variables").mkdir(parents=True)
    (export / "assets").mkdir()
    (export / "saved_model.pb").write_bytes(b"\x08\x01")
    (export / "variables" / "variables.index").write_bytes(b"")
    (export / "assets" / "metadata.json").write_text(json.dumps({"format": "deeplab-saved-model"}))
    check_output(export, "saved_model", overwrite=True, inputs={"weights source": "x.keras"})
    (export / "assets" / "metadata.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a SavedModel written by deeplab-export"):
        check_output(export, "saved_model", overwrite=True, inputs={})


@pytest.mark.parametrize("value", ["nan", "inf", "-0.1", "99.9"])
def test_min_agreement_nan_or_out_of_range_is_refused(value, tmp_path, capsys):
    code = export_main(["--weights", "x.keras", "--output", str(tmp_path / "out"),
                        "--min-agreement", value])
    assert code == 2
    assert "--min-agreement must be a number from 0 to 1" in one_line_error(
        capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, message", [
    (["--samples", "0"], "--samples must be a whole number from 1"),
    (["--calibration-limit", "-3", "--format", "tflite", "--precision", "int8",
      "--calibration-dir", "."], "--calibration-limit"),
    (["--sample-dir", "no/such/folder"], "--sample-dir no/such/folder: no such folder"),
    (["--format", "keras"], "writes a .keras file"),
    (["--sample-dir", "EMPTY"], "no images"),
])
def test_other_export_options_are_checked_before_any_work(flags, message, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    flags = [str(tmp_path / "empty") if flag == "EMPTY" else flag for flag in flags]
    code = export_main(["--weights", "x.keras", "--output", str(tmp_path / "out"), *flags])
    assert code == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_overwrite_replaces_an_earlier_export_and_leaves_no_temporary_files(tmp_path):
    from deeplab.config import ModelConfig
    from deeplab.model import build_deeplab, save_model

    config = ModelConfig("mobilenet_v2", 0.5, 2, 16, crop_size=65)
    source = save_model(build_deeplab(config), config, tmp_path / "source.keras")
    output = tmp_path / "out" / "copy.keras"
    arguments = ["--weights", str(source), "--output", str(output), "--format", "keras",
                 "--samples", "1"]
    assert export_main(arguments) == 0
    first = output.read_bytes()
    assert export_main(arguments) == 2  # exists, no --overwrite
    assert export_main(arguments + ["--overwrite"]) == 0
    assert output.is_file() and output.read_bytes() != b""
    assert sorted(p.name for p in output.parent.iterdir()) == ["copy.keras"]
    assert len(first) > 0


def test_sigterm_during_export_removes_the_temporary_artifact_and_new_folders(tmp_path):
    from deeplab.config import ModelConfig
    from deeplab.model import build_deeplab, save_model

    config = ModelConfig("mobilenet_v2", 0.5, 2, 16, crop_size=65)
    source = save_model(build_deeplab(config), config, tmp_path / "source.keras")
    output = tmp_path / "new" / "exported"
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "export.py"), "--weights", str(source), "--output",
         str(output), "--samples", "1"], cwd=PROJECT_ROOT, env=ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            if list(tmp_path.glob("new/.exported.tmp-*")):
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        process.send_signal(signal.SIGTERM)
        stderr = process.communicate(timeout=120)[1].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr and "terminated" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.keras"]


# ------------------------------------------------------------------ 2. checkpoints survive damage

def resume(run: Path, data_root: Path, steps: int = 4, logged: list[str] | None = None,
           **kwargs):
    """(trainer, what it logged while set up: ``logged``, the fixture's list)."""
    from deeplab.training.trainer import Trainer

    experiment = load_experiment(None, tiny_overrides(data_root, **{"schedule.steps": steps}))
    trainer = Trainer(experiment, run, **kwargs)
    return trainer, logged if logged is not None else []


def test_damaged_checkpoint_list_file_resumes_from_the_newest_checkpoint(run_copy, data_root,
                                                                        logged):
    (run_copy / "checkpoints" / "checkpoint").write_text("garbage ::: {{\n")
    trainer, messages = resume(run_copy, data_root, steps=6, logged=logged)
    assert trainer.current_step() == 4
    assert any("Resuming from" in m and "ckpt-4" in m for m in messages)
    result = trainer.train()
    assert result.step == 6
    assert (run_copy / "checkpoints" / "ckpt-4.index").is_file()


def test_truncated_newest_checkpoint_falls_back_to_the_previous_one(run_copy, data_root, logged):
    truncate(run_copy / "checkpoints" / "ckpt-4.data-00000-of-00001")
    trainer, messages = resume(run_copy, data_root, logged=logged)
    assert trainer.current_step() == 2
    assert any(m.startswith("Skipped ckpt-4: unreadable") for m in messages), messages
    assert any("ckpt-2" in m and "Resuming" in m for m in messages)


def test_no_restorable_checkpoint_never_restarts_from_zero(run_copy, data_root):
    from deeplab.weights.run_checkpoints import NoRestorableCheckpoint

    for index in (run_copy / "checkpoints").glob("*.index"):
        truncate(index, 10)
    before = snapshot(run_copy / "checkpoints")
    with pytest.raises(NoRestorableCheckpoint, match="--restart"):
        resume(run_copy, data_root)
    assert snapshot(run_copy / "checkpoints") == before
    trainer, _ = resume(run_copy, data_root, restart=True)
    assert trainer.current_step() == 0
    aside = list(run_copy.glob("checkpoints.before-restart-*"))
    assert len(aside) == 1 and snapshot(aside[0]) == before


def test_train_py_names_the_damage_and_exits_2_instead_of_restarting(run_copy, data_root):
    for data in (run_copy / "checkpoints").glob("*.data-*"):
        truncate(data)
    result = subprocess.run(train_command(run_copy, data_root), cwd=PROJECT_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "ckpt-4: unreadable" in result.stderr and "--restart" in result.stderr


def test_history_is_deduplicated_on_resume(run_copy, data_root):
    history = run_copy / "history.jsonl"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines + lines[-1:] + ['{"step": 9, "loss": 1.0}', '{"ste']))
    truncate(run_copy / "checkpoints" / "ckpt-4.index", 10)
    trainer, _ = resume(run_copy, data_root)
    assert [json.loads(line)["step"] for line in history.read_text().splitlines()] == [1, 2]
    trainer.train()
    assert [json.loads(line)["step"] for line in history.read_text().splitlines()] == [1, 2, 3, 4]


def test_run_folder_with_a_truncated_newest_checkpoint_loads_the_previous_one(run_copy, logged):
    import tensorflow as tf

    from deeplab.weights import resolve_model

    truncate(run_copy / "checkpoints" / "ckpt-4.data-00000-of-00001")
    model, config = resolve_model(str(run_copy))
    err = "\n".join(logged)
    assert "Skipped ckpt-4" in err and "using ckpt-2" in err
    from deeplab.model import build_deeplab

    reference = build_deeplab(config)
    tf.train.Checkpoint(model=reference).restore(
        str(run_copy / "checkpoints" / "ckpt-2")).expect_partial()
    for ours, expected in zip(model.weights, reference.weights):
        np.testing.assert_array_equal(ours.numpy(), expected.numpy())


# ------------------------------------------------------------------ 3. checked before any work

@pytest.mark.parametrize("override, message", [
    ("runtime.log_every_steps=0", "runtime.log_every_steps must be >= 1"),
    ("runtime.eval_scales=abc", "runtime.eval_scales must be a list"),
    ("runtime.eval_scales=[1, two]", "runtime.eval_scales[1] must be a number"),
    ("model.class_names=person", "model.class_names must be a list"),
    ("model.class_names=[person]", "at least two classes"),
    ("schedule.warmup_steps=500", "schedule.warmup_steps (500) is larger than schedule.steps"),
    ("schedule.steps=ten", "schedule.steps must be a whole number"),
    ("schedule.learning_rate=.nan", "schedule.learning_rate must be a finite number"),
    ("data.augment.crop_size=0", "data.augment.crop_size must be a size in pixels"),
    ("data.augment.crop_size=100000", "data.augment.crop_size must be a size in pixels"),
    ("data.eval_longer_side=-5", "data.eval_longer_side must be a size in pixels"),
    ("model.architecture={crop_size: 0}", "model.architecture.crop_size"),
    ("model.architecture={output_strid: 8}", "output_strid"),
    ("model.architecture={output_stride: 12}", "output_stride must be 8, 16 or 32"),
    ("model.architecture={backbone: resnet}", "backbone must be one of"),
    ("model.architecture={num_classes: 0}", "num_classes must be positive"),
    ("runtime.eval_flip=yes please", "runtime.eval_flip must be true or false"),
    ("schedule.steps=[1,", "not valid YAML"),
])
def test_bad_options_exit_2_with_one_line_before_any_work(override, message, tmp_path, capsys):
    code = train_main(["--model-dir", str(tmp_path / "run"), "--set", "schedule.steps=100",
                       "--set", override])
    assert code == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_model_dir_that_is_a_file_is_refused(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert train_main(["--model-dir", str(notes)]) == 2
    assert "is a file" in one_line_error(capsys.readouterr().err)
    assert notes.read_text() == "mine"


def test_model_dir_holding_other_files_is_refused(tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"my own model")
    assert train_main(["--model-dir", str(folder)]) == 2
    assert "not a training run folder and holds other files (model.keras)" in one_line_error(
        capsys.readouterr().err)
    assert sorted(p.name for p in folder.iterdir()) == ["model.keras"]


def test_tensorflow_noise_is_hidden_unless_verbose(tmp_path):
    command = [sys.executable, str(PROJECT_ROOT / "export.py"), "--weights",
               str(tmp_path / "missing.keras"), "--output", str(tmp_path / "out")]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in ENV.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert quiet.returncode == 1
    assert "missing.keras" in one_line_error(quiet.stderr)
    verbose = subprocess.run(command + ["--verbose"], capture_output=True, text=True,
                             timeout=120, env={k: v for k, v in ENV.items()
                                               if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert verbose.returncode == 1 and len(verbose.stderr.strip().splitlines()) > 1


def test_only_known_tensorflow_noise_is_hidden_errors_pass():
    from deeplab.tf_noise import NOISE

    hidden = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796142709.069001    3433 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1796143000.081279    5421 cuda_platform.cc:52] failed call to cuInit: x",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags.",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    ]
    shown = ["E0000 00:00:1.0 1 op_kernel.cc:1] OP_REQUIRES failed: No space left on device",
             "F0000 00:00:1.0 1 check.cc:1] Check failed: ok", "export.py: error: x"]
    assert all(NOISE.match(line) for line in hidden)
    assert not any(NOISE.match(line) for line in shown)


def test_an_unexpected_failure_is_one_line_and_verbose_shows_the_traceback(tmp_path, monkeypatch,
                                                                          capsys):
    import deeplab.export

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(deeplab.export, "export", broken, raising=False)
    arguments = ["--weights", "x.keras", "--output", str(tmp_path / "out")]
    assert export_main(arguments) == 1
    assert "unexpected error KeyError" in one_line_error(capsys.readouterr().err)
    with pytest.raises(KeyError):
        export_main(arguments + ["--verbose"])


def test_a_fatal_native_error_before_an_abort_still_reaches_the_terminal():
    code = ("import os; from deeplab.tf_noise import quiet_tensorflow; quiet_tensorflow(); "
            "os.write(2, b'I0000 00:00:17.1 1 port.cc:1] noise\\n'); "
            "os.write(2, b'F0000 00:00:17.2 1 x.cc:1] Check failed: fatal\\n'); os.abort()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == -signal.SIGABRT
    assert result.stderr == "F0000 00:00:17.2 1 x.cc:1] Check failed: fatal\n"


def test_learning_rate_written_as_1e_minus_3_is_a_number():
    assert load_experiment(None, ["schedule.learning_rate=1e-3"]).schedule.learning_rate == 0.001


def test_malformed_yaml_exits_2_naming_the_line(tmp_path, capsys):
    config = tmp_path / "broken.yaml"
    config.write_text("schedule:\n  steps: 10\n  batch_size: [4\nruntime: {}\n")
    assert train_main(["--config", str(config), "--model-dir", str(tmp_path / "run")]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "broken.yaml" in line and "not valid YAML" in line and "line 4" in line


@pytest.mark.parametrize("script", ["train.py", "export.py"])
def test_help_answers_without_importing_tensorflow(script):
    result = subprocess.run([sys.executable, "-X", "importtime", str(PROJECT_ROOT / script),
                             "--help"], capture_output=True, text=True, timeout=60, env=ENV)
    assert result.returncode == 0 and "--verbose" in result.stdout
    assert "tensorflow" not in result.stderr.lower()


def broken_data_set(root: Path, damage: str) -> Path:
    write_folder_dataset(root, count=6)
    first = root / "images" / "img00.png"
    if damage == "corrupt photo":
        ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(first)))
        first.unlink()
        (root / "images" / "img00.jpg").write_bytes(jpeg.tobytes()[:len(jpeg) // 2])
    elif damage == "mask of another shape":
        cv2.imwrite(str(root / "masks" / "img03.png"), np.zeros((40, 40), np.uint8))
    elif damage == "labels beyond the classes":
        mask = np.zeros((40, 56), np.uint8)
        mask[5:10, 5:10] = 7
        cv2.imwrite(str(root / "masks" / "img02.png"), mask)
    elif damage == "photo without a mask":
        (root / "masks" / "img05.png").unlink()
    elif damage == "mask saved as JPEG":
        mask = cv2.imread(str(root / "masks" / "img04.png"))
        (root / "masks" / "img04.png").unlink()
        cv2.imwrite(str(root / "masks" / "img04.jpg"), mask)
    elif damage == "16-bit mask":
        cv2.imwrite(str(root / "masks" / "img03.png"), np.ones((40, 56), np.uint16))
    elif damage == "colour mask":
        cv2.imwrite(str(root / "masks" / "img01.png"), np.zeros((40, 56, 3), np.uint8) + 9)
    elif damage == "photo over the pixel budget":  # a PNG header declaring 20000 x 20000
        import zlib

        header = b"IHDR" + (20000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
        chunk = (13).to_bytes(4, "big") + header + zlib.crc32(header).to_bytes(4, "big")
        end = (0).to_bytes(4, "big") + b"IEND" + zlib.crc32(b"IEND").to_bytes(4, "big")
        (root / "images" / "img02.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + end)
    return root


@pytest.mark.parametrize("damage, message", [
    ("corrupt photo", "img00.jpg: cannot decode the photo"),
    ("mask of another shape", "img03.png: mask is 40x40 but its photo is 56x40"),
    ("labels beyond the classes", "img02.png: label values [7] but the model has 2 classes"),
    ("photo without a mask", "1 photo(s) without a mask"),
    ("colour mask", "img01.png: a colour mask"),
    ("mask saved as JPEG", "img04.jpg): masks must be PNG"),
    ("16-bit mask", "img03.png: a 16-bit PNG mask"),
    ("photo over the pixel budget", "img02.png: 20000x20000 is 400 megapixels"),
])
def test_data_set_problems_are_named_by_file_before_training(damage, message, tmp_path):
    from deeplab.data.checks import DataSetError
    from deeplab.training.trainer import Trainer

    root = broken_data_set(tmp_path / "ds", damage)
    experiment = load_experiment(None, tiny_overrides(root))
    with pytest.raises(DataSetError, match="problem") as raised:
        Trainer(experiment, tmp_path / "run")
    assert message in str(raised.value)
    assert not (tmp_path / "run").exists()


def test_a_voc_root_without_the_download_is_named_before_any_weights_load(tmp_path):
    from deeplab.training.trainer import Trainer

    experiment = load_experiment(None, tiny_overrides(tmp_path, **{"data.kind": "voc"}))

    def no_weights(source):
        raise AssertionError("weights must not be loaded before the data is checked")

    with pytest.raises(FileNotFoundError, match=r"ImageSets/Segmentation/train\.txt not found"):
        Trainer(experiment, tmp_path / "run", resolve_weights=no_weights)


def test_person_masks_for_a_21_class_model_are_refused(tmp_path):
    from deeplab.data.checks import DataSetError
    from deeplab.training.trainer import Trainer

    root = write_folder_dataset(tmp_path / "ds", count=4)
    overrides = tiny_overrides(root)
    overrides[0] = overrides[0].replace("num_classes: 2", "num_classes: 21")
    with pytest.raises(DataSetError, match=r"class 1 is 'aeroplane'.*\[background, person\]"):
        Trainer(load_experiment(None, overrides), tmp_path / "run")


# ------------------------------------------------------------------ 4. clean interruption

def test_ctrl_c_saves_a_checkpoint_prints_one_line_and_exits_130(data_root, tmp_path):
    run = tmp_path / "run"
    command = train_command(run, data_root, **{"schedule.steps": 100000,
                                               "runtime.checkpoint_every_steps": 1000})
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            history = run / "history.jsonl"
            if history.is_file() and len(history.read_text().splitlines()) >= 2:
                break
            time.sleep(0.2)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        process.send_signal(signal.SIGINT)
        stdout, stderr = (s.decode() for s in process.communicate(timeout=120))
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    summary = [line for line in stderr.splitlines() if "stopped by Ctrl-C" in line]
    assert len(summary) == 1 and "run the same command to resume" in summary[0]
    steps = [int(p.name.split("-")[1].split(".")[0]) for p in
             (run / "checkpoints").glob("ckpt-*.index")]
    assert steps and f"ckpt-{max(steps)}" in summary[0]
    assert not (run / "model.keras").exists()


def test_disk_full_at_checkpoint_time_keeps_the_previous_checkpoint(run_copy, data_root):
    def limit_file_size():  # writes past 1 MB fail as on a full disk (EFBIG, not a kill)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    before = snapshot(run_copy / "checkpoints")
    result = subprocess.run(train_command(run_copy, data_root, **{"schedule.steps": 6}),
                            cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True,
                            timeout=300, preexec_fn=limit_file_size)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "could not write the checkpoint of step 6" in result.stderr
    assert "ckpt-4 is kept" in result.stderr
    after = snapshot(run_copy / "checkpoints")
    assert {k: v for k, v in after.items() if k != "checkpoint"} == \
        {k: v for k, v in before.items() if k != "checkpoint"}


# ------------------------------------------------------------------ issue 11: serving_bytes

def test_serving_bytes_decodes_jpeg_as_opencv_and_agrees_with_serving_default(tmp_path):
    import tensorflow as tf

    from deeplab.config import ModelConfig
    from deeplab.export.saved_model import InferenceOptions, inference_network
    from deeplab.export.serving import DeepLabServing, serving_metadata
    from deeplab.export.verify import generated_images
    from deeplab.model import build_deeplab

    config = ModelConfig("mobilenet_v2", 0.5, 2, 16, crop_size=129)
    network = inference_network(build_deeplab(config), InferenceOptions())
    metadata_path = tmp_path / "metadata.json"
    metadata_path.write_text("{}")
    module = DeepLabServing(network, config, serving_metadata(config, 129), str(metadata_path),
                            crop_size=129)
    equal = total = 0
    for _name, image in generated_images(3, seed=3):
        ok, jpeg = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        opencv = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
        by_bytes = module.serve_bytes(tf.constant(jpeg.tobytes()))["labels"].numpy()[0]
        direct = module.serve(tf.constant(np.ascontiguousarray(opencv)[np.newaxis]))
        equal += int(np.count_nonzero(by_bytes == direct["labels"].numpy()[0]))
        total += by_bytes.size
    assert equal / total >= 0.9999


def jpeg_with_orientation(image: np.ndarray, orientation: int, byte_order: str) -> bytes:
    """A JPEG whose EXIF block (in ``II`` or ``MM`` byte order) says ``orientation``."""
    import io
    import struct

    from PIL import Image

    e = ">" if byte_order == "MM" else "<"
    tiff = (byte_order.encode() + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 2)
            + struct.pack(e + "HHI", 0x010F, 2, 4) + b"cam\x00"
            + struct.pack(e + "HHIH", 0x0112, 3, 1, orientation) + b"\x00\x00"
            + struct.pack(e + "I", 0))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=90, exif=b"Exif\x00\x00" + tiff)
    return buffer.getvalue()


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_serving_bytes_turns_sideways_phone_photos_upright_as_opencv(byte_order):
    import tensorflow as tf

    from deeplab.export.exif import decode_jpeg_like_opencv

    image = np.random.default_rng(0).integers(0, 256, (30, 50, 3)).astype(np.uint8)
    image[:10, :20] = 255
    decode = tf.function(decode_jpeg_like_opencv, input_signature=[tf.TensorSpec([], tf.string)])
    for orientation in range(1, 9):
        data = jpeg_with_orientation(image, orientation, byte_order)
        opencv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        np.testing.assert_array_equal(decode(tf.constant(data)).numpy(), opencv)
    for broken in (b"\xff\xd8Exif\x00\x00MM\x00*\xff\xff\xff\xff", b"Exif\x00\x00II*\x00"):
        from deeplab.export.exif import exif_orientation

        assert int(exif_orientation(tf.constant(broken))) == 1


# ================================================================== issue 18: round 2
# Memory cases run in a subprocess under an address-space limit (RLIMIT_AS), never by filling
# the machine; portrait cases use the fake network of portrait_fakes.

from fractions import Fraction  # noqa: E402

from portrait_fakes import BrightIsPerson, photo, save  # noqa: E402

from deeplab.image_files import (ImageTooLargeError, UnreadableImageError,  # noqa: E402
                                 decode_pixels, image_size, read_photo)
from deeplab.portrait.cli import main as infer_main  # noqa: E402
from deeplab.portrait.pipeline import PortraitOptions, run_portrait  # noqa: E402

TESTS = Path(__file__).resolve().parent


def radiance_picture(width: int, height: int) -> bytes:
    """A valid run-length-encoded Radiance picture of one grey: 11000 x 11000 (121 MP, 1.45 GB
    as float RGB) takes 7.7 MB."""
    runs = []
    left = width
    while left:
        count = min(127, left)
        runs += [128 + count, 128]
        left -= count
    scanline = bytes([2, 2, width >> 8, width & 255]) + bytes(runs) * 4
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (height, width) \
        + scanline * height


def limited_run(command: list[str], megabytes: int, **kwargs) -> subprocess.CompletedProcess:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))

    return subprocess.run(command, cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True,
                          timeout=300, preexec_fn=limit, **kwargs)


def write_vfr_video(path: Path, frames: int = 30, codec: str = "libx264") -> Path:
    """A variable-frame-rate clip: 30 fps, then 10 fps (timestamps in milliseconds)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(photo(96, 128), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            pts += 33 if index < frames // 2 else 100
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


# ------------------------------------------------------------------ the pixel budget

def test_a_radiance_picture_named_png_is_measured_by_its_header_not_decoded(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "big.png").write_bytes(radiance_picture(11000, 11000))
    matte = save(tmp_path / "m.png", np.zeros((8, 8, 3), np.uint8))  # no network needed
    result = limited_run([sys.executable, "infer.py", str(folder / "big.png"), "--output",
                          str(tmp_path / "out"), "--matte", str(matte), "--quiet"], 1024)
    assert result.returncode == 1, result.stderr
    assert "11000x11000 is 121 megapixels, over the limit of 100" in result.stderr
    assert "Insufficient memory" not in result.stderr and "Traceback" not in result.stderr
    assert image_size(radiance_picture(64, 40)) == (64, 40)
    assert decode_pixels(radiance_picture(64, 40), "small").shape == (40, 64, 3)


def test_export_sample_dir_images_share_the_pixel_budget(tmp_path):
    from deeplab.export.verify import folder_images

    (tmp_path / "huge.png").write_bytes(radiance_picture(11000, 11000))
    with pytest.raises(ImageTooLargeError, match="121 megapixels"):
        folder_images(tmp_path)


@pytest.mark.parametrize("head", [b"\x76\x2f\x31\x01 OpenEXR", b"GIF89a\x01", b"plain text"])
def test_an_image_whose_size_cannot_be_read_first_is_not_decoded(head, tmp_path, monkeypatch):
    path = tmp_path / "odd.png"
    path.write_bytes(head + bytes(64))
    monkeypatch.setattr("cv2.imdecode", lambda *a: pytest.fail("decoded an unmeasured image"))
    with pytest.raises(UnreadableImageError, match="expected a JPEG, PNG"):
        read_photo(path)


def test_the_decoded_size_is_checked_as_well_as_the_header(tmp_path, monkeypatch):
    path = save(tmp_path / "p.png", photo(200, 300))
    monkeypatch.setattr("deeplab.image_files.image_size", lambda source: (10, 10))  # lies
    with pytest.raises(ImageTooLargeError, match="300x200"):
        read_photo(path, max_pixels=1000)


def test_a_matte_and_a_background_are_held_to_the_pixel_budget(tmp_path):
    image = save(tmp_path / "p.png", photo(40, 60))
    matte = save(tmp_path / "m.png", photo(400, 600))
    options = PortraitOptions(output_dir=tmp_path / "out", matte=matte, max_pixels=100_000)
    summary = run_portrait([image], options, progress=False)
    assert summary.exit_code == 1 and "600x400" in summary.failed[0][1]
    background = save(tmp_path / "bg.png", photo(400, 600))
    with pytest.raises(ImageTooLargeError, match="600x400"):
        run_portrait([image], PortraitOptions(output_dir=tmp_path / "out", mode="replace",
                                              background=background, max_pixels=100_000),
                     model=BrightIsPerson(), progress=False)


def test_video_frames_over_the_pixel_budget_are_refused_before_decoding(tmp_path, monkeypatch):
    video = write_vfr_video(tmp_path / "clip.mp4", frames=4)
    import av

    monkeypatch.setattr(av.VideoFrame, "to_ndarray",
                        lambda *a, **k: pytest.fail("decoded a refused frame"))
    summary = run_portrait([video], PortraitOptions(output_dir=tmp_path / "out",
                                                    max_pixels=5000),
                           model=BrightIsPerson(), progress=False)
    assert summary.exit_code == 1 and "128x96" in summary.failed[0][1]
    assert "megapixels" in summary.failed[0][1] and not (tmp_path / "out" / "clip.mp4").exists()


# ------------------------------------------------------------------ inputs and outputs

def test_output_folder_above_an_input_folder_keeps_every_photo(tmp_path, monkeypatch):
    parent = tmp_path / "par"
    save(parent / "photos" / "a.png", photo())
    save(parent / "photos" / "trip" / "b.png", photo())
    monkeypatch.chdir(parent)
    summary = run_portrait(["photos"], PortraitOptions(output_dir=Path(".")),
                           model=BrightIsPerson(), progress=False)
    assert sorted(str(p) for p in summary.written) == ["a.png", "trip/b.png"]
    summary = run_portrait(["photos/*.png"], PortraitOptions(output_dir=Path("out")),
                           model=BrightIsPerson(), progress=False)
    assert [str(p) for p in summary.written] == ["out/a.png"]


def test_a_folder_without_photos_is_an_error_not_zero_written(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    assert infer_main([str(tmp_path / "empty"), "--output", str(tmp_path / "out")]) == 2
    assert "no image or video in folder" in one_line_error(capsys.readouterr().err)


def test_an_unreadable_subfolder_is_reported_not_skipped(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    save(folder / "a.png", photo())
    save(folder / "locked" / "b.png", photo())
    real_scandir = os.scandir

    def scandir(path="."):  # as root, chmod 000 does not lock a folder: refuse it here
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    summary = run_portrait([folder], PortraitOptions(output_dir=tmp_path / "out"),
                           model=BrightIsPerson(), progress=False)
    assert summary.exit_code == 1 and len(summary.written) == 1
    assert "locked" in str(summary.failed[0][0]) and "Permission denied" in summary.failed[0][1]


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_output_naming_an_existing_file_is_refused(overwrite, tmp_path, capsys):
    image = save(tmp_path / "p.png", photo())
    existing = save(tmp_path / "result.png", photo(10, 10))
    before = existing.read_bytes()
    for output in (existing, existing / "sub"):
        assert infer_main([str(image), "--output", str(output), *overwrite]) == 2
        assert "not a folder" in one_line_error(capsys.readouterr().err)
    assert existing.read_bytes() == before


@pytest.mark.parametrize("flags, message", [
    (["--background", "BG"], "--background is used only with --mode replace"),
    (["--background", "BG", "--mode", "cutout"], "--mode replace (the mode is cutout)"),
    (["--mode", "matte", "--blur-radius", "9"], "--blur-radius is used only with --mode blur"),
    (["--mode", "replace", "--background", "BG", "--depth-falloff", "0.3"], "--depth-falloff"),
])
def test_an_option_the_mode_ignores_is_refused(flags, message, tmp_path, capsys):
    image = save(tmp_path / "p.png", photo())
    background = save(tmp_path / "bg.png", photo())
    flags = [str(background) if flag == "BG" else flag for flag in flags]
    assert infer_main([str(image), "--output", str(tmp_path / "out"), *flags]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_an_unknown_class_is_refused_once_before_any_file(tmp_path, capsys, monkeypatch):
    loads = []
    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model",
                        lambda source, **options: loads.append(source) or BrightIsPerson())
    folder = tmp_path / "photos"
    for index in range(5):
        save(folder / f"{index}.png", photo())
    code = infer_main([str(folder), "--output", str(tmp_path / "out"), "--classes", "persn",
                       "--batch-size", "1"])
    line = one_line_error(capsys.readouterr().err)
    assert code == 2 and "'persn'" in line
    assert sorted(loads) == ["person", "person_fast"]  # each model once: photos, its veto
    assert not (tmp_path / "out").exists()


def test_an_unknown_class_is_refused_before_a_video_too(tmp_path):
    video = write_vfr_video(tmp_path / "clip.mp4", frames=4)
    with pytest.raises(ValueError, match="--classes persn: class 'persn' is not in"):
        run_portrait([video], PortraitOptions(output_dir=tmp_path / "out", classes="persn"),
                     model=BrightIsPerson(), progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix, codec", [(".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_variable_frame_rate_mkv_and_webm_are_accepted(suffix, codec, tmp_path):
    video = write_vfr_video(tmp_path / f"clip{suffix}", codec=codec)
    summary = run_portrait([video], PortraitOptions(output_dir=tmp_path / "out"),
                           model=BrightIsPerson(), progress=False)
    assert summary.exit_code == 0 and not summary.failed, summary.report()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    summary = run_portrait([cut], PortraitOptions(output_dir=tmp_path / "out"),
                           model=BrightIsPerson(), progress=False)
    assert summary.exit_code == 1 and "truncated" in summary.failed[0][1]


def test_sigterm_during_a_video_removes_its_temporary_file(tmp_path):
    video = write_vfr_video(tmp_path / "clip.mp4", frames=120)
    out = tmp_path / "out"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import deeplab.portrait.pipeline as pipeline\n"
        "from portrait_fakes import BrightIsPerson\n"
        "class Slow(BrightIsPerson):\n"
        "    def probabilities(self, images):\n"
        "        time.sleep(0.1)\n"
        "        return super().probabilities(images)\n"
        "pipeline.load_probability_model = lambda source, **options: Slow()\n"
        "from deeplab.portrait.cli import main\n"
        f"sys.exit(main([{str(video)!r}, '--output', {str(out)!r}, '--quiet']))\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None \
                and not (out.is_dir() and list(out.glob(".clip.mp4.tmp-*"))):
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, stderr
    assert "terminated" in one_line_error(stderr)
    assert list(out.iterdir()) == []


def test_an_unwritable_cache_falls_back_to_converting_in_memory(tmp_path, monkeypatch, caplog):
    from deeplab.portrait import litert

    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DEEPLAB_CACHE_DIR", str(blocker))
    network = (PROJECT_ROOT / "deeplab" / "models").glob("*.keras")
    source = next(network)
    made = []

    def convert(source, crop_size, precision="float32"):
        made.append(crop_size)
        return b"TFL3 flatbuffer", {"class_names": ["background", "person"]}

    class Runtime:
        def __init__(self, content, class_names=None, num_threads=None):
            self.content, self.class_names = content, tuple(class_names or ())

    monkeypatch.setattr(litert, "convert_source", convert)
    monkeypatch.setattr(litert, "LiteRTRuntime", Runtime)
    monkeypatch.setattr(litert, "PortraitModel", lambda runtime, reload=None: runtime)
    with caplog.at_level("WARNING", logger="deeplab"):
        model = litert.load_litert_model(source, crop_size=65)
    assert model.content == b"TFL3 flatbuffer" and made == [65]
    assert "cannot write the network cache" in caplog.text and blocker.read_text() == "not a folder"


# ------------------------------------------------------------------ YAML

ANCHOR_BOMB = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
               + "".join(f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
                         for a, b in zip("abcdefgh", "bcdefghi"))
               + "model:\n  weights: *i\n")


@pytest.mark.parametrize("text, message", [
    (ANCHOR_BOMB, "expand to more than"),
    ("model:\n  weights: " + "[" * 3000 + "]" * 3000 + "\n", "levels deep"),
    ("schedule:\n  steps: 5\n  batch_size: 2\n  steps: 6\n", "'steps' appears twice"),
    ("model:\n  class_names: " + "{a: " * 40 + "1" + "}" * 40 + "\n", "levels deep"),
])
def test_hostile_or_mistaken_yaml_is_one_line_exit_2_within_bounded_memory(text, message,
                                                                          tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = limited_run([sys.executable, "train.py", "--config", str(config), "--model-dir",
                          str(tmp_path / "run")], 1024)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in one_line_error(result.stderr)
    assert not (tmp_path / "run").exists()


def test_a_yaml_override_is_held_to_the_same_bounds():
    with pytest.raises(ValueError, match="levels deep"):
        load_experiment(None, ["model.weights=" + "[" * 100 + "]" * 100])
    shared = load_experiment(None, ["model.class_names=[background, person]"])
    assert shared.model.class_names == ["background", "person"]


# ------------------------------------------------------------------ one run folder, one run

def test_a_second_training_on_the_same_run_folder_is_refused(run_copy, data_root, capsys):
    from deeplab.training.run_lock import RunFolderLock

    with RunFolderLock(run_copy):
        before = snapshot(run_copy)
        code = train_main(["--model-dir", str(run_copy)]
                          + [a for item in tiny_overrides(data_root, **{"schedule.steps": 6})
                             for a in ("--set", item)])
        err = capsys.readouterr().err
        assert code == 1 and "in use by another training run" in one_line_error(err)
        assert f"process {os.getpid()}" in err
        assert {k: v for k, v in snapshot(run_copy).items() if k != ".train.lock"} == \
            {k: v for k, v in before.items() if k != ".train.lock"}
    assert not (run_copy / ".train.lock").exists()


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(tmp_path):
    from deeplab.training.run_lock import RunFolderLock

    script = ("import os, signal; from deeplab.training.run_lock import RunFolderLock; "
              f"lock = RunFolderLock({str(tmp_path)!r}).acquire(); "
              "os.kill(os.getpid(), signal.SIGKILL)")
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=ENV)
    assert result.returncode == -signal.SIGKILL and (tmp_path / ".train.lock").exists()
    with RunFolderLock(tmp_path) as lock:
        assert lock.held


def test_resuming_with_another_class_count_is_refused(run_copy, data_root, capsys):
    before = snapshot(run_copy)
    arguments = ["--model-dir", str(run_copy)]
    for item in tiny_overrides(data_root, **{"schedule.steps": 6}) + [
            "model.class_names=[background, person, dog]"]:
        arguments += ["--set", item]
    assert train_main(arguments) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "num_classes 2 in the folder, 3 asked" in line and "--restart" in line
    assert snapshot(run_copy) == before


def test_unfinished_checkpoint_saves_are_removed_at_start_up(run_copy, data_root, logged):
    leftover = run_copy / "checkpoints" / "ckpt-6_temp"
    leftover.mkdir()
    (leftover / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half")
    trainer, messages = resume(run_copy, data_root, logged=logged)
    assert not leftover.exists() and any("ckpt-6_temp" in m for m in messages)
    assert trainer.current_step() == 4


def test_checkpoint_retention_counts_the_whole_folder_across_resumes(run_copy, data_root):
    from deeplab.training.trainer import Trainer

    for steps in (6, 8, 10):
        experiment = load_experiment(None, tiny_overrides(data_root, **{
            "schedule.steps": steps, "runtime.keep_checkpoints": 2}))
        Trainer(experiment, run_copy).train()
    found = sorted(int(p.name.split("-")[1].split(".")[0])
                   for p in (run_copy / "checkpoints").glob("ckpt-*.index"))
    assert found == [8, 10]
    listed = (run_copy / "checkpoints" / "checkpoint").read_text()
    assert "ckpt-10" in listed and "ckpt-4" not in listed


def test_a_batch_larger_than_the_data_or_the_memory_is_refused(data_root, tmp_path, capsys):
    arguments = ["--model-dir", str(tmp_path / "run")]
    for item in tiny_overrides(data_root, **{"schedule.batch_size": 100000}):
        arguments += ["--set", item]
    assert train_main(arguments) == 2
    assert "larger than the train split" in one_line_error(capsys.readouterr().err)
    with pytest.raises(ValueError, match="for the input batch alone"):
        load_experiment(None, ["schedule.batch_size=100000000"])


# ------------------------------------------------------------------ one error vocabulary

@pytest.mark.parametrize("main, arguments", [
    (export_main, ["--output", "x", "--format", "nope"]),
    (train_main, ["--model-dir", "x", "--steps", "many"]),
    (train_main, ["--model-dir", "x", "--eval-only", "--restart"]),
])
def test_bad_choices_are_one_line_usage_errors(main, arguments, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2
    assert "(see --help)" in one_line_error(capsys.readouterr().err)


def test_environment_errors_are_one_line_exit_1_never_please_report(tmp_path, monkeypatch,
                                                                    capsys):
    import errno

    import deeplab.export
    import tensorflow as tf

    arguments = ["--weights", "x.keras", "--output", str(tmp_path / "out")]
    for error in (tf.errors.ResourceExhaustedError(None, None, "No space left on device"),
                  tf.errors.PermissionDeniedError(None, None, "/run: Read-only file system"),
                  OSError(errno.ENOSPC, "No space left on device", "/out/variables"),
                  MemoryError()):
        def fail(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(deeplab.export, "export", fail, raising=False)
        assert export_main(arguments) == 1
        line = one_line_error(capsys.readouterr().err)
        assert "please report" not in line and "unexpected" not in line


def test_a_read_only_run_folder_is_one_line_exit_1(data_root, tmp_path, monkeypatch, capsys):
    from deeplab.training import run_lock

    def read_only(self):
        raise PermissionError(30, "Read-only file system", str(self.path))

    monkeypatch.setattr(run_lock.RunFolderLock, "acquire", read_only)
    arguments = ["--model-dir", str(tmp_path / "run")]
    for item in tiny_overrides(data_root):
        arguments += ["--set", item]
    assert train_main(arguments) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "Read-only file system" in line and "please report" not in line
