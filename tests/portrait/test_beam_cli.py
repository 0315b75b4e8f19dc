"""deeplab-infer-beam: Beam stays out of the default install and of every --help; Beam's own
options pass through, anything else is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deeplab.portrait.beam import cli as beam_cli

from conftest import PROJECT_ROOT

#: Runs a command's --help with Beam made unimportable: it must answer all the same.
WITHOUT_BEAM = """
import runpy, sys
sys.modules["apache_beam"] = None  # any import of Beam now raises ImportError
import deeplab, deeplab.cli, deeplab.portrait.cli, deeplab.portrait.pipeline
target, sys.argv = sys.argv[1], [sys.argv[1], "--help"]
try:
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__")
except SystemExit as done:
    assert not done.code, done.code
"""


@pytest.mark.parametrize("command", ["infer.py", "train.py", "export.py",
                                     "deeplab.portrait.beam.cli"])
def test_help_answers_without_beam(command):
    result = subprocess.run([sys.executable, "-c", WITHOUT_BEAM, command], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_without_the_extra_the_job_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    monkeypatch.delitem(sys.modules, "apache_beam.options.pipeline_options", raising=False)
    code = beam_cli.main(["--input", str(tmp_path), "--output", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith('pip install -e ".[beam]"')


@pytest.mark.parametrize("args, message", [
    (["--output", "o"], "one of the arguments --input --input-list --evaluate is required"),
    (["--input", "a", "--evaluate", "b", "--output", "o"], "not allowed with argument"),
    (["--input", "a", "--output", "o", "--blur-radius", "-1"], "--blur-radius must be in"),
    (["--input", "a", "--output", "o", "--mode", "replace"], "needs --background"),
])
def test_bad_arguments_are_one_line_errors(args, message, capsys):
    assert beam_cli.main(args) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_beam_options_pass_through_and_unknown_ones_are_refused(tmp_path, capsys):
    pytest.importorskip("apache_beam")
    parser = beam_cli.build_parser()
    options = beam_cli.beam_options(parser, ["--runner", "DirectRunner", "--direct_num_workers",
                                             "2", "--direct_running_mode", "multi_processing"],
                                    verbose=False)
    everything = options.get_all_options()
    assert everything["runner"] == "DirectRunner" and everything["direct_num_workers"] == 2
    assert everything["direct_running_mode"] == "multi_processing"
    assert everything["default_sdk_harness_log_level"] == "ERROR"
    code = beam_cli.main(["--input", str(tmp_path), "--output", str(tmp_path / "o"),
                          "--overwrite"])
    assert code == 2
    assert "unknown option(s): --overwrite" in capsys.readouterr().err


def test_missing_input_and_list_file_are_one_line_errors(tmp_path, capsys):
    pytest.importorskip("apache_beam")
    for args in (["--input", str(tmp_path / "nothing*.jpg")],
                 ["--input-list", str(tmp_path / "missing.txt")]):
        assert beam_cli.main([*args, "--output", str(tmp_path / "o")]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("deeplab-infer-beam: error:") and len(error.splitlines()) == 1
