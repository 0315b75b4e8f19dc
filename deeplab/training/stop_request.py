"""A graceful stop for training: Ctrl-C or SIGTERM finish the current step, then save.

While :class:`StopRequest` is active the first SIGINT/SIGTERM only sets :attr:`requested`; the
loop checks it after each step, saves a checkpoint and returns normally, so the run can resume
from exactly there. A second Ctrl-C raises ``KeyboardInterrupt`` at once (nothing half-written is
published: checkpoints are written under temporary names first).
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


class StopRequest:
    """Context manager that turns the first SIGINT/SIGTERM into a flag (main thread only);
    ``announce`` logs that the run is stopping (the chief worker's job)."""

    def __init__(self, announce: bool = True):
        self.announce = announce
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        if self.announce:
            log.warning(f"{name}: stopping after this step and saving a checkpoint "
                        f"(Ctrl-C again to stop at once)")

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
