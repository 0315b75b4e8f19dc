"""infer.py as a command: options checked before any work, quiet output, exit codes, Ctrl-C."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from deeplab.portrait.cli import StopRequest, main as infer_main
from deeplab.portrait.pipeline import PortraitOptions, PortraitRunner
from deeplab.portrait.quiet import native_stderr_captured

from conftest import PROJECT_ROOT
from portrait_fakes import BrightIsPerson, photo, save


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model",
                        lambda source, **options: BrightIsPerson())


@pytest.mark.parametrize("option, value, words", [
    ("--blur-radius", "1e7", "0..2000"), ("--blur-radius", "inf", "finite"),
    ("--blur-radius", "nan", "finite"), ("--blur-radius", "-1", "0..2000"),
    ("--input-size", "100000", "33..2049"), ("--input-size", "0", "33..2049"),
    ("--depth-falloff", "nan", "finite"), ("--video-input-size", "5", "33..2049"),
    ("--batch-size", "0", "1..64"), ("--jpeg-quality", "101", "1..100"),
    ("--crf", "99", "0..63"), ("--max-megapixels", "0", "0.1..1000"),
])
def test_bad_numbers_are_one_line_errors_with_exit_2(tmp_path, capsys, option, value, words):
    image = save(tmp_path / "p.png", photo())
    code = infer_main([str(image), "--output", str(tmp_path / "out"), option, value])
    err = capsys.readouterr().err
    assert code == 2 and option in err and words in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_background_that_is_a_fifo_is_refused_without_waiting(tmp_path, capsys):
    fifo = tmp_path / "bg.png"
    os.mkfifo(fifo)
    image = save(tmp_path / "p.png", photo())
    code = infer_main([str(image), "--output", str(tmp_path / "o"), "--mode", "replace",
                       "--background", str(fifo)])
    assert code == 2 and "not a regular file" in capsys.readouterr().err


def test_help_answers_without_importing_tensorflow():
    script = ("import sys, runpy; sys.argv = ['infer.py', '--help']\n"
              "try: runpy.run_path('infer.py', run_name='__main__')\n"
              "except SystemExit: pass\n"
              "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip().endswith("False") and "--if-empty" in done.stdout
    assert "--jpeg-quality Q" in done.stdout and "quality of JPEG outputs" in done.stdout


def test_native_log_lines_are_captured_not_shown(capfd):
    with native_stderr_captured() as captured:
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert "XNNPACK" not in capfd.readouterr().err and "XNNPACK" in captured.text
    with native_stderr_captured(enabled=False):
        os.write(2, b"shown\n")
    assert "shown" in capfd.readouterr().err


@pytest.mark.parametrize("flags, converting, noise", [
    ([], True, False), (["--quiet"], False, False), (["--verbose"], True, True)])
def test_loader_messages_show_while_native_output_is_captured(tmp_path, capfd, monkeypatch,
                                                              flags, converting, noise):
    def load(source, **options):  # what the LiteRT loader does on a cache miss
        logging.getLogger("deeplab.portrait.litert").info("converting %s (once)", source)
        os.write(2, b"I0000 cpu_feature_guard.cc] native noise\n")
        return BrightIsPerson()

    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model", load)
    # sys.stderr on descriptor 2, as outside pytest (capfd's own bypasses it)
    monkeypatch.setattr(sys, "stderr", open(2, "w", buffering=1, closefd=False))
    save(tmp_path / "in" / "a.png", photo())
    code = infer_main([str(tmp_path / "in"), "--output", str(tmp_path / "out"), *flags])
    err = capfd.readouterr().err
    assert code == 0 and "1 written" in err
    assert err.count("converting person (once)") == int(converting)
    assert ("native noise" in err) == noise


def test_a_run_prints_only_its_summary_and_each_error_once(tmp_path, capfd):
    folder = tmp_path / "in"
    save(folder / "good.png", photo())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    code = infer_main([str(folder), "--output", str(tmp_path / "out"), "--quiet"])
    err = capfd.readouterr().err
    assert code == 1 and sum("broken.jpg" in line for line in err.splitlines()) == 1
    assert err.startswith("portrait: 1 written, 0 skipped, 1 failed")


def test_unloadable_weights_stop_the_run_with_one_message(tmp_path, capfd, monkeypatch):
    def offline(source, **options):
        raise ValueError("cannot reach the download server: this machine looks offline")

    monkeypatch.setattr("deeplab.portrait.pipeline.load_probability_model", offline)
    folder = tmp_path / "in"
    for name in ("a.png", "b.png", "c.png"):
        save(folder / name, photo())
    code = infer_main([str(folder), "--output", str(tmp_path / "out"), "--quiet"])
    err = capfd.readouterr().err
    assert code == 2 and err.count("offline") == 1


def test_stop_request_finishes_the_current_file_then_reports_and_exits_130(tmp_path):
    folder = tmp_path / "in"
    for i in range(3):
        save(folder / f"{i}.png", photo())
    asked = iter([False, True, True])
    runner = PortraitRunner(PortraitOptions(output_dir=tmp_path / "out", batch_size=1),
                            model=BrightIsPerson(), progress=False,
                            should_stop=lambda: next(asked))
    summary = runner.run([folder])
    assert len(summary.written) == 1 and summary.exit_code == 130
    assert "interrupted, 2 not started" in summary.report()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_second_ctrl_c_interrupts_at_once():
    stop = StopRequest()
    stop()
    assert stop.requested
    with pytest.raises(KeyboardInterrupt):
        stop()


def test_ctrl_c_in_a_real_run_finishes_the_file_prints_the_summary_and_exits_130(tmp_path):
    import signal
    import time

    photos, mattes, out = tmp_path / "in", tmp_path / "mattes", tmp_path / "out"
    for i in range(40):
        save(photos / f"{i:02d}.png", photo(300, 400))
        save(mattes / f"{i:02d}.png", (photo(300, 400)[..., 0] > 100).astype("uint8") * 255)
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "infer.py"), str(photos), "--matte", str(mattes),
         "--output", str(out), "--quiet", "--batch-size", "1"],
        stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(out.glob("*.png"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err and "not started" in err and "Traceback" not in err
    written = sorted(p.name for p in out.iterdir())
    assert 1 <= len(written) < 40 and not [n for n in written if n.startswith(".")]
