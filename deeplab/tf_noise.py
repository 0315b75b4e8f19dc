"""Keep TensorFlow's start-up chatter (absl, oneDNN, CUDA, CPU-feature notes) off the terminal.

TensorFlow 2.21 writes its C++ info lines through absl before any log level applies, so
``TF_CPP_MIN_LOG_LEVEL`` alone no longer silences them. :func:`quiet_tensorflow` therefore
(1) sets the usual environment variables, (2) points file descriptor 2, where C++ writes, at a
pipe read by a small filter process that drops the known noise and passes every other line on
(errors stay visible, even a fatal one written just before the program aborts: the filter
outlives it), while Python's ``sys.stderr`` keeps the real terminal (progress bars and
tracebacks are not delayed), and (3) lowers TensorFlow's and absl's Python loggers to errors.
Standard library only; it must run before anything imports TensorFlow.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import subprocess
import sys

#: C++ log lines worth hiding: absl info lines ("I0000 00:00:..."), and the known warnings.
NOISE = re.compile(
    r"^(I\d{4} \d\d:\d\d:\d\d"
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|W\d{4} .*(cuda|cudart|TensorRT|TF-TRT|cpu_feature_guard|computation_placer)"
    r"|E\d{4} .*(cuda_dnn|cuda_fft|cuda_blas|cuInit|Unable to register cu|failed call to cuInit"
    r"|oneDNN supports DT_UINT8 only on platforms with AVX-512)"
    r"|fully_quantize: \d+, inference_type: "
    r"|INFO: (Created|Initialized) TensorFlow Lite"
    r"|To enable the following instructions: .*rebuild TensorFlow"
    r"|.*rebuild TensorFlow with the appropriate compiler flags)")

_installed = False

#: The filter process: copies stdin to stdout line by line, minus lines matching argv[1]. It
#: ignores Ctrl-C and SIGTERM (meant for the program) and ends when the program's fd 2 closes.
FILTER_PROGRAM = r"""
import os, re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
noise = re.compile(sys.argv[1])
pending = b""
while chunk := os.read(0, 65536):
    pending += chunk
    *lines, pending = pending.split(b"\n")
    for line in lines:
        if not noise.match(line.decode("utf-8", "replace")):
            os.write(1, line + b"\n")
if pending and not noise.match(pending.decode("utf-8", "replace")):
    os.write(1, pending)
"""


def _filter_native_stderr() -> None:
    """Route fd 2 through the filter process; Python's own stderr stays on the terminal."""
    sys.stderr.flush()
    terminal_fd = os.dup(2)
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen([sys.executable, "-I", "-S", "-c", FILTER_PROGRAM,
                                    NOISE.pattern], stdin=read_fd, stdout=terminal_fd,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        for fd in (terminal_fd, read_fd, write_fd):
            os.close(fd)
        raise
    os.close(read_fd)
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(terminal_fd), "wb", buffering=0),
                                  encoding=sys.stderr.encoding or "utf-8",
                                  errors="backslashreplace", line_buffering=True,
                                  write_through=True)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def restore() -> None:
        os.dup2(terminal_fd, 2)  # closes the pipe's last write end: the filter sees EOF
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()

    atexit.register(restore)


def quiet_python_loggers() -> None:
    """TensorFlow's and absl's Python loggers to errors only (imports TensorFlow)."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's start-up and info output unless ``verbose`` (idempotent)."""
    global _installed
    if verbose or _installed:
        return
    _installed = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("KMP_WARNINGS", "0")
    try:
        _filter_native_stderr()
    except OSError:  # no usable stderr descriptor (e.g. closed): nothing to filter
        pass
