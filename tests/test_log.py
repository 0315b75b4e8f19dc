"""The package's output: one logger per module under ``deeplab``, set by the CLIs' flags."""

from __future__ import annotations

import logging

import pytest

from deeplab import log, progress

# conftest's autouse fixture undoes each test's log.configure().


@pytest.mark.parametrize("quiet, verbose, shown", [
    (False, False, ["info", "warning"]),
    (True, False, ["warning"]),
    (False, True, ["debug", "info", "warning"]),
])
def test_flags_choose_what_reaches_stderr(quiet, verbose, shown, capsys):
    log.configure(quiet=quiet, verbose=verbose)
    logger = logging.getLogger("deeplab.some.module")
    logger.debug("debug")
    logger.info("info")
    logger.warning("warning")
    captured = capsys.readouterr()
    assert captured.err.splitlines() == shown and captured.out == ""


def test_configuring_twice_prints_each_message_once(capsys):
    log.configure()
    log.configure()
    logging.getLogger("deeplab.x").info("once")
    assert capsys.readouterr().err == "once\n"


def test_quiet_turns_every_progress_bar_off():
    log.configure(quiet=True)
    bar = progress.progress_bar([1, 2], desc="x")
    assert list(bar) == [1, 2] and type(bar).__name__ == "_NoProgress"
    log.configure()
    with progress.progress_bar(total=2, desc="x", disable=True) as shown:
        assert type(shown).__name__ == "tqdm"


def test_output_flags_parse_as_quiet_and_verbose():
    import argparse

    parser = argparse.ArgumentParser()
    log.add_output_flags(parser)
    assert vars(parser.parse_args(["--quiet"])) == {"quiet": True, "verbose": False}
    assert vars(parser.parse_args(["--verbose"])) == {"quiet": False, "verbose": True}
