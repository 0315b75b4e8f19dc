"""Keeping native libraries' log lines out of the CLI's output unless the user asks for them.

TensorFlow (imported only to convert a network once), its CUDA probe, absl, oneDNN and LiteRT's
XNNPACK delegate write straight to file descriptor 2 from C++, past Python's ``sys.stderr`` and
past ``TF_CPP_MIN_LOG_LEVEL`` (absl prints before its own logging is set up). The only reliable
way to keep them out of a progress bar is to point descriptor 2 elsewhere while those libraries
run. ``native_stderr_captured`` does that for a block (the package's own log records still reach
the terminal); ``quiet_environment`` sets the variables that quieten what can be quietened before
TensorFlow is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

from deeplab.log import ROOT

#: Environment set before TensorFlow can be imported (existing values are kept).
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR",
                     "GLOG_minloglevel": "3"}


def quiet_environment() -> None:
    """Ask TensorFlow, gRPC and glog for errors only (the user's own settings win)."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class CapturedOutput:
    """What was written to descriptor 2 inside a ``native_stderr_captured`` block (set at the
    end of the block)."""

    text: str = ""


class Terminal:
    """A text stream to the stderr of the moment it was made: where the package's log records go
    while descriptor 2 is captured."""

    def __init__(self) -> None:
        try:
            sys.stderr.flush()
            self._fd: int | None = os.dup(2)
        except (OSError, ValueError, AttributeError):
            self._fd = None

    def fileno(self) -> int:
        if self._fd is None:
            raise OSError("no terminal descriptor")
        return self._fd

    def write(self, text: str) -> int:
        if self._fd is None:
            return sys.stderr.write(text)
        os.write(self._fd, text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class _OnStream(logging.Handler):
    """``handler`` with ``sys.stderr`` pointed at ``stream`` while it handles one of the package's
    records (other records, and everything else written to stderr, stay where they were)."""

    def __init__(self, handler: logging.Handler, stream) -> None:
        super().__init__(handler.level)
        self.handler, self.stream = handler, stream

    def handle(self, record: logging.LogRecord) -> bool:
        if record.name != ROOT and not record.name.startswith(ROOT + "."):
            return self.handler.handle(record)
        saved, sys.stderr = sys.stderr, self.stream
        try:
            return self.handler.handle(record)
        finally:
            sys.stderr = saved


@contextlib.contextmanager
def _package_log_on(stream) -> Iterator[None]:
    """Send the package's log records to ``stream`` for the block: through the handlers a CLI
    configured (:func:`deeplab.log.configure`), or Python's last-resort handler without one."""
    logger = logging.getLogger(ROOT)
    handlers, last_resort = list(logger.handlers), logging.lastResort
    logger.handlers[:] = [_OnStream(handler, stream) for handler in handlers]
    if last_resort is not None:
        logging.lastResort = _OnStream(last_resort, stream)
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logging.lastResort = last_resort


@contextlib.contextmanager
def native_stderr_captured(enabled: bool = True) -> Iterator[CapturedOutput]:
    """Redirect file descriptor 2 (C/C++ and Python stderr alike) to a temp file for the block.

    The captured text is available afterwards as ``.text`` (for ``--verbose`` or a bug report);
    the package's log records (e.g. "converting the network once...") still reach the terminal.
    ``enabled=False`` leaves stderr alone. If descriptor 2 cannot be duplicated (an unusual
    embedding), the block runs uncaptured.
    """
    captured = CapturedOutput()
    terminal = Terminal() if enabled else None
    if terminal is None or terminal._fd is None:
        yield captured
        return
    with tempfile.TemporaryFile(mode="w+b") as sink, _package_log_on(terminal):
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(terminal.fileno(), 2)
            terminal.close()
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "replace")
