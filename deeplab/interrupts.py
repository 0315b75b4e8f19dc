"""Signals as Python exceptions, so ``finally`` blocks (temporary files) run on every exit path.

Python turns Ctrl-C (SIGINT) into ``KeyboardInterrupt``, but SIGTERM (``kill``, a job scheduler
stopping a job) ends the process at once, leaving temporary exports behind.
:func:`sigterm_raises` makes SIGTERM raise :class:`Terminated` instead. Standard library only.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: Conventional exit statuses: 128 + the signal number.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """The process received SIGTERM (a ``BaseException``, so ``except Exception`` lets it by)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(f"received signal {signum}")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; a no-op in other
    threads, where Python cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
