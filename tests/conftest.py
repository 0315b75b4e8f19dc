"""Shared pytest fixtures: the read-only ../shared folder and small generated images."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("DEEPLAB_SHARED_DIR", PROJECT_ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the calling test with the reason when it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the project's ../shared folder), which is absent")
    return path


@pytest.fixture
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]):
        super().__init__(logging.INFO)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def logged() -> list[str]:
    """The messages the package logs (INFO and above) during the test, in order; collected on the
    ``deeplab`` logger itself, so a CLI's ``deeplab.log.configure`` does not hide them."""
    messages: list[str] = []
    logger = logging.getLogger("deeplab")
    handler, level = _Collect(messages), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def _package_output_restored():
    """A CLI called in-process configures the package's logging and progress bars for the whole
    process (``deeplab.log.configure``); put them back so no test sees another's flags."""
    from deeplab import progress

    logger = logging.getLogger("deeplab")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    shown = progress._shown
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate
    progress.show_bars(shown)
